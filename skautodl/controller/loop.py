"""The search loop, its time budget, and the controller that sets both up.

:func:`run_search` keeps every worker busy: whenever a trial finishes, its
score is told to the searcher and reported to the fidelity scheduler, the
checkpoint is written, and the free worker gets the next proposal at once
(known-good portfolio configs first, then the scheduler's: promotions, or
new configs it asks the searcher for, one at a time). The loop stops
dispatching at the time budget (minus the time kept for the refit), at
``n_trials``, when nothing is left to propose, or on Ctrl-C, and waits for
the trials still running. It knows no search strategy by name.

:class:`Controller` owns everything about running a search that is not
the estimator's business: the :class:`Budget`, worker counts and threads,
devices, the refit reserve, and opening and restoring the checkpoint.
"""

from __future__ import annotations

import logging
import math
import signal
import threading
import time
import warnings
from dataclasses import dataclass, field, replace

import numpy as np
from sklearn.utils import check_random_state

from skautodl.controller.checkpoint import open_checkpoint
from skautodl.controller.executors import (
    job_devices,
    make_executor,
    plan_workers,
    resolve_device,
    warm_up,
)
from skautodl.controller.progress import ProgressBar, TrialLog
from skautodl.exceptions import (
    AllTrialsFailedError,
    CheckpointError,
    SearchInterruptedWarning,
    TrialFailedWarning,
)
from skautodl.search.fidelity import Proposal, config_epochs
from skautodl.search.searchers.registry import make_searcher
from skautodl.training.device_data import DeviceSplitCache
from skautodl.training.net import release_training_state
from skautodl.training.trees import is_tree
from skautodl.training.trial import Evaluator, Job, TrialResult, feature_key
from skautodl.utils._seeding import draw_seed, rng_state, set_rng_state

logger = logging.getLogger("skautodl")

#: seconds ``fit`` may run past its budget on top of the refit's overrun
#: allowance (Python start-up of workers, wrapping up)
BUDGET_GRACE_SECONDS = 5.0
#: the refit may overrun the budget by this share of it, at most
#: :data:`REFIT_OVERRUN_CAP` seconds
REFIT_OVERRUN_SHARE = 0.1
REFIT_OVERRUN_CAP = 30.0


# ---------------------------------------------------------------------- budget
class Budget:
    """The time budget of one ``fit``.

    Parameters
    ----------
    time_budget : float or None
        Seconds for the whole ``fit``; None: no time limit.
    start : float, optional
        ``time.time()`` when ``fit`` started (default: now).

    Attributes
    ----------
    end_time : float or None
        When the search must be over (the refit's reserve comes off it).
    hard_end : float or None
        When ``fit`` must have returned: ``end_time + min(0.1 *
        time_budget, 30) + 5`` seconds. The refit may run into that margin,
        never past it.
    """

    def __init__(self, time_budget, start=None):
        self.time_budget = time_budget
        self.start = time.time() if start is None else float(start)

    @property
    def end_time(self):
        """``time.time()`` when the search must be over (None: no budget)."""
        if self.time_budget is None:
            return None
        return self.start + float(self.time_budget)

    @property
    def hard_end(self):
        """``time.time()`` when ``fit`` must have returned (None: no budget)."""
        if self.time_budget is None:
            return None
        tb = float(self.time_budget)
        return self.end_time + min(REFIT_OVERRUN_SHARE * tb, REFIT_OVERRUN_CAP) \
            + BUDGET_GRACE_SECONDS

    def left(self):
        """Return the seconds until ``end_time``.

        Returns
        -------
        float
            Negative once it has passed; ``inf`` without a budget.
        """
        return math.inf if self.end_time is None else self.end_time - time.time()


