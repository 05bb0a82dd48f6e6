"""One trial: train a config on every split and score it.

:func:`run_trial` is a pure function of its inputs and seed. A failure
(an exception, a diverged loss, running out of memory) becomes a
:class:`TrialResult` with ``status="failed"`` and the error message; it never
propagates, so one bad configuration cannot end a search.
"""

from __future__ import annotations

import gc
import logging
import time
import traceback
from dataclasses import dataclass, field

import numpy as np
import torch

from skautodl.training.net import build_net, standardized_valid_dataset

logger = logging.getLogger("skautodl")


@dataclass(frozen=True)
class TrialResult:
    """What a trial produced.

    Attributes
    ----------
    config : dict
        The trial config (skorch keys plus ``family``).
    status : {"ok", "failed"}
    score : float
        Mean validation score over splits (``nan`` when failed).
    split_scores : list of float
    epochs : int
        Epochs a refit should train: the mean best epoch over splits.
    epochs_run : int
        Epochs actually run, summed over splits.
    fit_time, score_time : float
        Seconds, summed over splits.
    error : str or None
        The error message of a failed trial.
    stopped_by_budget : bool
        Whether the time limit cut training short.
    nets : list
        The fitted skorch nets, one per split (dropped once not needed).
    valid_predictions : list of ndarray
        Validation predictions per split (probabilities for classifiers).
    peak_memory_mb : float
        Peak resident memory of the process during the trial (Linux only).
    """

    config: dict
    status: str
    score: float
    split_scores: list = field(default_factory=list)
    epochs: int = 0
    epochs_run: int = 0
    fit_time: float = 0.0
    score_time: float = 0.0
    error: str | None = None
    stopped_by_budget: bool = False
    nets: list = field(default_factory=list, repr=False, compare=False)
    valid_predictions: list = field(default_factory=list, repr=False, compare=False)
    peak_memory_mb: float = float("nan")
    seed: int = 0

    @property
    def ok(self):
        return self.status == "ok" and np.isfinite(self.score)

    def without_models(self):
        """A copy without nets and predictions (to keep memory flat)."""
        from dataclasses import replace

        return replace(self, nets=[], valid_predictions=[])


def _peak_rss_mb():
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    except Exception:  # pragma: no cover - non-Unix
        return float("nan")


def _best_epoch(net):
    """1-based epoch with the best validation loss, or the epochs run."""
    history = net.history
    if not len(history):
        return 0
    try:
        flags = history[:, "valid_loss_best"]
    except KeyError:
        return len(history)
    best = [i + 1 for i, f in enumerate(flags) if f]
    return best[-1] if best else len(history)


def run_trial(config, splits, task, *, scorer, classes=None, device="cpu", seed=0,
              deadline=None, verbose=0) -> TrialResult:
    """Train ``config`` on each split and score it on the validation part.

    Parameters
    ----------
    config : dict
        Trial config.
    splits : list of SplitData
        Cached featurized splits.
    task : TaskInfo
    scorer : callable
        ``scorer(net, X_valid, y_valid) -> float`` (higher is better).
    classes : array-like, optional
        User's labels (classifier).
    device : str
    seed : int
        Seeds torch before each split's training.
    deadline : float, optional
        ``time.monotonic()`` after which training stops between batches.
    verbose : int
    """
    scores, nets, preds, epochs = [], [], [], []
    fit_time = score_time = 0.0
    epochs_run = 0
    stopped = False
    try:
        for split in splits:
            split_task = type(task)(kind=task.kind, n_outputs=task.n_outputs,
                                    input_kind=task.input_kind,
                                    n_samples=len(split.X_train))
            valid = standardized_valid_dataset(
                _net_class(task), split.X_valid, split.y_valid_fit, split.y_train
            )
            net = build_net(config, split_task, split.X_train.shape[1], classes=classes,
                            device=device, valid=valid, deadline=deadline,
                            verbose=verbose)
            torch.manual_seed(seed)
            t0 = time.perf_counter()
            net.fit(split.X_train, split.y_train)
            fit_time += time.perf_counter() - t0
            stopped = stopped or net.callbacks_[
                [n for n, _ in net.callbacks_].index("time_limit")][1].stopped_
            epochs_run += len(net.history)
            epochs.append(_best_epoch(net))
            t0 = time.perf_counter()
            score = float(scorer(net, split.X_valid, split.y_valid))
            if task.is_classification:
                preds.append(net.predict_proba(split.X_valid))
            else:
                preds.append(net.predict(split.X_valid))
            score_time += time.perf_counter() - t0
            if not np.isfinite(score):
                raise FloatingPointError(f"validation score is {score}")
            scores.append(score)
            nets.append(net)
    except (Exception, MemoryError) as exc:  # noqa: BLE001 - a trial never kills a search
        if isinstance(exc, torch.cuda.OutOfMemoryError) or isinstance(exc, MemoryError):
            nets.clear()
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        message = f"{type(exc).__name__}: {exc}"
        logger.debug("trial failed: %s\n%s", message, traceback.format_exc())
        return TrialResult(
            config=dict(config), status="failed", score=float("nan"),
            split_scores=scores, epochs=0, epochs_run=epochs_run, fit_time=fit_time,
            score_time=score_time, error=message, stopped_by_budget=stopped,
            peak_memory_mb=_peak_rss_mb(), seed=seed,
        )
    return TrialResult(
        config=dict(config), status="ok", score=float(np.mean(scores)),
        split_scores=scores, epochs=max(1, int(round(np.mean(epochs)))),
        epochs_run=epochs_run, fit_time=fit_time, score_time=score_time,
        stopped_by_budget=stopped, nets=nets, valid_predictions=preds,
        peak_memory_mb=_peak_rss_mb(), seed=seed,
    )


def _net_class(task):
    from skautodl.training.net import AutoNetClassifier, AutoNetRegressor

    return AutoNetClassifier if task.is_classification else AutoNetRegressor

