"""Where trials run: in this process, in local worker processes, on Dask.

Every executor has the same small interface, which the search loop uses to
keep each worker busy: ``submit(job)`` starts a trial as soon as a worker is
free, ``wait(timeout)`` blocks until at least one trial has finished (or
``timeout`` seconds passed: then it may return nothing) and returns every
finished ``(job, result)``, ``shutdown(kill)`` ends it (``kill=True`` stops
the trials still running), and ``n_workers`` says how many run at once.

* :class:`InProcessExecutor`: one trial at a time, in this process.
* :class:`ProcessExecutor`: local worker processes of joblib's loky pool
  (joblib's default backend). Each featurization is written once to a
  temporary file that workers load once and keep, so a trial ships only its
  config (and the nets it continues).
* :class:`DaskExecutor`: inside ``joblib.parallel_backend("dask")``, the
  active Dask client; each featurization is scattered to every worker once
  (``broadcast=True``) and trials reference it.
* :class:`JoblibExecutor`: any other joblib backend (threading, ...),
  running the submitted trials through ``joblib.Parallel`` in rounds.

A worker process that dies takes only its own trial with it: the trials
that were running when the pool broke are run again one at a time, and the
one that kills its worker again is recorded as failed.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import ctypes.util
import logging
import os
import shutil
import signal
import sys
import tempfile
import uuid
import warnings
from dataclasses import replace

from skautodl.exceptions import WorkerCountWarning
from skautodl.training.trial import TrialResult

logger = logging.getLogger("skautodl")

#: seconds an idle local worker process lives on (it is reused by the next
#: search meanwhile)
IDLE_WORKER_TIMEOUT = 60
#: Linux prctl option: the signal a process gets when its parent dies
PR_SET_PDEATHSIG = 1


# ---------------------------------------------------------------------- planning
def _active_backend():
    from joblib.parallel import get_active_backend

    backend, _ = get_active_backend()
    return type(backend).__name__


def dask_client():
    """Return the Dask client of an active ``joblib.parallel_backend("dask")``.

    Returns
    -------
    distributed.Client or None
        The client; None outside such a block.
    """
    from joblib.parallel import get_active_backend

    backend, _ = get_active_backend()
    if type(backend).__name__ != "DaskDistributedBackend":
        return None
    return getattr(backend, "client", None)


def plan_workers(n_jobs, owner="skautodl"):
    """Plan the trials at once and the torch threads per trial for ``n_jobs``.

    Parameters
    ----------
    n_jobs : int or None
        None or 1: one trial at a time in this process; ``-1`` every core
        (every Dask worker thread inside ``parallel_backend("dask")``);
        ``-2`` all but one, and so on, as in joblib.
    owner : str, default="skautodl"
        The estimator's name, for the warning.

    Returns
    -------
    n_workers : int
        Trials running at once.
    n_threads : int or None
        The torch threads each trial uses: for local workers ``cores //
        n_workers`` (workers x threads <= cores); on Dask one per trial (Dask
        runs one task per worker thread, and a worker has as many threads as
        it was given cores); None leaves torch's setting alone (one trial at
        a time in this process).

    Notes
    -----
    Local cores are counted by ``joblib.cpu_count()``, which honours
    container limits. A larger ``n_jobs`` is capped with a
    :class:`~skautodl.exceptions.WorkerCountWarning`: more workers than
    cores only contend.

    Examples
    --------
    >>> from skautodl.controller.executors import plan_workers
    >>> plan_workers(1), plan_workers(None)
    ((1, None), (1, None))
    """
    import joblib

    if n_jobs is None or n_jobs == 1:
        return 1, None
    client = dask_client()
    if client is not None:
        capacity = max(1, sum(client.nthreads().values()))
        kind = f"Dask worker threads ({capacity})"
    else:
        capacity = max(1, joblib.cpu_count())
        kind = f"CPU cores ({capacity}, joblib.cpu_count())"
    wanted = n_jobs if n_jobs > 0 else capacity + 1 + n_jobs
    if wanted > capacity:
        warnings.warn(
            f"{owner}(n_jobs={n_jobs}) asks for more parallel trials than there "
            f"are {kind}; running {capacity} at a time.", WorkerCountWarning,
            stacklevel=3,
        )
    n_workers = max(1, min(wanted, capacity))
    if n_workers == 1:
        return 1, None
    return n_workers, (1 if client is not None else max(1, capacity // n_workers))


def resolve_device(device, owner="skautodl"):
    """Resolve the ``device`` parameter: ``"auto"`` is CUDA when present, else CPU.

    Parameters
    ----------
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    owner : str, default="skautodl"
        The estimator's name, for the messages.

    Returns
    -------
    str
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Raises
    ------
    ValueError
        For another string, or a CUDA device that does not exist here.
    """
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return device
    if not (device == "cuda" or (device.startswith("cuda:")
                                 and device[5:].isdigit())):
        raise ValueError(f"The 'device' parameter of {owner} must be 'auto', "
                         f"'cpu', 'cuda' or 'cuda:N'; got {device!r}.")
    if not torch.cuda.is_available():
        raise ValueError(f"{owner}(device={device!r}) but CUDA is not available on "
                         "this machine; use device='auto' or 'cpu'.")
    if ":" in device and int(device[5:]) >= torch.cuda.device_count():
        raise ValueError(f"{owner}(device={device!r}) but only "
                         f"{torch.cuda.device_count()} CUDA device(s) exist.")
    return device


def job_devices(device, n_workers):
    """List the devices new trials are assigned to, round-robin.

    Every GPU when there are several and several workers. A promoted trial
    runs on its parent's device instead (its nets live there).

    Parameters
    ----------
    device : str
        The resolved device (:func:`resolve_device`).
    n_workers : int
        Trials running at once.

    Returns
    -------
    list of str
        ``["cuda:0", "cuda:1", ...]``, or ``[device]``.
    """
    import torch

    if device == "cuda" and n_workers > 1 and torch.cuda.device_count() > 1:
        return [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    return [device]


# ---------------------------------------------------------------------- failures
def worker_crash_types():
    """List the exception types that mean a worker process died.

    Returns
    -------
    tuple of type
        The ``TerminatedWorkerError`` of loky, ``BrokenProcessPool``, and
        the ``KilledWorker`` of Dask when distributed is installed.
    """
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


def crashed(job, exc):
    """Build the failed result of ``job``, whose worker died.

    Parameters
    ----------
    job : skautodl.training.trial.Job
        The trial that was running.
    exc : BaseException
        The error that reported the crash.

    Returns
    -------
    TrialResult
        ``status="failed"``, the error naming the crash.
    """
    return TrialResult(
        config=dict(job.config), status="failed", score=float("nan"),
        error=f"worker process died: {type(exc).__name__}: {exc}"[:2000],
        seed=job.seed, trial_id=job.trial_id, rung=job.rung,
        parent_id=job.parent_id, segments=list(job.prior_segments),
        device=job.device, origin=job.origin,
    )


# ---------------------------------------------------------------------- workers
#: featurizations a worker process has loaded: {path: splits}
_LOADED = {}


class _DataFile:
    """A featurization a local worker loads from disk (once per process).

    Its arrays are memory-mapped read-only (``mmap_mode="r"``): the workers
    share the operating system's one cached copy of the file instead of
    each holding a private copy of the training data.
    """

    def __init__(self, path, featurizers=None):
        self.path = path
        #: with a featurization whose arrays another one's file holds: its
        #: own fitted featurizers, one per split, over those arrays
        self.featurizers = featurizers

    def load(self):
        import joblib

        if self.path not in _LOADED:
            # a new search: drop what earlier searches left in this worker
            folder = os.path.dirname(self.path)
            for old in [p for p in _LOADED if os.path.dirname(p) != folder]:
                del _LOADED[old]
            _LOADED[self.path] = joblib.load(self.path, mmap_mode="r")
        data = _LOADED[self.path]
        if self.featurizers is None:
            return data
        return [replace(split, featurizer=feat)
                for split, feat in zip(data, self.featurizers, strict=True)]


#: the search's evaluator a worker process keeps between trials (its GPU
#: data cache lives on)
_EVALUATOR = {}


def run_job(evaluator, job, data=None):
    """Run a job in a worker: resolve its data, then evaluate it.

    A worker process keeps the search's evaluator between trials (its GPU
    data cache lives on) and loads each featurization's file once.

    Parameters
    ----------
    evaluator : callable
        The search's :class:`~skautodl.training.trial.Evaluator`.
    job : skautodl.training.trial.Job
        The trial.
    data : object, default=None
        The job's featurized splits when they travel apart from it (Dask);
        None: ``job.data``, the splits or a reference to their file.

    Returns
    -------
    TrialResult
        What the evaluator returned.
    """
    key = getattr(evaluator, "key", None)
    if key is not None:
        if key not in _EVALUATOR:
            _EVALUATOR.clear()
            _EVALUATOR[key] = evaluator
        evaluator = _EVALUATOR[key]
    if data is None:
        data = job.data
    if isinstance(data, _DataFile):
        data = data.load()
    return evaluator(replace(job, data=data))


def _die_with_parent():
    """Worker initializer: end this worker when the process that runs the
    search dies, even by ``SIGKILL`` (Linux: ``PR_SET_PDEATHSIG``).

    A loky worker whose parent vanished can otherwise wait forever on its
    queue, holding its memory.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # pragma: no cover - unusual libc
        return
    if os.getppid() == 1:  # the parent died before the line above
        os._exit(0)