# ---------------------------------------------------------------------- outcome
@dataclass
class SearchOutcome:
    """Finished trials, in trial-id order, and why the search ended.

    Parameters
    ----------
    results : list of TrialResult, default=[]
        The finished trials, in trial-id order.
    search_time : float, default=0.0
        Seconds the search took.
    stop_reason : str, default=""
        ``"time_budget"``, ``"n_trials"``, ``"exhausted"`` or
        ``"interrupted"``.
    resumed : int, default=0
        Trials restored from a checkpoint.
    nets : dict, default={}
        ``{trial_id: nets}`` of the trials whose nets are kept.
    best_id : int or None, default=None
        The best successful trial (None: none succeeded).
    pool : skautodl.ensemble.PredictionPool or None, default=None
        The out-of-sample predictions of the best trials.
    """

    results: list = field(default_factory=list)
    search_time: float = 0.0
    stop_reason: str = ""
    resumed: int = 0  # trials restored from a checkpoint
    nets: dict = field(default_factory=dict, repr=False)  # trial_id -> nets
    best_id: int | None = None
    pool: object = field(default=None, repr=False)  # PredictionPool or None

    @property
    def best_index(self):
        """Position of the best trial in :attr:`results` (None: none is ok)."""
        if self.best_id is None:
            return None
        return next(i for i, r in enumerate(self.results)
                    if r.trial_id == self.best_id)

    @property
    def best(self):
        """The best successful :class:`TrialResult` (None: none succeeded)."""
        i = self.best_index
        return None if i is None else self.results[i]

    def top_ids(self, k):
        """List the ids of the ``k`` best successful trials.

        Parameters
        ----------
        k : int
            How many.

        Returns
        -------
        list of int
            Best score first; ties: the lower id first.
        """
        ok = sorted((r for r in self.results if r.ok),
                    key=lambda r: (-r.score, r.trial_id))
        return [r.trial_id for r in ok[:max(0, int(k))]]

    def by_id(self, trial_id):
        """Find a trial by its id.

        Parameters
        ----------
        trial_id : int
            A trial of :attr:`results`.

        Returns
        -------
        TrialResult
            The trial.
        """
        return next(r for r in self.results if r.trial_id == trial_id)

    def add(self, result):
        """Insert a finished trial by its id and update the best.

        The first of equal best scores stays the best.

        Parameters
        ----------
        result : TrialResult
            The finished trial.
        """
        pos = len(self.results)
        while pos and self.results[pos - 1].trial_id > result.trial_id:
            pos -= 1
        self.results.insert(pos, result)
        self.recompute_best()

    def recompute_best(self):
        """Set :attr:`best_id` to the first of the best successful trials."""
        best = None
        for r in self.results:
            if r.ok and (best is None or r.score > best.score):
                best = r
        self.best_id = None if best is None else best.trial_id


# ---------------------------------------------------------------------- interrupt
#: signals that stop a search the way Ctrl-C does
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM")
                     if hasattr(signal, name))


class _Interrupt:
    """Turns Ctrl-C and SIGTERM into a flag the loop sees even when skorch
    swallows it.

    skorch stops training quietly on ``KeyboardInterrupt``; our handler
    records the interrupt first, so the search stops after the running
    trial, stops the worker processes, and ``fit`` keeps the best model and
    a valid checkpoint. SIGTERM (what ``kill``, a job scheduler or a
    container stop sends) is handled the same way. The handlers seen on
    entry are put back on exit.
    """

    def __init__(self):
        self.flag = False
        self._old = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            def handler(signum, frame):
                self.flag = True
                raise KeyboardInterrupt

            for sig in STOP_SIGNALS:
                self._old[sig] = signal.getsignal(sig)
                signal.signal(sig, handler)
        return self

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            # None: a handler installed outside Python; the default then
            signal.signal(sig, signal.SIG_DFL if old is None else old)
        self._old = {}
        return False


