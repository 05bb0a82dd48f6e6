"""The controller: runs a search inside its budget, on its workers and devices.

* :mod:`~skautodl.controller.loop`: the search loop (:func:`run_search`),
  the :class:`Budget` and the :class:`Controller` an estimator uses;
* :mod:`~skautodl.controller.executors`: where trials run (this process,
  local worker processes, a Dask cluster);
* :mod:`~skautodl.controller.checkpoint`: the saved search state and resume;
* :mod:`~skautodl.controller.progress`: the progress bar and log lines.
"""

from skautodl.controller.checkpoint import (
    CHECKPOINT_FILE,
    CHECKPOINT_FORMAT,
    Checkpoint,
    fingerprint,
    open_checkpoint,
)
from skautodl.controller.loop import (
    BUDGET_GRACE_SECONDS,
    Budget,
    Controller,
    SearchOutcome,
    run_search,
)
from skautodl.exceptions import CheckpointError

__all__ = [
    "BUDGET_GRACE_SECONDS",
    "CHECKPOINT_FILE",
    "CHECKPOINT_FORMAT",
    "Budget",
    "Checkpoint",
    "CheckpointError",
    "Controller",
    "SearchOutcome",
    "fingerprint",
    "open_checkpoint",
    "run_search",
]
