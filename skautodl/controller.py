"""The search loop: budget, parallel and distributed trials, devices,
checkpoints and resume, interrupts, progress.

The controller asks the fidelity scheduler for proposals (which pulls new
configs from the known-good portfolio first, then from the searcher), runs
them as jobs, in process or through joblib (any joblib backend, so a Dask
cluster through ``joblib.parallel_backend("dask")``), tells the scores back,
writes a checkpoint after every trial, and stops at the time budget, at
``n_trials``, when the searcher is exhausted, or on Ctrl-C. It knows no
search strategy by name.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import signal
import threading
import time
import warnings
from dataclasses import dataclass, field

from skautodl.exceptions import CheckpointError, TrialFailedWarning
from skautodl.search.fidelity import DEFAULT_MAX_EPOCHS, Proposal
from skautodl.training.trial import Job, TrialResult

logger = logging.getLogger("skautodl")

CHECKPOINT_FILE = "search_state.json"
CHECKPOINT_FORMAT = 1


# ---------------------------------------------------------------------- outcome
@dataclass
class SearchOutcome:
    """Results of a search, in the order the trials ran."""

    results: list = field(default_factory=list)
    best_index: int | None = None
    search_time: float = 0.0
    stop_reason: str = ""
    resumed: int = 0  # trials restored from a checkpoint
    nets: dict = field(default_factory=dict, repr=False)  # trial_id -> nets

    @property
    def best(self):
        return None if self.best_index is None else self.results[self.best_index]

    def recompute_best(self):
        best = None
        for i, r in enumerate(self.results):
            if r.ok and (best is None or r.score > self.results[best].score):
                best = i
        self.best_index = best


# ---------------------------------------------------------------------- checkpoint
class Checkpoint:
    """Search state in ``directory/search_state.json``, written atomically.

    Each save writes a temporary file in the same directory, flushes and
    fsyncs it, then renames it over the old one, so a crash at any moment
    leaves either the previous or the new state, never a mix.

    Parameters
    ----------
    directory : str or path-like
    fingerprint : dict
        ``{"data": hash, "params": {name: hash}}`` of the search; a resume
        with a different fingerprint is refused.
    """

    def __init__(self, directory, fingerprint):
        self.directory = os.fspath(directory)
        self.fingerprint = fingerprint

    @property
    def path(self):
        return os.path.join(self.directory, CHECKPOINT_FILE)

    def load(self):
        """Return the saved state, None if there is none, or raise CheckpointError."""
        if not os.path.exists(self.path):
            return None
        try:
            with open(self.path, encoding="utf-8") as fh:
                state = json.load(fh)
            if state.get("format") != CHECKPOINT_FORMAT:
                raise ValueError(f"unknown format {state.get('format')!r}")
            for key in ("fingerprint", "results", "scheduler", "rng", "seeds"):
                if key not in state:
                    raise ValueError(f"missing key {key!r}")
        except (ValueError, OSError, UnicodeDecodeError, AttributeError) as exc:
            raise CheckpointError(
                f"The checkpoint {self.path} is corrupted or truncated ({exc}). "
                "Nothing was resumed. Delete that file (or pass another "
                "checkpoint_dir) to start the search over."
            ) from None
        saved = state["fingerprint"]
        if saved.get("data") != self.fingerprint["data"]:
            raise CheckpointError(
                f"The checkpoint in {self.directory} belongs to a search on "
                "different data (X or y changed); refusing to mix results. Use "
                "another checkpoint_dir, or delete the old one to start over."
            )
        changed = sorted(
            k for k in set(saved["params"]) | set(self.fingerprint["params"])
            if saved["params"].get(k) != self.fingerprint["params"].get(k)
        )
        if changed:
            raise CheckpointError(
                f"The checkpoint in {self.directory} was made with different "
                f"parameters ({', '.join(changed)}); refusing to mix results. Use "
                "another checkpoint_dir, or delete the old one to start over."
            )
        return state

    def save(self, state):
        os.makedirs(self.directory, exist_ok=True)
        state = {"format": CHECKPOINT_FORMAT, "fingerprint": self.fingerprint, **state}
        data = json.dumps(state, default=_json_default).encode("utf-8")
        tmp = f"{self.path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        try:
            dir_fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError:  # pragma: no cover - platforms without directory fsync
            pass


def _json_default(obj):
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return repr(obj)


def fingerprint(X, y, params):
    """Hashes identifying a search: the data, and each search-defining parameter."""
    import joblib

    def h(obj):
        try:
            return joblib.hash(obj)
        except Exception:  # noqa: BLE001 - unpicklable: fall back to its repr
            return hashlib.sha1(repr(obj).encode()).hexdigest()

    return {"data": h((X, y)), "params": {k: h(v) for k, v in sorted(params.items())}}


# ---------------------------------------------------------------------- execution
def _worker_crash_types():
    types = []
    try:
        from joblib.externals.loky.process_executor import TerminatedWorkerError

        types.append(TerminatedWorkerError)
    except ImportError:  # pragma: no cover
        pass
    from concurrent.futures.process import BrokenProcessPool

    types.append(BrokenProcessPool)
    try:
        from distributed.scheduler import KilledWorker

        types.append(KilledWorker)
    except ImportError:
        pass
    return tuple(types)


def _crashed(job, exc):
    return TrialResult(
        config=dict(job.config), status="failed", score=float("nan"),
        error=f"worker process died: {type(exc).__name__}: {exc}"[:2000],
        seed=job.seed, trial_id=job.trial_id, rung=job.rung,
        parent_id=job.parent_id, segments=list(job.prior_segments),
    )


def execute(evaluator, jobs, n_jobs):
    """Run ``jobs``; in process when ``n_jobs == 1``, else through joblib.

    A worker process that dies takes only its own trial with it: when a
    batch breaks, each of its jobs is run again on its own, and the one that
    kills its worker again is recorded as failed.
    """
    if n_jobs == 1:
        return [evaluator(job) for job in jobs]
    from sklearn.utils.parallel import Parallel, delayed

    crash_types = _worker_crash_types()
    client = _dask_client()
    if client is not None:
        # one future per trial: a killed worker fails only its own future
        # (joblib's Parallel would wait on the lost batch)
        futures = [client.submit(evaluator, job, pure=False) for job in jobs]
        out = []
        for job, future in zip(jobs, futures, strict=True):
            try:
                out.append(future.result())
            except crash_types as exc:
                out.append(_crashed(job, exc))
        return out
    try:
        return Parallel(n_jobs=n_jobs)(delayed(evaluator)(job) for job in jobs)
    except crash_types as exc:
        logger.warning("a worker died (%s); re-running its batch one job at a time",
                       exc)
    out = []
    for job in jobs:
        try:
            out.extend(Parallel(n_jobs=n_jobs)([delayed(evaluator)(job)]))
        except crash_types as exc:
            out.append(_crashed(job, exc))
    return out


def _dask_client():
    """The Dask client of an active ``joblib.parallel_backend("dask")``, if any."""
    from joblib.parallel import get_active_backend

    backend, _ = get_active_backend()
    if type(backend).__name__ != "DaskDistributedBackend":
        return None
    return getattr(backend, "client", None)


class _Interrupt:
    """Turns Ctrl-C into a flag the loop sees even when skorch swallows it.

    skorch stops training quietly on ``KeyboardInterrupt``; our SIGINT handler
    records the interrupt first, so the search stops after the running trial.
    """

    def __init__(self):
        self.flag = False
        self._old = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._old = signal.getsignal(signal.SIGINT)

            def handler(signum, frame):
                self.flag = True
                raise KeyboardInterrupt

            signal.signal(signal.SIGINT, handler)
        return self

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
        return False


def _progress_bar(n_trials, initial, verbose):
    from tqdm.auto import tqdm

    return tqdm(total=n_trials, initial=initial, disable=verbose < 1,
                desc="skautodl search", unit="trial", leave=True)


# ---------------------------------------------------------------------- loop
def run_search(searcher, evaluator, *, scheduler, portfolio=(), n_trials=None,
               end_time=None, reserve=None, seeds, n_jobs=1, devices=("cpu",),
               checkpoint=None, restored=None, extra_state=None, verbose=0):
    """Run trials until ``n_trials``, ``end_time``, exhaustion or Ctrl-C.

    Parameters
    ----------
    searcher : Searcher
    evaluator : callable
        ``evaluator(Job) -> TrialResult`` (picklable for parallel runs).
    scheduler : FullFidelity or Hyperband
    portfolio : list of dict
        Configs evaluated first (and told to the searcher).
    n_trials : int or None
    end_time : float or None
        ``time.time()`` at which the whole search must be over.
    reserve : callable, optional
        ``reserve(best_result) -> seconds`` kept free at the end (the refit).
    seeds : numpy RandomState
        Root RNG; one integer seed is drawn per trial.
    n_jobs : int
        Jobs run at once (1: in this process).
    devices : sequence of str
        Devices assigned to jobs round-robin.
    checkpoint : Checkpoint or None
    restored : dict or None
        State loaded from ``checkpoint``: the search continues from it.
    extra_state : dict, optional
        Saved verbatim in the checkpoint under ``"seeds"`` (the estimator's
        split and search seeds, so a resume reuses them).
    verbose : int
    """
    outcome = SearchOutcome()
    queue = [dict(c) for c in portfolio]
    if restored:
        outcome.results = [TrialResult.from_record(r) for r in restored["results"]]
        outcome.resumed = len(outcome.results)
        outcome.recompute_best()
        queue = queue[restored.get("portfolio_done", 0):]
    portfolio_done = len(portfolio) - len(queue)
    nets = {}  # trial_id -> nets kept for promotions and the best result
    start = time.time()
    bar = _progress_bar(n_trials, len(outcome.results), verbose)
    exhausted = [False]

    def ask(k):
        more = searcher.ask(k)
        if len(more) < k:
            exhausted[0] = True
        return more

    def from_portfolio(k):
        """Known-good configs run first, at full fidelity: a strong result
        early, and a fair score to tell the searcher (not a 4-epoch one)."""
        nonlocal portfolio_done
        out = []
        while queue and len(out) < k:
            c = queue.pop(0)
            portfolio_done += 1
            epochs = int(c.get("max_epochs", DEFAULT_MAX_EPOCHS))
            c = {**c, "max_epochs": epochs}
            out.append(Proposal(config=c, epochs=epochs, total_epochs=epochs,
                                base_config=c, from_portfolio=True))
        return out

    with _Interrupt() as interrupt:
        try:
            while True:
                done = len(outcome.results)
                if n_trials is not None and done >= n_trials:
                    outcome.stop_reason = "n_trials"
                    break
                deadline = None
                if end_time is not None:
                    best = outcome.best
                    held = reserve(best) if reserve is not None and best else 0.0
                    deadline = end_time - held
                    if time.time() >= deadline:
                        outcome.stop_reason = "time_budget"
                        break
                k = n_jobs if n_trials is None else min(n_jobs, n_trials - done)
                proposals = from_portfolio(k) if queue else scheduler.propose(k, ask)
                if not proposals:
                    outcome.stop_reason = "exhausted"
                    break
                jobs = []
                for i, p in enumerate(proposals):
                    parent = outcome.results[p.parent_id] if p.parent_id is not None \
                        else None
                    warm = nets.get(p.parent_id) if p.parent_id is not None else None
                    epochs = p.epochs if warm is not None else p.total_epochs
                    prior = tuple(parent.segments) if warm is not None else ()
                    jobs.append(Job(
                        trial_id=done + i,
                        config={**p.config, "max_epochs": epochs},
                        seed=int(seeds.randint(2**31 - 1)), deadline=deadline,
                        rung=p.rung, parent_id=p.parent_id, warm_nets=warm,
                        prior_segments=prior, pruning=p.pruning,
                        device=devices[(done + i) % len(devices)],
                    ))
                _show_running(bar, outcome, proposals, end_time)
                results = execute(evaluator, jobs, n_jobs)
                for p, _job, result in zip(proposals, jobs, results, strict=True):
                    # n_resources: epochs the config has been trained for
                    result = _with_config(result, {**p.config,
                                                   "max_epochs": p.total_epochs})
                    if p.is_new:
                        searcher.tell([p.base_config],
                                      [result.score if result.ok else math.nan])
                    if not p.from_portfolio:
                        scheduler.report(p, result)
                    _record(outcome, result, nets)
                    if checkpoint is not None:
                        checkpoint.save({
                            "results": [r.to_record() for r in outcome.results],
                            "searcher": _searcher_state(searcher),
                            "scheduler": scheduler.state(),
                            "rng": _rng_state(seeds),
                            "seeds": extra_state,
                            "portfolio_done": portfolio_done,
                        })
                    _report_progress(bar, outcome, result, end_time)
                keep = scheduler.alive() | {outcome.best_index}
                for trial_id in list(nets):
                    if trial_id not in keep:
                        del nets[trial_id]
                if interrupt.flag:
                    raise KeyboardInterrupt
                if exhausted[0] and not scheduler.alive():
                    outcome.stop_reason = "exhausted"
                    break
        except KeyboardInterrupt:
            outcome.stop_reason = "interrupted"
        finally:
            bar.close()
            outcome.search_time = time.time() - start
    outcome.nets = nets
    return outcome


def _with_config(result, config):
    from dataclasses import replace

    return replace(result, config=config)


def _searcher_state(searcher):
    state = getattr(searcher, "state", None)
    return state() if callable(state) else None


def _rng_state(rng):
    kind, keys, pos, has_gauss, cached = rng.get_state()
    return [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)]


def set_rng_state(rng, state):
    import numpy as np

    kind, keys, pos, has_gauss, cached = state
    rng.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))


def _record(outcome, result, nets):
    if not result.ok:
        warnings.warn(
            f"Trial {result.trial_id + 1} failed and was skipped "
            f"({result.error}); config: {result.config}",
            TrialFailedWarning, stacklevel=4,
        )
    if result.nets:
        nets[result.trial_id] = result.nets
    outcome.results.append(result.without_models())
    best = outcome.best
    if result.ok and (best is None or result.score > best.score):
        outcome.best_index = len(outcome.results) - 1
    logger.info(
        "trial %d: %s score=%.4f epochs=%d %.1fs (best %.4f)%s",
        result.trial_id + 1, result.status, result.score, result.epochs_run,
        result.fit_time, outcome.best.score if outcome.best else math.nan,
        f" error: {result.error}" if result.error else "",
    )


def _postfix(outcome, end_time, running):
    best = outcome.best
    postfix = {"best": f"{best.score:.4f}" if best else "-", "running": running}
    if end_time is not None:
        postfix["left"] = f"{max(0.0, end_time - time.time()):.0f}s"
    return postfix


def _show_running(bar, outcome, proposals, end_time):
    """Show the fidelity (epochs, rung) of the trials about to run."""
    running = ",".join(sorted({f"{p.total_epochs}ep/r{p.rung}" for p in proposals}))
    bar.set_postfix(_postfix(outcome, end_time, running), refresh=True)


def _report_progress(bar, outcome, result, end_time):
    bar.update(1)
    bar.set_postfix(_postfix(outcome, end_time, "-"), refresh=False)