# ---------------------------------------------------------------------- loop
def run_search(searcher, evaluator, *, scheduler, portfolio=(), n_trials=None,
               end_time=None, reserve=None, seeds, n_jobs=1, devices=("cpu",),
               checkpoint=None, restored=None, extra_state=None, verbose=0,
               executor=None, data_for=None, callbacks=None, pool=None,
               keep_nets=1):
    """Run trials until ``n_trials``, ``end_time``, exhaustion or Ctrl-C.

    Parameters
    ----------
    searcher : skautodl.search.searchers.Searcher
        Proposes the configs (ask) and learns their scores (tell).
    evaluator : callable
        ``evaluator(Job) -> TrialResult`` (picklable for parallel runs).
    scheduler : FullFidelity or Hyperband
        Turns configs into trials of so many epochs, and promotes.
    portfolio : list of dict, default=()
        Configs evaluated first (and told to the searcher).
    n_trials : int or None, default=None
        The most trials; None: until the time or the searcher runs out.
    end_time : float or None
        ``time.time()`` at which the search must be over.
    reserve : callable, optional
        ``reserve(best_result) -> seconds`` kept free at the end (the refit).
    seeds : numpy RandomState
        Root RNG; one integer seed is drawn per trial, in dispatch order.
    n_jobs : int, default=1
        Trials run at once (1: in this process); ignored with ``executor``.
    devices : sequence of str, default=("cpu",)
        Devices new trials are assigned to, round-robin by trial id; a
        promotion runs on its parent's device.
    checkpoint : Checkpoint or None, default=None
        Saved after every trial (see
        :mod:`skautodl.controller.checkpoint`).
    restored : dict or None, default=None
        State loaded from ``checkpoint``: the search continues from it.
    extra_state : list, optional
        Saved verbatim in the checkpoint under ``"seeds"`` (the estimator's
        split and search seeds, so a resume reuses them).
    verbose : int, default=0
        The progress bar shows from 1 (when ``callbacks`` is None).
    executor : executor, optional
        Where trials run (see :mod:`skautodl.controller.executors`); by
        default one for ``n_jobs`` under the active joblib backend.
    data_for : callable, optional
        ``data_for(config) -> (key, splits)``: the featurized splits a
        config trains on (built on first use), attached to its job.
    callbacks : list, optional
        Loop callbacks (:mod:`skautodl.controller.progress`); by default a
        progress bar and per-trial log lines.
    pool : PredictionPool, optional
        Keeps the out-of-sample predictions of the best trials (for
        ensemble selection); saved in the checkpoint.
    keep_nets : int, default=1
        The nets of this many best trials are kept after the search (for
        the ensemble's members), beside those a promotion may still need.

    Returns
    -------
    SearchOutcome
        The finished trials, the best one and the kept nets.
    """
    outcome = SearchOutcome(pool=pool)
    queue = list(enumerate(dict(c) for c in portfolio))
    portfolio_done = []
    next_id = 0
    if restored:
        for record in restored["results"]:
            outcome.add(TrialResult.from_record(record))
        outcome.resumed = len(outcome.results)
        portfolio_done = list(restored.get("portfolio_done", []))
        queue = [(i, c) for i, c in queue if i not in portfolio_done]
        next_id = int(restored.get("next_trial_id", len(outcome.results)))
        if pool is not None:
            pool.load_state(restored.get("predictions"))
    if scheduler.rows is not None:
        # data-size fidelity: a full-fidelity portfolio trial would take the
        # whole budget on large data; its configs open the first bracket
        scheduler.run_first(queue)
        queue = []
    own_executor = executor is None
    if own_executor:
        executor = make_executor(evaluator, n_jobs)
    if callbacks is None:
        callbacks = [ProgressBar(verbose), TrialLog()]
    nets = {}  # trial_id -> nets kept for promotions and the best result
    running = {}  # trial_id -> (proposal, job)
    exhausted = [False]
    deadline_now = [None]  # the trials' deadline when the next is proposed
    start = time.time()

    def ask(k):
        more = searcher.ask(k)
        if len(more) < k:
            exhausted[0] = True
        return more

    def next_proposal():
        if queue and end_time is not None and time.time() >= start + (
                end_time - start) / 2:
            # the portfolio never takes more than half of the search's time
            queue.clear()
        if queue:
            # known-good configs run first, at full fidelity: a strong result
            # early, and a fair score to tell the searcher
            index, c = queue.pop(0)
            epochs = config_epochs(c)
            c = {**c, "max_epochs": epochs}
            return Proposal(config=c, epochs=epochs, total_epochs=epochs,
                            base_config=c, portfolio_index=index, scheduled=False)
        if hasattr(scheduler, "set_deadline"):
            scheduler.set_deadline(deadline_now[0])
        if exhausted[0]:
            # the searcher is done; the scheduler may still promote
            proposals = scheduler.propose(1, lambda k: [])
        else:
            proposals = scheduler.propose(1, ask)
        return proposals[0] if proposals else None

    def make_job(p, deadline):
        nonlocal next_id
        warm = nets.get(p.parent_id) if p.parent_id is not None else None
        if warm is not None:
            parent = outcome.by_id(p.parent_id)
            epochs, prior, device = p.epochs, tuple(parent.segments), parent.device
        else:
            # a promotion whose parent's nets are gone restarts from scratch
            epochs, prior = p.total_epochs, ()
            device = devices[next_id % len(devices)]
        origin = ("portfolio" if p.from_portfolio else
                  "searcher" if p.parent_id is None else "promotion")
        fraction, fit_cycle = p.fraction, False
        if scheduler.rows is not None and deadline is not None \
                and not is_tree(p.config):  # trees have no epochs to fit
            seconds = deadline - time.time()
            if p.seconds is not None:
                # its share of its rung's time (rung trials run side by side)
                seconds = min(seconds, p.seconds * executor.n_workers)
            epochs, fraction = _fit_in_time(outcome.results, p.config, epochs,
                                            p.fraction, *scheduler.rows, seconds,
                                            new=p.parent_id is None)
            if epochs == 0:
                return None
            fit_cycle = True
        job = Job(trial_id=next_id, config={**p.config, "max_epochs": epochs},
                  seed=draw_seed(seeds), deadline=deadline, rung=p.rung,
                  parent_id=p.parent_id, warm_nets=warm, prior_segments=prior,
                  pruning=p.pruning, device=device, origin=origin,
                  total_epochs=p.total_epochs, fraction=fraction,
                  fit_cycle=fit_cycle)
        if p.from_portfolio and p.scheduled:
            # handed to the scheduler: done once dispatched (a resume asks
            # the searcher for the rest of its bracket)
            portfolio_done.append(p.portfolio_index)
        next_id += 1
        if data_for is not None:
            key, splits = data_for(job.config)
            job = replace(job, data=splits, data_key=key)
        return job

    def save():
        if checkpoint is None:
            return
        checkpoint.save({
            "results": [r.to_record() for r in outcome.results],
            "searcher": _searcher_state(searcher),
            "scheduler": scheduler.state(),
            "rng": rng_state(seeds),
            "seeds": extra_state,
            "portfolio_done": sorted(portfolio_done),
            "next_trial_id": next_id,
            "predictions": None if pool is None else pool.state(),
        })

    def finish(job, result):
        p, _ = running.pop(job.trial_id)
        # n_resources: epochs the config has been trained for
        config = {**p.config, "max_epochs": p.total_epochs}
        tree = is_tree(config)
        if tree:  # trees have no epochs: n_resources are their iterations
            config.pop("max_epochs")
        result = replace(result, config=config, origin=job.origin)
        if p.is_new:
            searcher.tell([p.base_config], [result.score if result.ok else math.nan])
        if not p.scheduled:
            portfolio_done.append(p.portfolio_index)
        else:
            # a tree trial trains at full fidelity: never promoted (its
            # rung's promotions go to the networks)
            scheduler.report(p, replace(result, pruned=True) if tree else result)
        _record(outcome, result, nets)
        save()
        for cb in callbacks:
            cb.on_trial_end(result, outcome)

    stop_reason = None
    for cb in callbacks:
        cb.on_search_begin(n_trials, len(outcome.results), end_time)
    with _Interrupt() as interrupt:
        try:
            while True:
                while stop_reason is None and len(running) < executor.n_workers:
                    if n_trials is not None and (
                            len(outcome.results) + len(running) >= n_trials):
                        stop_reason = "n_trials"
                        break
                    deadline = None
                    if end_time is not None:
                        best = outcome.best
                        held = reserve(best) if reserve is not None and best else 0.0
                        deadline = end_time - held
                        if time.time() >= deadline:
                            stop_reason = "time_budget"
                            break
                    deadline_now[0] = deadline
                    proposal = next_proposal()
                    if proposal is None:
                        if not running:
                            stop_reason = "exhausted"
                        break  # wait for running trials (promotions follow)
                    job = make_job(proposal, deadline)
                    if job is None:
                        # it cannot train an epoch in the time left
                        stop_reason = "time_budget"
                        break
                    if deadline is not None and time.time() >= deadline:
                        # preparing its data used up the budget
                        stop_reason = "time_budget"
                        break
                    running[job.trial_id] = (proposal, job)
                    for cb in callbacks:
                        cb.on_trial_start(job, [j for _, j in running.values()])
                    executor.submit(job)
                if not running:
                    break
                # running trials that overrun the search's end (a worker still
                # starting up, a trial stuck between batches) are given up
                # rather than the refit's time, once some trial has a model
                patient = end_time is None or outcome.best is None
                timeout = None if patient else max(0.0, end_time - time.time())
                finished = executor.wait(timeout)
                if not finished and not patient and time.time() >= end_time:
                    logger.warning("%d trial(s) still running at the end of the "
                                   "search were stopped", len(running))
                    executor.shutdown(kill=True)
                    running.clear()
                    stop_reason = stop_reason or "time_budget"
                    break
                for job, result in finished:
                    finish(job, result)
                alive = scheduler.alive()
                keep = alive | set(outcome.top_ids(keep_nets))
                # a running promotion's parent nets may still be on their way
                # to a worker (pickled by another thread): left as they are
                alive = alive | {p.parent_id for p, _ in running.values()}
                for trial_id in list(nets):
                    if trial_id not in keep:
                        del nets[trial_id]
                    elif trial_id not in alive:
                        # kept for the ensemble, never trained again: its
                        # optimizer moments (twice the weights) can go (a
                        # no-op for nets already released)
                        for net in nets[trial_id]:
                            release_training_state(net)
                if interrupt.flag:
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            stop_reason = "interrupted"
            executor.shutdown(kill=True)
        finally:
            if own_executor:
                executor.shutdown()
            outcome.search_time = time.time() - start
            outcome.stop_reason = stop_reason or "exhausted"
            for cb in callbacks:
                cb.on_search_end(outcome)
    outcome.nets = nets
    return outcome


