"""One trial: train a config on every split and score it.

:func:`run_trial` is a pure function of its inputs and seed: it changes
none of them (nor the caller's global torch random state). A failure (an
exception, a diverged loss, running out of memory) becomes a
:class:`TrialResult` with ``status="failed"`` and the error message; it
never propagates, so one bad configuration cannot end a search.

A trial can continue from the nets of an earlier one (``warm_nets``): the
multi-fidelity scheduler promotes a configuration to more epochs without
starting over. It trains a copy of those nets, on their device, so the
earlier trial's models stay as they were. ``segments`` records how many
epochs each stretch of training kept, so the final refit replays the same
schedule on all the data (:func:`train_segment` is the one piece of code
that trains a stretch, for both).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import math
import os
import socket
import time
import traceback
import uuid
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from skautodl.networks.registry import get_family, is_tree_config
from skautodl.search.fidelity import config_epochs
from skautodl.search.searchers.base import is_failed
from skautodl.training.device_data import release_cuda_memory
from skautodl.training.net import (
    AutoNetClassifier,
    AutoNetMultilabel,
    AutoNetRegressor,
    build_net,
    copy_net,
    drop_inference_copy,
    float32_inference,
    restart_lr,
    reuse_outputs,
    set_cycle_length,
    standardized_valid_dataset,
)
from skautodl.utils._malloc import training_allocator
from skautodl.utils._seeding import torch_seeded

logger = logging.getLogger("skautodl")


@dataclass(frozen=True)
class TrialResult:
    """What a trial produced.

    Its fields are also its attributes.

    Parameters
    ----------
    config : dict
        The trial config (skorch keys plus ``family``).
    status : {"ok", "failed"}
        Whether the trial produced a model.
    score : float
        Mean validation score over splits (``nan`` when failed).
    split_scores : list of float
        The validation score of each split.
    epochs : int
        Total epochs a refit should train (sum of ``segments``' kept epochs).
    epochs_run : int
        Epochs actually run in this trial, summed over splits.
    fit_time, score_time : float
        Seconds, summed over splits.
    error : str or None
        The error message of a failed trial.
    stopped_by_budget : bool
        Whether the time limit cut training short.
    pruned : bool
        Whether the fidelity scheduler's pruning stopped it early.
    nets : list
        The fitted skorch nets, one per split (dropped once not needed).
    valid_predictions : list of ndarray
        Validation predictions per split (probabilities for classifiers).
    peak_memory_mb : float
        Peak resident memory of the worker process (Linux: ru_maxrss).
    seed : int
        The seed torch was given for its training.
    segments : list of (int, int) or (int, int, float)
        ``(epochs kept, schedule length)`` per stretch of training, oldest
        first; a trial resumed from another extends its segments. A
        stretch trained on a subsample (data-size fidelity) has a third
        item, the share of the training rows it used.
    curve : list of float
        Validation loss per epoch (first split), over the whole history.
    trial_id : int
        Position in the search, set by the controller.
    rung : int
        Multi-fidelity rung (0 without fidelity).
    parent_id : int or None
        Trial whose weights this trial continued.
    worker : str
        ``host:pid`` of the process that ran it.
    device : str
        The device its nets trained on (a promotion continues there).
    origin : str
        Where its config came from: ``"portfolio"``, ``"searcher"`` or
        ``"promotion"`` (set by the controller).
    rows : int
        Training rows of its last stretch (first split): fewer than the
        split's on a data-size fidelity rung.
    valid_seconds : float
        Seconds of one validation pass of its nets (the last one, mean over
        splits): the part of an epoch's cost that does not grow with the
        training rows.
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
    pruned: bool = False
    nets: list = field(default_factory=list, repr=False, compare=False)
    valid_predictions: list = field(default_factory=list, repr=False, compare=False)
    peak_memory_mb: float = float("nan")
    seed: int = 0
    segments: list = field(default_factory=list)
    curve: list = field(default_factory=list, repr=False)
    trial_id: int = -1
    rung: int = 0
    parent_id: int | None = None
    worker: str = ""
    device: str = "cpu"
    origin: str = ""
    rows: int = 0
    valid_seconds: float = 0.0

    @property
    def ok(self):
        """Whether the trial produced a model with a finite score."""
        return self.status == "ok" and not is_failed(self.score)

    def without_models(self):
        """Return a copy without nets and predictions (to keep memory flat).

        Returns
        -------
        TrialResult
            The copy; this result keeps its models.
        """
        return replace(self, nets=[], valid_predictions=[])

    def to_record(self):
        """Return the result as JSON-friendly data (no models), for checkpoints.

        Returns
        -------
        dict
            The fields but ``nets`` and ``valid_predictions``; a ``nan``
            score becomes None.

        See Also
        --------
        from_record : The inverse.
        """
        return {
            "config": self.config, "status": self.status,
            "score": None if is_failed(self.score) else float(self.score),
            "split_scores": [float(s) for s in self.split_scores],
            "epochs": int(self.epochs), "epochs_run": int(self.epochs_run),
            "fit_time": float(self.fit_time), "score_time": float(self.score_time),
            "error": self.error, "stopped_by_budget": bool(self.stopped_by_budget),
            "pruned": bool(self.pruned), "peak_memory_mb": float(self.peak_memory_mb),
            "seed": int(self.seed), "segments": [list(s) for s in self.segments],
            "curve": [float(c) for c in self.curve], "trial_id": int(self.trial_id),
            "rung": int(self.rung), "parent_id": self.parent_id,
            "worker": self.worker, "device": self.device, "origin": self.origin,
            "rows": int(self.rows), "valid_seconds": float(self.valid_seconds),
        }

    @classmethod
    def from_record(cls, record):
        """Rebuild a result from :meth:`to_record`'s data.

        Parameters
        ----------
        record : dict
            What :meth:`to_record` returned (not changed).

        Returns
        -------
        TrialResult
            The result, without models.
        """
        record = dict(record)
        record["score"] = float("nan") if record["score"] is None else record["score"]
        record["segments"] = [tuple(s) for s in record["segments"]]
        return cls(**record)


def _peak_rss_mb():
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    except Exception:  # pragma: no cover - non-Unix
        return float("nan")


def worker_id():
    """Name the process that runs a trial.

    Returns
    -------
    str
        ``"<host name>:<process id>"``.
    """
    return f"{socket.gethostname()}:{os.getpid()}"


def _callback(net, name):
    return dict(net.callbacks_)[name]


def _kept_epochs(net, start):
    """Epochs of this stretch of training whose weights the net holds now."""
    run = len(net.history) - start
    es = dict(net.callbacks_).get("early_stopping")
    best = getattr(es, "best_epoch_", None) if es is not None else None
    if best and best > start:
        return min(run, int(best) - start)
    return run


def failed_trial(exc, config, *, seed, device, prior_segments=(), **progress):
    """Build the failed :class:`TrialResult` of a trial that raised ``exc``.

    Call it in the ``except`` block: the message is ``"<type>: <exc>"``,
    logged at debug level with the traceback being handled. ``progress``
    holds what the trial measured before it failed (``split_scores``,
    ``epochs_run``, ``fit_time``, ``score_time``, ``stopped_by_budget``,
    ``pruned``, ``curve``); the score is ``nan``, ``epochs`` 0, no models,
    and the segments are ``prior_segments``. Shared by the networks'
    :func:`run_trial` and the trees' ``run_tree_trial``.

    Parameters
    ----------
    exc : BaseException
        What the trial raised.
    config : dict
        The trial config.
    seed : int
        The trial's seed.
    device : str
        Where it trained.
    prior_segments : sequence, default=()
        The segments of the trial it continued.
    **progress
        What it measured before failing (see above).

    Returns
    -------
    TrialResult
        With ``status="failed"``.
    """
    message = f"{type(exc).__name__}: {exc}"
    logger.debug("trial failed: %s\n%s", message, traceback.format_exc())
    return TrialResult(
        config=dict(config), status="failed", score=float("nan"), epochs=0,
        error=message, peak_memory_mb=_peak_rss_mb(), seed=seed,
        segments=list(prior_segments), worker=worker_id(), device=str(device),
        **progress,
    )


def _net_class(task):
    if task.is_multilabel:
        return AutoNetMultilabel
    return AutoNetClassifier if task.is_classification else AutoNetRegressor


def train_segment(net, X, y, *, epochs, cycle_length, seed):
    """Train one stretch of a config's schedule, for trials and refits alike.

    A net that has not been trained yet is ``fit`` (its ``max_epochs`` and
    schedule length come from :func:`~skautodl.training.net.build_net`); a
    trained one continues with ``partial_fit`` for ``epochs`` more epochs,
    one new learning-rate cycle of ``cycle_length`` epochs starting from the
    config's ``lr`` (a warm restart). torch is seeded with ``seed`` inside,
    and the caller's random state is left as it was.

    Parameters
    ----------
    net : skorch.NeuralNet
        A net built by :func:`~skautodl.training.net.build_net`, trained or
        not.
    X : array-like
        Featurized training rows.
    y : array-like
        Their targets, as the net trains on them.
    epochs : int
        Epochs of a continued training (a new net trains its
        ``max_epochs``).
    cycle_length : int
        Epochs of the new learning-rate cycle of a continued training.
    seed : int
        Seeds torch for this stretch.

    Returns
    -------
    skorch.NeuralNet
        The trained net itself.
    """
    continued = bool(getattr(net, "initialized_", False)) and len(net.history) > 0
    with torch_seeded(seed, net.device):
        if not continued:
            return net.fit(X, y)
        net.set_params(max_epochs=int(epochs))
        set_cycle_length(net, cycle_length)
        restart_lr(net)
        return net.partial_fit(X, y)


def subsample_rows(n_rows, fraction):
    """Count the rows a stretch on ``fraction`` of the training rows uses.

    Parameters
    ----------
    n_rows : int
        Training rows of the split.
    fraction : float or None
        The share to use; None or 1 and above: all of them.

    Returns
    -------
    int
        ``ceil(fraction * n_rows)``, at least 1 and at most ``n_rows``.

    Examples
    --------
    >>> from skautodl.training.trial import subsample_rows
    >>> subsample_rows(1000, 1 / 3), subsample_rows(1000, None)
    (334, 1000)
    """
    if fraction is None or fraction >= 1.0:
        return int(n_rows)
    return int(min(n_rows, max(1, math.ceil(fraction * n_rows))))


def fold_deadline(deadline, index, n_splits, now=None):
    """Return the deadline of split ``index`` of ``n_splits``: an equal share.

    Split ``index`` may use ``1 / (n_splits - index)`` of the time left
    before ``deadline``, so time a fold leaves unused goes to the folds
    after it and the last fold gets whatever remains.

    Parameters
    ----------
    deadline : float or None
        The trial's deadline (``time.time()``); None stays None.
    index : int
        The split, from 0.
    n_splits : int
        The number of splits.
    now : float or None, default=None
        The current time; None reads the clock.

    Returns
    -------
    float or None
        The split's deadline.

    Examples
    --------
    >>> from skautodl.training.trial import fold_deadline
    >>> fold_deadline(100.0, 0, 5, now=0.0), fold_deadline(100.0, 4, 5, now=80.0)
    (20.0, 100.0)
    """
    if deadline is None:
        return None
    now = time.time() if now is None else now
    return now + max(0.0, deadline - now) / (n_splits - index)


#: validation rows above which a trial watches a sample of them per epoch
MONITOR_ROWS = 20_000


def monitor_rows(n_valid, limit=None):
    """The validation rows a trial's nets are validated on after each epoch.

    After every epoch skorch computes the validation loss, which drives
    early stopping, the pruning thresholds and the loss curve. On large data
    that pass over the whole validation split cost more than the epoch
    itself on a small rung (80,000 validation rows against 11,852 training
    rows at 400,000 rows): above ``limit`` rows (:data:`MONITOR_ROWS`) the
    nets watch a seeded sample of ``limit`` rows instead, the same for every
    trial of the split, so that their curves compare. The trial's score is
    always computed on the whole validation split (above :data:`MONITOR_ROWS`
    rows in float32, :func:`~skautodl.training.net.float32_inference`).

    Parameters
    ----------
    n_valid : int
        Rows of the validation split.
    limit : int, optional
        Most rows watched; :data:`MONITOR_ROWS` by default.

    Returns
    -------
    ndarray of int or None
        Sorted row positions in the validation split, or None for all rows.

    Examples
    --------
    >>> from skautodl.training.trial import monitor_rows
    >>> monitor_rows(500) is None
    True
    >>> rows = monitor_rows(100_000)
    >>> len(rows), bool((rows[1:] > rows[:-1]).all())
    (20000, True)
    """
    limit = int(MONITOR_ROWS if limit is None else limit)
    if n_valid <= limit:
        return None
    return np.sort(np.random.default_rng(0).choice(n_valid, size=limit,
                                                   replace=False))


def run_trial(config, splits, task, *, scorer, classes=None, device="cpu", seed=0,
              deadline=None, verbose=0, warm_nets=None, pruning=None,
              prior_segments=(), fraction=1.0, fit_cycle=False) -> TrialResult:
    """Train ``config`` on each split and score it on the validation part.

    Parameters
    ----------
    config : dict
        Trial config; ``max_epochs`` is the length of this stretch of
        training.
    splits : list of skautodl.data.featurize.SplitData
        Cached featurized splits.
    task : skautodl.data.validation.TaskInfo
        The task: classification, multi-label or regression.
    scorer : callable
        ``scorer(net, X_valid, y_valid) -> float`` (higher is better).
    classes : array-like, optional
        User's labels (classifier).
    device : str, default="cpu"
        Where new nets train; continued nets train where their parent's did.
    seed : int, default=0
        Seeds torch before each split's training.
    deadline : float, optional
        ``time.time()`` by which training and scoring should be over:
        training stops between batches early enough to leave time for the
        scoring pass. With several splits each gets an equal share of the
        time left (:func:`fold_deadline`).
    verbose : int, default=0
        The per-epoch log of skorch is shown from 2.
    warm_nets : list of skorch nets, optional
        Nets of an earlier trial of the same config, one per split, to
        continue training from; copies are trained, the nets themselves are
        left untouched.
    pruning : dict, optional
        Per-epoch validation-loss thresholds (see ``PruningReporter``).
    prior_segments : sequence of (int, int) or (int, int, float), default=()
        Segments of the trial whose nets are continued.
    fraction : float, default=1.0
        Share of each split's training rows to train on: its first
        ``ceil(fraction * n)`` rows, a stratified subsample when the splits
        were ordered by :func:`~skautodl.data.splits.nested_order`
        (data-size fidelity); validation uses the whole validation split.
    fit_cycle : bool, default=False
        Shorten the cosine cycle when its epochs would not end by the
        deadline (:class:`~skautodl.training.callbacks.CycleFitter`; the
        time-fitted trials of data-size fidelity).

    Returns
    -------
    TrialResult
        ``status="ok"`` with the nets, or ``status="failed"`` with the
        error: an exception, a diverged loss or running out of memory never
        propagates.

    Notes
    -----
    A config of a tree family (``"hgb"``) goes to
    :func:`skautodl.training.trees.run_tree_trial`, on the CPU.
    """
    if is_tree_config(config):
        from skautodl.training.trees import run_tree_trial

        return run_tree_trial(config, splits, task, scorer=scorer, classes=classes,
                              seed=seed, deadline=deadline, warm_nets=warm_nets,
                              prior_segments=prior_segments,
                              n_threads=torch.get_num_threads())
    scores, nets, preds, kept = [], [], [], []
    n_rows = 0
    valid_seconds = []
    fit_time = score_time = 0.0
    epochs_run = 0
    stopped = pruned = False
    curve = []
    max_epochs = config_epochs(config)
    if warm_nets is not None:
        device = str(warm_nets[0].device)
    try:
        for i, split in enumerate(splits):
            # each fold gets an equal share of the time left: with one
            # deadline for all, the first folds took it and the last trained
            # for an epoch, which made the trial's score and bag worthless
            split_deadline = fold_deadline(deadline, i, len(splits))
            # a prefix: a view of the cached arrays, no copy
            n = subsample_rows(len(split.X_train), fraction)
            X_train, y_train = split.X_train[:n], split.y_train[:n]
            if i == 0:
                n_rows = n
            if warm_nets is not None:
                net = copy_net(warm_nets[i])
                net.set_params(callbacks__time_limit__deadline=split_deadline,
                               callbacks__pruning__thresholds=pruning)
            else:
                split_task = replace(task, n_samples=n)
                watch = monitor_rows(len(split.X_valid))
                valid = standardized_valid_dataset(
                    _net_class(task),
                    split.X_valid if watch is None else split.X_valid[watch],
                    split.y_valid_fit if watch is None else split.y_valid_fit[watch],
                    y_train,
                )
                net = build_net(config, split_task, X_train.shape[1],
                                classes=classes, device=device, valid=valid,
                                deadline=split_deadline, verbose=verbose,
                                pruning=pruning,
                                data_params=split.module_params)
                if watch is not None:
                    # the time kept for scoring is measured on the watched
                    # rows; the score's pass covers all of them
                    factor = dict(net.callbacks)["time_limit"].scoring_factor
                    net.set_params(callbacks__time_limit__scoring_factor=(
                        factor * len(split.X_valid) / len(watch)))
            net.set_params(callbacks__cycle_fitter__deadline=(
                split_deadline if fit_cycle else None))
            start = len(net.history) if warm_nets is not None else 0
            t0 = time.perf_counter()
            train_segment(net, X_train, y_train, epochs=max_epochs,
                          cycle_length=max_epochs, seed=seed)
            fit_time += time.perf_counter() - t0
            stopped = stopped or _callback(net, "time_limit").stopped_
            valid_seconds.append(_callback(net, "time_limit").valid_seconds_)
            pruned = pruned or _callback(net, "pruning").pruned_
            epochs_run += len(net.history) - start
            kept.append(_kept_epochs(net, start))
            if i == 0:
                # an epoch cut short by the time limit has no valid_loss
                curve = [float(h.get("valid_loss", np.nan)) for h in net.history]
            t0 = time.perf_counter()
            # a large validation split is scored in float32: half the time
            # of the float64 pass user predictions get (float32_inference)
            precision = (float32_inference() if len(split.X_valid) > MONITOR_ROWS
                         else contextlib.nullcontext())
            with precision, reuse_outputs(net, split.X_valid) as outputs:
                score = float(scorer(net, split.X_valid, split.y_valid))
                # probabilities for classes and labels, values otherwise
                preds.append(outputs if task.is_classification or task.is_multilabel
                             else net.predict(split.X_valid))
            # the net waits now (for a promotion or the ensemble): the
            # inference copy of its scoring pass would only hold memory
            drop_inference_copy(net)
            score_time += time.perf_counter() - t0
            if not np.isfinite(score):
                raise FloatingPointError(f"validation score is {score}")
            scores.append(score)
            nets.append(net)
    except (Exception, MemoryError) as exc:  # noqa: BLE001 - a trial never kills a search
        nets.clear()
        if isinstance(exc, torch.cuda.OutOfMemoryError | MemoryError):
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        return failed_trial(
            exc, config, seed=seed, device=device, prior_segments=prior_segments,
            split_scores=scores, epochs_run=epochs_run, fit_time=fit_time,
            score_time=score_time, stopped_by_budget=stopped, pruned=pruned,
            curve=curve,
        )
    segment = (max(1, int(round(np.mean(kept)))), max_epochs)
    if fraction is not None and fraction < 1.0:
        segment = (*segment, float(fraction))
    segments = [*prior_segments, segment]
    return TrialResult(
        config=dict(config), status="ok", score=float(np.mean(scores)),
        split_scores=scores, epochs=int(sum(s[0] for s in segments)),
        epochs_run=epochs_run, fit_time=fit_time, score_time=score_time,
        stopped_by_budget=stopped, pruned=pruned, nets=nets, valid_predictions=preds,
        peak_memory_mb=_peak_rss_mb(), seed=seed, segments=segments, curve=curve,
        worker=worker_id(), device=str(device), rows=n_rows,
        valid_seconds=float(np.mean(valid_seconds)) if valid_seconds else 0.0,
    )


def feature_key(task, config):
    """Name the featurization ``config`` trains on, as a hashable key.

    Image tasks have one featurization (``()``). Tabular ones depend on the
    numeric scaling the config chose and on the family's categorical
    encoding (the embed family takes integer codes instead of one-hot).

    Parameters
    ----------
    task : skautodl.data.validation.TaskInfo
        The task.
    config : dict
        A trial config.

    Returns
    -------
    tuple
        ``()`` for images, else the scaling and the encoding.
    """
    if task.input_kind == "image":
        return ()
    family = get_family(config.get("family", "mlp"))
    return (("numeric_scaling", config.get("featurize__numeric_scaling",
                                           "standard")),
            ("categorical_encoding", family.categorical_encoding))


@dataclass
class Job:
    """One unit of work the controller hands to a worker.

    Parameters
    ----------
    trial_id : int
        The trial's position in the search.
    config : dict
        The config to train.
    seed : int
        The trial's seed.
    deadline : float or None, default=None
        ``time.time()`` by which the trial must end.
    rung : int, default=0
        Its fidelity rung.
    parent_id : int or None, default=None
        The trial it continues.
    warm_nets : list or None, default=None
        The parent's nets, one per split.
    prior_segments : tuple, default=()
        The parent's segments.
    pruning : dict or None, default=None
        Per-epoch pruning thresholds.
    device : str, default="cpu"
        Where it trains.
    origin : str, default=""
        ``"portfolio"``, ``"searcher"`` or ``"promotion"``.
    total_epochs : int, default=0
        Epochs the config will have had after it.
    fraction : float, default=1.0
        Share of the training rows it trains on.
    fit_cycle : bool, default=False
        Shorten the cosine cycle to the deadline.
    data : object, default=None
        The featurized splits the config trains on (or, on its way to a
        worker process, a reference the worker resolves).
    data_key : object, default=None
        The name of that featurization (:func:`feature_key`).
    """

    trial_id: int
    config: dict
    seed: int
    deadline: float | None = None
    rung: int = 0
    parent_id: int | None = None
    warm_nets: list | None = None
    prior_segments: tuple = ()
    pruning: dict | None = None
    device: str = "cpu"
    origin: str = ""
    total_epochs: int = 0
    fraction: float = 1.0
    fit_cycle: bool = False
    data: object = field(default=None, repr=False)
    data_key: object = None


class Evaluator:
    """Picklable callable that runs one :class:`Job` on its splits.

    Holds what every trial shares (task, scorer, classes, settings), but
    no data: each job brings its featurized splits (``job.data``), which
    the controller's executor ships to a worker process once per
    featurization, not once per trial.

    Parameters
    ----------
    task : skautodl.data.validation.TaskInfo
        The task.
    scorer : callable
        ``scorer(net, X_valid, y_valid) -> float``, higher is better.
    classes : ndarray or None, default=None
        The user's labels (classifier).
    verbose : int, default=0
        The per-epoch log of skorch is shown from 2.
    n_threads : int or None, default=None
        The torch threads of a worker process (threads x workers <= cores).
    device_cache : DeviceSplitCache, optional
        Keeps each featurization's tensors on the GPU for the whole search
        when they fit (nothing happens on a CPU); CUDA memory is released
        after every trial.
    """

    def __init__(self, task, scorer, classes=None, verbose=0, n_threads=None,
                 device_cache=None):
        self.task = task
        self.scorer = scorer
        self.classes = classes
        self.verbose = verbose
        self.n_threads = n_threads
        self.device_cache = device_cache
        # one search's evaluator: a worker process keeps it between trials
        self.key = uuid.uuid4().hex

    def __call__(self, job: Job) -> TrialResult:
        if self.n_threads is not None and torch.get_num_threads() != self.n_threads:
            torch.set_num_threads(self.n_threads)
        splits = job.data
        if splits is None:
            raise ValueError(f"Job {job.trial_id} carries no data.")
        # trees train on the host arrays, on the CPU
        tree = is_tree_config(job.config)
        if self.device_cache is not None and not tree:
            splits = self.device_cache.get(splits, job.device, key=job.data_key)
        try:
            with training_allocator():
                result = run_trial(
                    job.config, splits, self.task, scorer=self.scorer,
                    classes=self.classes, device=job.device, seed=job.seed,
                    deadline=job.deadline, verbose=self.verbose,
                    warm_nets=job.warm_nets, pruning=job.pruning,
                    prior_segments=job.prior_segments, fraction=job.fraction,
                    fit_cycle=job.fit_cycle,
                )
            if self.device_cache is not None:
                for net in result.nets:
                    # kept nets must pickle without CUDA: host validation data
                    self.device_cache.to_host(net)
        finally:
            freed = release_cuda_memory()  # no-op unless CUDA was initialized
            if freed.reserved_before:
                logger.debug("trial %d: CUDA reserved %.1f -> %.1f MiB",
                             job.trial_id, freed.reserved_before / 2**20,
                             freed.reserved_after / 2**20)
        return replace(result, trial_id=job.trial_id, rung=job.rung,
                       parent_id=job.parent_id, origin=job.origin)
