"""Warnings and errors raised by skautodl.

``NotFittedError`` stays scikit-learn's own
(:class:`sklearn.exceptions.NotFittedError`), so ``except NotFittedError``
works the same for every estimator.
"""

from __future__ import annotations


class SkautodlError(Exception):
    """Base class of the errors raised by skautodl itself."""


class AllTrialsFailedError(SkautodlError, RuntimeError):
    """Raised by ``fit`` when no trial of the search produced a model."""


class ModelFileError(SkautodlError, ValueError):
    """A model file cannot be saved or loaded safely.

    Raised for a file that is not a skautodl file, is truncated or modified,
    has a newer format version, or names an untrusted type (see
    :mod:`skautodl.persistence`).
    """


class TrialFailedWarning(UserWarning):
    """A trial raised, diverged or ran out of memory; the search went on."""


class BudgetWarning(UserWarning):
    """The time budget was too short for what was asked (e.g. the refit)."""


class TrialDiverged(SkautodlError, FloatingPointError):
    """The training loss of a trial became NaN or infinite."""


class SearchInterruptedWarning(UserWarning):
    """``fit`` was interrupted (Ctrl-C); the best model so far was kept."""


class CheckpointError(SkautodlError, ValueError):
    """A checkpoint cannot be used: corrupted, truncated, or from another search."""


class CheckpointWarning(UserWarning):
    """Saving the checkpoint failed (e.g. a full disk); the search went on in memory.

    The last checkpoint saved stays valid; saving is retried after every trial.
    """


class RefitError(SkautodlError, RuntimeError):
    """The refit on all data failed and no trial model could replace it."""


class RefitFailedWarning(UserWarning):
    """The refit on all data failed; the best trial's own model was kept."""


class WorkerCountWarning(UserWarning):
    """``n_jobs`` asked for more parallel trials than there are cores; capped."""