#: the fewest epochs a promoted time-fitted trial trains: its cosine anneals
#: per batch (``CycleFitter``), so one epoch on all rows beats more epochs
#: on fewer rows
MIN_FITTED_EPOCHS = 1
#: the fewest of its rung's epochs a new config (rung 0) must have time for
#: (a shorter run would not compare with its rung's peers)
MIN_NEW_EPOCHS = 3


def _epoch_cost(results, config):
    """``(a, b)``: seconds per epoch ``a + b * rows`` of trials like ``config``.

    Fitted by least squares to the finished trials' seconds per epoch (those
    of the same config when there are any, else all); with one training
    size, ``a`` is the trials' validation pass (``valid_seconds``) and
    ``b`` the rest per row. None when nothing was measured.
    """
    def key(c):
        return {k: v for k, v in c.items() if k != "max_epochs"}

    done = [r for r in results if r.ok and r.epochs_run and r.rows]
    same = [r for r in done if key(r.config) == key(config)]
    pool = same or done
    if not pool:
        return None
    rows = np.array([r.rows for r in pool], dtype=np.float64)
    cost = np.array([r.fit_time / r.epochs_run for r in pool], dtype=np.float64)
    if np.ptp(rows) > 0:
        b, a = np.polyfit(rows, cost, 1)
        if b > 0 and a >= 0:
            return float(a), float(b)
    a = float(np.clip(np.mean([r.valid_seconds for r in pool]),
                      0.0, 0.9 * np.min(cost)))
    return a, float(np.mean((cost - a) / rows))


