"""Version shims for scikit-learn, torch and scikit-optimize, all in one place."""

from __future__ import annotations

import numpy as np


def to_python(value):
    """Turn numpy scalars (as skopt returns them) into plain Python values.

    Trial configs travel into ``cv_results_``, checkpoints and ``set_params``,
    so they must hold plain ``int`` / ``float`` / ``str`` values.
    """
    if isinstance(value, np.generic):
        return value.item()
    return value
