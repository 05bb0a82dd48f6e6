"""skorch callbacks used by every trial: time limit and divergence guard."""

from __future__ import annotations

import math
import time

from skorch.callbacks import Callback

from skautodl.exceptions import TrialDiverged


class TimeLimit(Callback):
    """Stop training between batches once ``deadline`` (``time.monotonic``) passes.

    It stops the loop the way skorch's own ``EarlyStopping`` does (by raising
    ``KeyboardInterrupt``, which skorch catches), so ``on_train_end`` still
    runs and the best weights are restored. ``stopped_`` tells whether it fired.

    Parameters
    ----------
    deadline : float or None
        A ``time.monotonic()`` value; None disables the limit.
    """

    def __init__(self, deadline=None):
        self.deadline = deadline

    def initialize(self):
        self.stopped_ = False
        return self

    def on_batch_end(self, net, **kwargs):
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.stopped_ = True
            raise KeyboardInterrupt


class DivergenceGuard(Callback):
    """Fail the trial as soon as a training loss is NaN or infinite.

    Raises :class:`skautodl.exceptions.TrialDiverged`, which the trial turns
    into a failed result, so a diverging configuration costs at most one
    batch instead of a whole training run.
    """

    def on_batch_end(self, net, batch=None, training=False, loss=None, **kwargs):
        if not training or loss is None:
            return
        value = float(loss.item()) if hasattr(loss, "item") else float(loss)
        if not math.isfinite(value):
            epoch = len(net.history)
            raise TrialDiverged(
                f"training loss became {value} in epoch {epoch}; the configuration "
                "diverged (learning rate too high?)"
            )