def _fit_in_time(results, config, epochs, fraction, n_train, min_rows, seconds,
                 new=False):
    """``(epochs, fraction)`` a trial can train in ``seconds`` (data-size
    fidelity with a deadline).

    A trial cut short by the deadline keeps mid-schedule weights; one whose
    schedule fits anneals to its end. 90 % of ``seconds`` is planned, with
    the cost of :func:`_epoch_cost`. When not even :data:`MIN_FITTED_EPOCHS`
    epoch on ``fraction`` of the rows would fit, the trial trains one epoch
    on as many rows as fit instead (never
    fewer than ``min_rows``, data-size fidelity's smallest rung). ``(0,
    fraction)`` when not even one epoch on that many rows fits: the trial
    is not started; nor is a ``new`` config (rung 0) that cannot train
    :data:`MIN_NEW_EPOCHS` of its epochs on its rows (its score would not
    compare with its rung's).
    """
    cost = _epoch_cost(results, config)
    if cost is None:
        return epochs, fraction
    a, b = cost
    plan = 0.9 * max(0.0, seconds)
    rows = max(1.0, fraction * n_train)
    per_epoch = a + b * rows
    if epochs * per_epoch <= plan:
        return epochs, fraction
    fitted = int(plan // per_epoch) if per_epoch > 0 else epochs
    floor = min(epochs, MIN_FITTED_EPOCHS)
    if new:
        return (fitted, fraction) if fitted >= min(epochs, MIN_NEW_EPOCHS) \
            else (0, fraction)
    if fitted >= floor:
        return fitted, fraction
    smallest = min(rows, min_rows)
    if a + b * smallest > seconds:
        return 0, fraction  # not even one epoch on the smallest rung fits
    fewer = (plan / floor - a) / b if b > 0 else 0.0
    if fewer < smallest:
        return max(1, fitted), fraction
    return floor, min(fraction, fewer / n_train)


def _searcher_state(searcher):
    state = getattr(searcher, "state", None)
    return state() if callable(state) else None


def _record(outcome, result, nets):
    if not result.ok:
        warnings.warn(
            f"Trial {result.trial_id + 1} failed and was skipped "
            f"({result.error}); config: {result.config}",
            TrialFailedWarning, stacklevel=5,
        )
    if result.nets:
        nets[result.trial_id] = result.nets
    if outcome.pool is not None:
        outcome.pool.add(result)
    outcome.add(result.without_models())


# ---------------------------------------------------------------------- controller
class Controller:
    """Runs a search for an estimator: budget, workers, devices, checkpoint.

    Parameters
    ----------
    time_budget : float or None
        The estimator's ``time_budget``.
    n_trials : int or None
        The estimator's ``n_trials``.
    n_jobs : int or None, default=1
        The estimator's ``n_jobs`` (see :func:`plan_workers`).
    device : str, default="auto"
        The estimator's ``device``.
    checkpoint_dir : str, path-like or None, default=None
        The estimator's ``checkpoint_dir``.
    verbose : int, default=0
        The estimator's ``verbose``.
    start : float, optional
        ``time.time()`` when ``fit`` started.
    owner : str, default="skautodl"
        The estimator's class name, for messages.

    Attributes
    ----------
    budget : Budget
        The time budget of the fit.
    device : str
        The resolved device (``"auto"`` -> ``"cuda"`` or ``"cpu"``).
    n_workers : int
        Trials run at once.
    n_threads : int or None
        torch threads per local worker process.
    split_seed, search_seed : int
        Seeds of the splits and of the searcher (restored on resume).
    restored : dict or None
        The checkpoint's saved state, when the search resumes.

    Raises
    ------
    ValueError
        When both ``time_budget`` and ``n_trials`` are None, or for an
        invalid ``device``.

    Notes
    -----
    :meth:`open` locks the checkpoint for this search (one search per
    ``checkpoint_dir``); :meth:`run` releases it when the search ends, also
    on errors, and so does :meth:`close`. ``fit`` uses the controller as a
    context manager (``with controller:``), so a fit that raises anywhere
    between :meth:`open` and the end of its search releases the lock too.
    """

    def __init__(self, *, time_budget, n_trials, n_jobs=1, device="auto",
                 checkpoint_dir=None, verbose=0, start=None, owner="skautodl"):
        if time_budget is None and n_trials is None:
            raise ValueError(
                f"{owner} needs a stopping rule: set time_budget (seconds), "
                "n_trials, or both; both are None."
            )
        self.budget = Budget(time_budget, start)
        self.n_trials = n_trials
        self.checkpoint_dir = checkpoint_dir
        self.verbose = int(verbose)
        self.owner = owner
        self.device = resolve_device(device, owner)
        self.n_workers, self.n_threads = plan_workers(n_jobs, owner)
        # local workers import torch while fit checks and featurizes the data
        warm_up(self.n_workers, self.n_threads)
        self.checkpoint = self.restored = None
        self.rng = None
        self.split_seed = self.search_seed = None

    def open(self, X, y, params, random_state):
        """Open and lock the checkpoint (restoring its state) and draw the seeds.

        Parameters
        ----------
        X : pandas.DataFrame or ndarray
            The validated data, fingerprinted for the checkpoint.
        y : ndarray
            The validated targets, fingerprinted too.
        params : dict
            The parameters that define the search.
        random_state : int, RandomState or None
            The estimator's ``random_state``: the root of every seed.

        Returns
        -------
        Controller
            The controller itself.

        Raises
        ------
        CheckpointError
            ``checkpoint_dir`` is unusable (not a directory, not writable,
            full) or in use by another search, or its state cannot be used.
        """
        self.checkpoint, self.restored = open_checkpoint(self.checkpoint_dir, X, y,
                                                         params)
        try:
            self.rng = check_random_state(random_state)
            if self.restored:
                self.split_seed, self.search_seed = self.restored["seeds"]
                set_rng_state(self.rng, self.restored["rng"])
            else:
                self.split_seed = draw_seed(self.rng)
                self.search_seed = draw_seed(self.rng)
        except BaseException:
            self.close()
            raise
        return self

    def searcher(self, search, space):
        """Build the searcher of the ``search`` parameter over ``space``.

        On resume the saved searcher state is replayed.

        Parameters
        ----------
        search : str, SearchSpec or searcher object
            The estimator's ``search`` parameter.
        space : skautodl.search.space.SearchSpace
            The task's search space.

        Returns
        -------
        object
            The searcher (see
            :func:`skautodl.search.searchers.make_searcher`).

        Raises
        ------
        skautodl.exceptions.CheckpointError
            On resume, for restored trials whose family is not in ``space``
            or a searcher state that cannot be replayed.
        """
        if not self.restored:
            return make_searcher(search, space, self.search_seed)
        self.checkpoint.check_families(self.restored, space.families)
        try:
            return make_searcher(search, space, self.search_seed,
                                 state=self.searcher_state)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise CheckpointError(
                f"The checkpoint {self.checkpoint.path} is corrupted: its "
                f"searcher state cannot be restored ({type(exc).__name__}: {exc})."
                " Nothing was resumed. Delete that file (or pass another "
                "checkpoint_dir) to start the search over."
            ) from None

    def close(self):
        """Release the checkpoint's lock (the saved state stays); idempotent."""
        if self.checkpoint is not None:
            self.checkpoint.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    @property
    def searcher_state(self):
        """The saved searcher state to continue from, or None."""
        return None if not self.restored else self.restored.get("searcher")

    @staticmethod
    def refit_reserve(best, n_samples, n_train):
        """Estimate the seconds to keep for refitting ``best`` on all data.

        The best trial's seconds per epoch, scaled from its training rows to
        all rows, times the epochs the refit replays, plus 20 % for safety.

        Parameters
        ----------
        best : TrialResult or None
            The best trial so far.
        n_samples : int
            All training rows (the refit's).
        n_train : int
            The training rows of a split (the trial's).

        Returns
        -------
        float
            The seconds; 0 without a best trial.
        """
        if best is None or not best.epochs_run:
            return 0.0
        # seconds per epoch of one training row, from the trial's own run
        # (its last stretch, on ``best.rows`` rows: fewer on a data-size
        # fidelity rung), times the row-epochs the refit replays
        per_row_epoch = best.fit_time / best.epochs_run / max(1, best.rows or n_train)
        row_epochs = sum(s[0] * (s[2] if len(s) > 2 else 1.0)
                         for s in best.segments) if best.segments else best.epochs
        return 1.2 * per_row_epoch * row_epochs * n_samples

    def best_of(self, outcome):
        """Return the best trial of ``outcome``, or raise the error that says why not.

        Parameters
        ----------
        outcome : SearchOutcome
            What the search returned.

        Returns
        -------
        TrialResult
            The best trial.

        Raises
        ------
        KeyboardInterrupt
            When Ctrl-C came before any trial finished.
        skautodl.exceptions.AllTrialsFailedError
            When no trial produced a model.

        Warns
        -----
        skautodl.exceptions.SearchInterruptedWarning
            After Ctrl-C (the best model so far is kept).
        """
        results, best = outcome.results, outcome.best
        if best is None:
            if outcome.stop_reason == "interrupted":
                raise KeyboardInterrupt
            if not results:
                raise AllTrialsFailedError(
                    f"No trial could run within time_budget="
                    f"{self.budget.time_budget}s (data preparation used it up); "
                    "raise time_budget."
                )
            first = next((r for r in results if r.error), None)
            raise AllTrialsFailedError(
                f"All {len(results)} trials of {self.owner} failed; the first "
                f"failure was: {first.error if first else 'no trial finished'}"
                f" (config: {first.config if first else {}})."
            )
        if outcome.stop_reason == "interrupted":
            warnings.warn(
                f"{self.owner}.fit was interrupted after {len(results)} trials; it "
                f"keeps the best model found so far (score {best.score:.4f})"
                + (f" and the checkpoint in {self.checkpoint_dir}"
                   if self.checkpoint_dir else "") + ".",
                SearchInterruptedWarning, stacklevel=3,
            )
        return best

    def run(self, searcher, scheduler, portfolio, features, task, scorer,
            classes=None, pool=None, keep_nets=1, refits=1):
        """Run the search on ``features``.

        The checkpoint's lock is released when the search ends, also when
        it raises.

        Parameters
        ----------
        searcher : object
            The searcher from :meth:`searcher`.
        scheduler : FullFidelity or Hyperband
            The fidelity schedule (restored on resume).
        portfolio : list of dict
            Configs run first.
        features : skautodl.data.featurize.FeatureStore
            The featurizations, built on first use inside the budget.
        task : skautodl.data.validation.TaskInfo
            The task.
        scorer : callable
            Ranks the trials, higher is better.
        classes : ndarray or None, default=None
            The user's labels (classifier).
        pool : PredictionPool, optional
            Keeps the best trials' out-of-sample predictions.
        keep_nets : int, default=1
            Nets of this many best trials are kept for the ensemble.
        refits : int, default=1
            Refits on all data the search keeps time for (one per ensemble
            member that is refitted).

        Returns
        -------
        SearchOutcome
            The finished trials, the best one and the kept nets.
        """
        try:
            if self.restored:
                self._restore(scheduler)
            evaluator = Evaluator(task, scorer, classes=classes, verbose=self.verbose,
                                  n_threads=self.n_threads,
                                  device_cache=DeviceSplitCache())
            executor = make_executor(evaluator, self.n_workers, self.n_threads)

            def data_for(config):
                key = feature_key(task, config)
                return key, features.get(key)

            def reserve(best):
                return refits * self.refit_reserve(best, task.n_samples,
                                                   features.n_train)

            try:
                outcome = run_search(
                    searcher, evaluator, scheduler=scheduler, portfolio=portfolio,
                    n_trials=self.n_trials, end_time=self.budget.end_time,
                    reserve=reserve, seeds=self.rng,
                    devices=job_devices(self.device, self.n_workers),
                    checkpoint=self.checkpoint, restored=self.restored,
                    extra_state=[self.split_seed, self.search_seed],
                    verbose=self.verbose, executor=executor, data_for=data_for,
                    pool=pool, keep_nets=keep_nets,
                )
            finally:
                executor.shutdown()
                evaluator.device_cache.clear()
        finally:
            self.close()
        return outcome

    def _restore(self, scheduler):
        """Restore the fidelity scheduler's state from the checkpoint."""
        try:
            scheduler.load_state(self.restored["scheduler"])
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise CheckpointError(
                f"The checkpoint {self.checkpoint.path} is corrupted: its "
                f"fidelity scheduler state cannot be restored "
                f"({type(exc).__name__}: {exc}). Nothing was resumed. Delete "
                "that file (or pass another checkpoint_dir) to start the "
                "search over."
            ) from None