def _local_pool(n_workers, n_threads):
    """joblib's reusable loky pool of ``n_workers`` processes."""
    from joblib.externals.loky import get_reusable_executor

    env = None
    if n_threads is not None:
        env = {name: str(n_threads) for name in (
            "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    return get_reusable_executor(max_workers=n_workers, timeout=IDLE_WORKER_TIMEOUT,
                                 env=env, initializer=_die_with_parent)


def _ready():
    """A no-op a new worker runs: importing this module imports the training
    code (torch, skorch), the seconds a worker needs before its first trial."""
    return os.getpid()


def warm_up(n_workers, n_threads=None):
    """Start the local worker processes now, in the background.

    Each worker spends a few seconds importing torch and skorch before it can
    run a trial; started at the beginning of ``fit``, that overlaps with the
    input checks and the first featurization in this process. A no-op for
    one worker and under a Dask (or any non-loky) joblib backend.

    Parameters
    ----------
    n_workers : int
        Worker processes to start.
    n_threads : int or None, default=None
        Thread count of the numeric libraries in each worker.
    """
    if n_workers <= 1 or dask_client() is not None or \
            _active_backend() != "LokyBackend":
        return
    pool = _local_pool(n_workers, n_threads)
    for _ in range(n_workers):
        pool.submit(_ready)


# ---------------------------------------------------------------------- executors
class InProcessExecutor:
    """One trial at a time, in this process (``n_jobs=1``).

    Parameters
    ----------
    evaluator : callable
        ``evaluator(job) -> TrialResult``, usually a
        :class:`~skautodl.training.trial.Evaluator`.
    """

    n_workers = 1

    def __init__(self, evaluator):
        self.evaluator = evaluator
        self._done = []

    @property
    def running(self):
        """Trials submitted and not yet collected by :meth:`wait`."""
        return len(self._done)

    def submit(self, job):
        """Run ``job`` now, in this process; :meth:`wait` returns it.

        Parameters
        ----------
        job : skautodl.training.trial.Job
            The trial to run, with its data.
        """
        self._done.append((job, self.evaluator(job)))

    def wait(self, timeout=None):
        """Return the trials run since the last call (nothing to wait for).

        Parameters
        ----------
        timeout : float or None, default=None
            The most seconds to wait (unused).

        Returns
        -------
        list of (Job, TrialResult)
            Every trial finished since the last call.
        """
        done, self._done = self._done, []
        return done

    def shutdown(self, kill=False):
        """Forget the uncollected results.

        Parameters
        ----------
        kill : bool, default=False
            Stop the trials still running.
        """
        self._done = []


class ProcessExecutor:
    """Local worker processes (joblib's loky pool), refilled one trial at a time.

    Parameters
    ----------
    evaluator : callable
        ``evaluator(job) -> TrialResult``; pickled to the workers.
    n_workers : int
        Worker processes, trials running at once.
    n_threads : int or None
        Thread count of the numeric libraries in each worker.
    """

    def __init__(self, evaluator, n_workers, n_threads=None):
        self.evaluator = evaluator
        self.n_workers = int(n_workers)
        self.n_threads = n_threads
        self._folder = tempfile.mkdtemp(prefix="skautodl-data-")
        self._files = {}  # data_key -> _DataFile
        self._arrays = {}  # ids of a featurization's arrays -> its _DataFile
        self._futures = {}  # future -> job
        self.shipped = 0  # featurizations written for the workers

    @property
    def running(self):
        """Trials running in the workers."""
        return len(self._futures)

    def _pool(self):
        return _local_pool(self.n_workers, self.n_threads)

    def _ship(self, job):
        if job.data is None:
            return job
        ref = self._files.get(job.data_key)
        if ref is None:
            arrays = tuple(id(split.X_train) for split in job.data)
            # a featurization stored once for two keys (FeatureStore) is
            # written once too: the second key's file reference names the
            # first one's file and brings its own featurizers
            twin = self._arrays.get(arrays)
            if twin is not None:
                ref = _DataFile(twin.path, [split.featurizer for split in job.data])
            else:
                import joblib

                path = os.path.join(self._folder, f"{uuid.uuid4().hex}.pkl")
                joblib.dump(job.data, path)
                ref = self._arrays[arrays] = _DataFile(path)
                self.shipped += 1
            self._files[job.data_key] = ref
        return replace(job, data=ref)

    def submit(self, job):
        """Start ``job`` in a worker; its featurization is written to a file once.

        Parameters
        ----------
        job : skautodl.training.trial.Job
            The trial to run, with its data.
        """
        future = self._pool().submit(run_job, self.evaluator, self._ship(job))
        self._futures[future] = job

    def wait(self, timeout=None):
        """Wait until a trial finishes and return every finished one.

        When a worker died, the trials that were running in the broken pool
        are run again one at a time; one that kills its worker again fails.

        Parameters
        ----------
        timeout : float or None, default=None
            The most seconds to wait; None: until a trial finishes. Nothing may come
            back when it passes.

        Returns
        -------
        list of (Job, TrialResult)
            Every trial finished since the last call.
        """
        done, _ = concurrent.futures.wait(
            list(self._futures), timeout=timeout,
            return_when=concurrent.futures.FIRST_COMPLETED)
        out, broken = [], []
        for future in done:
            job = self._futures.pop(future)
            try:
                out.append((job, future.result()))
            except worker_crash_types() as exc:
                broken.append((job, exc))
        if broken:
            # the pool is broken: every trial still running fails with it
            rest = list(self._futures.items())
            self._futures.clear()
            for future, job in rest:
                try:
                    out.append((job, future.result()))
                except worker_crash_types() as exc:
                    broken.append((job, exc))
            logger.warning("a worker process died; re-running its %d trial(s) one "
                           "at a time", len(broken))
            for job, _exc in broken:
                out.append((job, self._run_alone(job)))
        return out

    def _run_alone(self, job):
        """Run ``job`` with no other trial; a second crash fails it."""
        future = self._pool().submit(run_job, self.evaluator, self._ship(job))
        try:
            return future.result()
        except worker_crash_types() as exc:
            return crashed(job, exc)

    def shutdown(self, kill=False):
        """End the executor and delete its data files; the pool is reused later.

        Parameters
        ----------
        kill : bool, default=False
            Stop the trials still running.
        """
        if kill and self._futures:
            for future in self._futures:
                future.cancel()
            try:
                self._pool().shutdown(wait=False, kill_workers=True)
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass
        self._futures.clear()
        shutil.rmtree(self._folder, ignore_errors=True)


class DaskExecutor:
    """Trials on a Dask cluster: data scattered once, one future per trial.

    Parameters
    ----------
    evaluator : callable
        ``evaluator(job) -> TrialResult``, usually a
        :class:`~skautodl.training.trial.Evaluator`; pickled to the
        workers.
    client : distributed.Client
        The active Dask client.
    n_workers : int
        Trials running at once.
    """

    def __init__(self, evaluator, client, n_workers):
        self.evaluator = evaluator
        self.client = client
        self.n_workers = int(n_workers)
        self._data = {}  # data_key -> list of futures (one per split)
        self._futures = {}  # future -> job
        self._retried = {}  # id(job) -> job submitted again after a cancel
        self.shipped = 0  # featurizations scattered

    @property
    def running(self):
        """Trials running on the cluster."""
        return len(self._futures)

    def submit(self, job):
        """Submit ``job`` to the cluster; its featurization is scattered once.

        Parameters
        ----------
        job : skautodl.training.trial.Job
            The trial to run, with its data.
        """
        data = None
        if job.data is not None:
            data = self._data.get(job.data_key)
            if data is None:
                # every worker gets a copy now; trials only reference it
                data = self._data[job.data_key] = self.client.scatter(
                    list(job.data), broadcast=True, hash=False)
                self.shipped += 1
        future = self.client.submit(run_job, self.evaluator,
                                    replace(job, data=None), data, pure=False)
        self._futures[future] = job

    def wait(self, timeout=None):
        """Wait until a trial finishes and return every finished one.

        A trial the cluster cancelled (its data or its worker was lost) is
        submitted again once; a trial whose worker died fails.

        Parameters
        ----------
        timeout : float or None, default=None
            The most seconds to wait; None: until a trial finishes. Nothing may come
            back when it passes.

        Returns
        -------
        list of (Job, TrialResult)
            Every trial finished since the last call.
        """
        import distributed

        # distributed.wait raises (in recent releases) when a future was
        # cancelled, e.g. for "lost dependencies" after a worker died holding
        # scattered data: those trials are submitted again, not lost
        cancelled = getattr(distributed.client, "FuturesCancelledError", ())
        try:
            done, _ = distributed.wait(list(self._futures), timeout=timeout,
                                       return_when="FIRST_COMPLETED")
        except TimeoutError:
            return []
        except cancelled:
            done = [f for f in self._futures if f.done()]
        out = []
        for future in done:
            job = self._futures.pop(future)
            if future.cancelled():
                out.extend(self._resubmit(job))
                continue
            try:
                out.append((job, future.result()))
            except worker_crash_types() as exc:
                out.append((job, crashed(job, exc)))
        return out

    def _resubmit(self, job):
        """Submit a cancelled trial once more (its data scattered anew), or
        fail it if it was cancelled before: ``[]`` or ``[(job, failure)]``."""
        key = id(job)
        if key in self._retried:
            return [(job, crashed(job, RuntimeError(
                "the trial was cancelled twice by the Dask cluster (its data or "
                "its worker was lost)")))]
        self._retried[key] = job  # kept, so its id stays its own
        logger.warning("a Dask worker was lost; submitting its trial again")
        stale = self._data.pop(job.data_key, None)
        if stale is not None:
            self.client.cancel(stale)
        self.submit(job)
        return []

    def shutdown(self, kill=False):
        """End the executor and release the scattered data.

        Parameters
        ----------
        kill : bool, default=False
            Stop the trials still running.
        """
        if kill:
            self.client.cancel(list(self._futures))
        self._futures.clear()
        for futures in self._data.values():
            self.client.cancel(futures)
        self._data.clear()


class JoblibExecutor:
    """Any other joblib backend: the submitted trials run in rounds.

    Less efficient than the executors above (a round waits for its slowest
    trial), but it runs on whatever ``joblib.parallel_backend`` is active.

    Parameters
    ----------
    evaluator : callable
        ``evaluator(job) -> TrialResult``, usually a
        :class:`~skautodl.training.trial.Evaluator`.
    n_workers : int
        The ``n_jobs`` of each round's ``joblib.Parallel``.
    """

    def __init__(self, evaluator, n_workers):
        self.evaluator = evaluator
        self.n_workers = int(n_workers)
        self._queue = []

    @property
    def running(self):
        """Trials queued for the next round."""
        return len(self._queue)

    def submit(self, job):
        """Queue ``job`` for the next round.

        Parameters
        ----------
        job : skautodl.training.trial.Job
            The trial to run, with its data.
        """
        self._queue.append(job)

    def wait(self, timeout=None):
        """Run the queued trials as one round and return them all.

        When a worker dies, the round's trials are run again one at a time;
        one that kills its worker again fails.

        Parameters
        ----------
        timeout : float or None, default=None
            The most seconds to wait (unused: a round runs to its end).

        Returns
        -------
        list of (Job, TrialResult)
            Every trial finished since the last call.
        """
        from sklearn.utils.parallel import Parallel, delayed

        jobs, self._queue = self._queue, []
        try:
            results = Parallel(n_jobs=self.n_workers)(
                delayed(run_job)(self.evaluator, job) for job in jobs)
            return list(zip(jobs, results, strict=True))
        except worker_crash_types() as exc:
            logger.warning("a worker died (%s); re-running its round one trial "
                           "at a time", exc)
        out = []
        for job in jobs:
            try:
                out.extend(zip([job], Parallel(n_jobs=self.n_workers)(
                    [delayed(run_job)(self.evaluator, job)]), strict=True))
            except worker_crash_types() as exc:
                out.append((job, crashed(job, exc)))
        return out

    def shutdown(self, kill=False):
        """Forget the queued trials.

        Parameters
        ----------
        kill : bool, default=False
            Stop the trials still running.
        """
        self._queue = []


def make_executor(evaluator, n_workers, n_threads=None):
    """Choose the executor for ``n_workers`` under the active joblib backend.

    Parameters
    ----------
    evaluator : callable
        ``evaluator(job) -> TrialResult``, usually a
        :class:`~skautodl.training.trial.Evaluator`.
    n_workers : int
        Trials running at once.
    n_threads : int or None, default=None
        Thread count of the numeric libraries in each local worker.

    Returns
    -------
    object
        :class:`InProcessExecutor` for one worker, :class:`DaskExecutor`
        inside ``parallel_backend("dask")``, :class:`ProcessExecutor` under
        joblib's default (loky) backend, :class:`JoblibExecutor` otherwise.
    """
    if n_workers <= 1:
        return InProcessExecutor(evaluator)
    client = dask_client()
    if client is not None:
        return DaskExecutor(evaluator, client, n_workers)
    if _active_backend() == "LokyBackend":
        return ProcessExecutor(evaluator, n_workers, n_threads)
    return JoblibExecutor(evaluator, n_workers)
