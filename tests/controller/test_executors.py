"""Parallel and distributed trials (joblib processes, a Dask cluster), and
Ctrl-C during fit."""

import json
import os
import signal
import threading
import time
from dataclasses import replace

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification
from tests_helpers import MarkerEvaluator, ScriptedSearcher, crash_on_lr

from skautodl import AutoDLClassifier
from skautodl.controller.executors import job_devices, resolve_device
from skautodl.exceptions import SearchInterruptedWarning

# one family: the scripted searchers' trial numbers follow one default config
FAST = {"cv": None, "time_budget": None,
        "search_space": {"max_epochs": 4}, "verbose": 0,
        "random_state": 0, "device": "cpu", "families": ["mlp"]}


@pytest.fixture(scope="module")
def data():
    return make_classification(n_samples=120, n_features=5, random_state=0)


def _workers(est):
    return set(est.leaderboard_["worker"])


def test_n_jobs_runs_trials_in_worker_processes(data):
    X, y = data
    clf = AutoDLClassifier(**FAST, n_trials=4, n_jobs=2).fit(X, y)
    assert clf.n_trials_ == 4
    pids = {int(w.rsplit(":", 1)[1]) for w in _workers(clf)}
    assert os.getpid() not in pids
    assert (clf.leaderboard_["status"] == "ok").all()
    assert clf.score(X, y) > 0.6


def test_n_jobs_results_match_sequential_configs(data):
    X, y = data
    par = AutoDLClassifier(**FAST, n_trials=4, n_jobs=2, search="random").fit(X, y)
    seq = AutoDLClassifier(**FAST, n_trials=4, n_jobs=1, search="random").fit(X, y)
    # same seeds per trial, so the same configs and scores; half of them are
    # the random searcher's own
    assert par.searcher_.n_asked == seq.searcher_.n_asked == 2
    assert par.cv_results_["params"] == seq.cv_results_["params"]
    np.testing.assert_allclose(par.cv_results_["mean_test_score"],
                               seq.cv_results_["mean_test_score"])


def test_dask_local_cluster_ships_each_featurization_once(data, monkeypatch):
    distributed = pytest.importorskip("distributed")
    from joblib import parallel_backend

    from skautodl.data.validation import TaskInfo
    from skautodl.training.trial import feature_key

    scattered, submitted = [], []
    scatter, submit = distributed.Client.scatter, distributed.Client.submit

    def spy_scatter(self, data, *args, **kwargs):
        scattered.append(data)
        return scatter(self, data, *args, **kwargs)

    def spy_submit(self, func, *args, **kwargs):
        submitted.append(args)
        return submit(self, func, *args, **kwargs)

    monkeypatch.setattr(distributed.Client, "scatter", spy_scatter)
    monkeypatch.setattr(distributed.Client, "submit", spy_submit)
    X, y = data
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1,
                                  processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        worker_pids = set(client.run(os.getpid).values())
        with parallel_backend("dask"):
            clf = AutoDLClassifier(**FAST, n_trials=6, n_jobs=2).fit(X, y)
    assert clf.n_trials_ == 6
    assert (clf.leaderboard_["status"] == "ok").all()
    pids = {int(w.rsplit(":", 1)[1]) for w in _workers(clf)}
    assert pids <= worker_pids and os.getpid() not in pids
    assert len(pids) == 2  # both workers ran trials
    assert clf.score(X, y) > 0.6
    # the data travels once per featurization; trials carry only references
    keys = {feature_key(TaskInfo("binary", 2), c) for c in clf.cv_results_["params"]}
    assert len(scattered) == len(keys)
    trials = [args for args in submitted if len(args) == 3]
    assert len(trials) == 6
    for _evaluator, job, data_ref in trials:
        assert job.data is None
        assert all(isinstance(f, distributed.Future) for f in data_ref)


def test_parallel_bayes_search_repeats_no_config(data):
    X, y = data
    clf = AutoDLClassifier(**{**FAST, "search_space": {"max_epochs": 2}},
                           n_trials=16, n_jobs=2, fidelity=None,
                           search="bayes").fit(X, y)
    # two trials are always out at once, so every ask after the first comes
    # while another config is pending (whichever worker is free runs it)
    assert str(os.getpid()) not in {w.rsplit(":", 1)[1] for w in _workers(clf)}
    asked = [c for c, origin in zip(clf.cv_results_["params"],
                                    clf.cv_results_["origin"], strict=True)
             if origin == "searcher"]
    # the portfolio (5 MLP configs) came first; the rest the searcher asked
    assert len(asked) == 11 and clf.searcher_.n_asked == 11
    keys = {json.dumps(c, sort_keys=True) for c in asked}
    assert len(keys) == len(asked)


def test_workers_are_refilled_while_a_long_trial_runs(tmp_path):
    from skautodl.controller import run_search
    from skautodl.search.fidelity import FullFidelity

    class Searcher:
        def ask(self, n=1):
            return [{"family": "fake", "max_epochs": 1} for _ in range(n)]

        def tell(self, configs, scores):
            pass

    # trial 0 finishes only once 3 other trials have run beside it: with
    # workers waiting for a whole batch, only one would have (then it gives
    # up after 20 s)
    outcome = run_search(Searcher(), MarkerEvaluator(tmp_path, wait_for=3),
                         scheduler=FullFidelity(), n_trials=6, n_jobs=2,
                         seeds=np.random.RandomState(0), verbose=0)
    long = next(r for r in outcome.results if r.trial_id == 0)
    assert long.epochs_run >= 3
    assert sorted(r.trial_id for r in outcome.results) == list(range(6))
    assert len({r.worker for r in outcome.results}) == 2


def test_plan_workers_counts_cores_and_caps_with_a_warning(monkeypatch):
    import joblib

    from skautodl.controller.executors import plan_workers
    from skautodl.exceptions import WorkerCountWarning

    monkeypatch.setattr(joblib, "cpu_count", lambda *a, **k: 4)
    assert plan_workers(1) == (1, None)
    assert plan_workers(None) == (1, None)
    assert plan_workers(2) == (2, 2)  # 2 workers x 2 threads = 4 cores
    assert plan_workers(-1) == (4, 1)
    assert plan_workers(-3) == (2, 2)
    with pytest.warns(WorkerCountWarning, match=r"n_jobs=16.*running 4"):
        assert plan_workers(16) == (4, 1)


class _InterruptingSearcher:
    """Raises KeyboardInterrupt (as Ctrl-C would) on its third ask."""

    def setup(self, space, random_state):
        self.space = space
        self.n = 0

    def ask(self, n=1):
        self.n += 1
        if self.n == 3:
            raise KeyboardInterrupt
        return [{**self.space.default_config("mlp"), "lr": 0.001 * (1 + self.n)}]

    def tell(self, configs, scores):
        pass


@pytest.mark.usefixtures("default_portfolio_only")
def test_keyboard_interrupt_keeps_best_model_and_checkpoint(data, tmp_path):
    X, y = data
    clf = AutoDLClassifier(**FAST, n_trials=10, search=_InterruptingSearcher(),
                           checkpoint_dir=tmp_path)
    with pytest.warns(SearchInterruptedWarning, match="interrupted after 3 trials"):
        clf.fit(X, y)
    assert clf.n_trials_ == 3  # the portfolio config and two asks
    assert clf.stop_reason_ == "interrupted"
    assert clf.predict(X).shape == (len(X),)
    # the best trial's own model, handed back without its validation rows
    assert clf.best_estimator_[-1].train_split is None
    assert (tmp_path / "search_state.json").exists()


def test_sigint_during_training_stops_the_search(data):
    X, y = data
    clf = AutoDLClassifier(time_budget=None, n_trials=50, verbose=0, random_state=0,
                           device="cpu", cv=None,
                           search_space={"max_epochs": 100000, "batch_size": 8,
                                         "callbacks__early_stopping__patience":
                                             10**6})
    # whatever handler the process started with (a background job ignores
    # SIGINT): fit installs its own while it runs and puts this one back
    before = signal.getsignal(signal.SIGINT)
    stop = threading.Event()

    def interrupt_once_fit_listens():
        while not stop.is_set() and signal.getsignal(signal.SIGINT) is before:
            time.sleep(0.01)
        if not stop.wait(1.0):  # the first trial is training by now
            os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=interrupt_once_fit_listens, daemon=True)
    thread.start()
    try:
        with pytest.warns(SearchInterruptedWarning):
            clf.fit(X, y)
    finally:
        stop.set()
        thread.join()
    # skorch swallows KeyboardInterrupt inside training; the search still
    # stops right after that trial instead of running 49 more
    assert clf.n_trials_ == 1
    assert clf.predict(X).shape == (len(X),)
    assert signal.getsignal(signal.SIGINT) is before


def test_devices_round_robin_over_gpus(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    assert job_devices("cuda", 2) == ["cuda:0", "cuda:1", "cuda:2"]
    assert job_devices("cuda", 1) == ["cuda"]
    assert job_devices("cuda:1", 4) == ["cuda:1"]
    assert job_devices("cpu", 4) == ["cpu"]


def test_resolve_device():
    import torch

    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto") == expected
    assert resolve_device("cpu") == "cpu"
    with pytest.raises(ValueError, match="'device' parameter.*'tpu'"):
        resolve_device("tpu")


def test_jobs_get_devices_round_robin():
    from skautodl.controller import run_search
    from skautodl.search.fidelity import FullFidelity
    from skautodl.training.trial import TrialResult

    seen = []

    class Searcher:
        def ask(self, n=1):
            return [{"family": "mlp", "max_epochs": 1} for _ in range(n)]

        def tell(self, configs, scores):
            pass

    def evaluator(job):
        seen.append(job.device)
        return TrialResult(config=job.config, status="ok", score=0.5,
                           split_scores=[0.5], trial_id=job.trial_id)

    run_search(Searcher(), evaluator, scheduler=FullFidelity(), n_trials=5,
               seeds=np.random.RandomState(0), devices=["cuda:0", "cuda:1"])
    assert seen == ["cuda:0", "cuda:1", "cuda:0", "cuda:1", "cuda:0"]


@pytest.mark.usefixtures("default_portfolio_only")
def test_dask_dead_worker_takes_only_its_trial(data):
    distributed = pytest.importorskip("distributed")
    import dask
    from joblib import parallel_backend

    X, y = data
    # worker-saturation 1.0: a worker holds only the task it runs (the
    # default, 1.1, lets a one-thread worker queue a second one, which then
    # dies with it: a second failed trial, by the scheduler's timing)
    with dask.config.set({"distributed.scheduler.allowed-failures": 0,
                          "distributed.scheduler.worker-saturation": 1.0}), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1,
                                     processes=True, host="127.0.0.1",
                                     dashboard_address=None) as cluster, \
            distributed.Client(cluster), parallel_backend("dask"):
        clf = AutoDLClassifier(**FAST, n_trials=4, n_jobs=2,
                               search=ScriptedSearcher([0.0042, 0.002, 0.003]),
                               scoring=crash_on_lr(0.0042))
        with pytest.warns(UserWarning, match="worker process died"):
            clf.fit(X, y)
    lb = clf.leaderboard_.set_index("trial")
    assert lb.loc[1, "status"] == "failed"
    assert "KilledWorker" in lb.loc[1, "error"]
    assert (lb.drop(index=1)["status"] == "ok").all()


_TERM_SCRIPT = """
import sys, warnings
from sklearn.base import clone
from sklearn.datasets import make_classification
from skautodl import AutoDLClassifier
X, y = make_classification(n_samples=300, n_features=8, random_state=0)
clf = AutoDLClassifier(time_budget=None, n_trials=int(sys.argv[2]), n_jobs=2,
                       verbose=0, random_state=0, device="cpu", families=["mlp"],
                       fidelity=None, search_space={"max_epochs": 40},
                       cv=None, checkpoint_dir=sys.argv[1])
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    clf.fit(X, y)
print("STOP", clf.stop_reason_, clf.n_trials_, flush=True)
print("WARNINGS", sorted({type(w.message).__name__ for w in caught}), flush=True)
"""


def _alive(pid):
    try:
        with open(f"/proc/{pid}/status") as fh:
            state = next(line for line in fh if line.startswith("State:"))
    except (FileNotFoundError, StopIteration):
        return False
    return "zombie" not in state


class _Search:
    """A search of ``_TERM_SCRIPT`` in a subprocess, with its checkpoint."""

    def __init__(self, tmp_path, stdout):
        import subprocess
        import sys

        from skautodl.controller import CHECKPOINT_FILE

        self.script = tmp_path / "search.py"
        self.script.write_text(_TERM_SCRIPT)
        self.ckpt = tmp_path / "ckpt"
        self.state_file = self.ckpt / CHECKPOINT_FILE
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        self.proc = subprocess.Popen(self.command(200), env=self.env,
                                     stdout=stdout, text=True)

    def command(self, n_trials):
        import sys

        return [sys.executable, str(self.script), str(self.ckpt), str(n_trials)]

    def results(self):
        return json.loads(self.state_file.read_text())["results"]

    def workers(self):
        return {int(r["worker"].rsplit(":", 1)[1]) for r in self.results()}

    def wait_for(self, done, seconds=240):
        """Poll the checkpoint until ``done()`` is true or the search ends."""
        deadline = time.time() + seconds
        while time.time() < deadline and self.proc.poll() is None:
            if self.state_file.exists():
                try:
                    if done():
                        return
                except (json.JSONDecodeError, KeyError):
                    pass
            time.sleep(0.05)
        assert self.proc.poll() is None, "the search ended before it was stopped"
        pytest.fail("the search made no progress")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()


def _wait_dead(pids, seconds=10.0):
    deadline = time.time() + seconds
    while time.time() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.1)
    return [pid for pid in pids if _alive(pid)]


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc (Linux)")
def test_sigterm_keeps_the_best_model_and_leaves_no_worker_behind(tmp_path):
    import subprocess

    search = _Search(tmp_path, subprocess.PIPE)
    try:
        search.wait_for(lambda: len(search.results()) >= 2)
        search.proc.send_signal(signal.SIGTERM)
        out, _ = search.proc.communicate(timeout=120)
    finally:
        search.kill()
    # handled like Ctrl-C: fit returned with the best model so far
    assert search.proc.returncode == 0, out
    assert "STOP interrupted" in out
    assert "SearchInterruptedWarning" in out
    workers = search.workers()
    assert workers and search.proc.pid not in workers
    # no worker process outlives the search
    assert _wait_dead(workers) == []
    # and the checkpoint resumes
    n = len(search.results())
    resumed = subprocess.run(search.command(n + 2), env=search.env,
                             capture_output=True, text=True, timeout=240)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"STOP n_trials {n + 2}" in resumed.stdout


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc (Linux)")
def test_workers_die_with_a_parent_killed_by_sigkill(tmp_path):
    import subprocess

    search = _Search(tmp_path, subprocess.DEVNULL)
    try:
        search.wait_for(lambda: len(search.workers()) >= 2)
        workers = search.workers()
        search.proc.kill()  # SIGKILL: nothing in the process can react
        search.proc.wait()
    finally:
        search.kill()
    assert _wait_dead(workers) == []


def test_workers_read_the_training_arrays_memory_mapped(data):
    from skautodl.controller.executors import ProcessExecutor, _DataFile
    from skautodl.data.featurize import prepare_splits
    from skautodl.data.splits import make_splits
    from skautodl.training.trial import Job

    X, y = data
    splits = prepare_splits(X, y, y, make_splits(X, y, cv=None,
                                                 validation_fraction=0.25,
                                                 classification=True, seed=0))
    executor = ProcessExecutor(evaluator=None, n_workers=2)
    try:
        shipped = executor._ship(Job(trial_id=0, config={}, seed=0, data=splits,
                                     data_key="k"))
        again = executor._ship(Job(trial_id=1, config={}, seed=0, data=splits,
                                   data_key="k"))
        assert isinstance(shipped.data, _DataFile) and executor.shipped == 1
        assert again.data.path == shipped.data.path  # written once
        loaded = shipped.data.load()
        # what a worker trains on: a read-only map of the file, no private copy
        assert isinstance(loaded[0].X_train, np.memmap)
        assert not loaded[0].X_train.flags.writeable
        np.testing.assert_array_equal(loaded[0].X_train, splits[0].X_train)
        assert shipped.data.load() is loaded  # loaded once per process
        # a second key over the same arrays (FeatureStore's shared
        # featurization) names the same file and brings its own featurizers
        other = [replace(s, featurizer=clone(s.featurizer)) for s in splits]
        twin = executor._ship(Job(trial_id=2, config={}, seed=0, data=other,
                                  data_key="k2"))
        assert twin.data.path == shipped.data.path and executor.shipped == 1
        twin_loaded = twin.data.load()
        assert twin_loaded[0].featurizer is not loaded[0].featurizer
        assert twin_loaded[0].X_train is loaded[0].X_train
    finally:
        executor.shutdown()


class _FakeFuture:
    def __init__(self, value):
        self.value, self.state = value, "pending"

    def done(self):
        return self.state != "pending"

    def cancelled(self):
        return self.state == "cancelled"

    def result(self):
        return self.value


class _FakeClient:
    """Records scatters and submissions; futures finish when told to."""

    def __init__(self):
        self.scattered, self.submitted, self.cancelled = 0, [], []

    def scatter(self, data, **kwargs):
        self.scattered += 1
        return [f"ref{self.scattered}"]

    def submit(self, func, evaluator, job, data, pure=False):
        future = _FakeFuture(("result", job.trial_id, tuple(data)))
        self.submitted.append(future)
        return future

    def cancel(self, futures):
        self.cancelled.append(futures)


def test_dask_trial_cancelled_by_the_cluster_is_submitted_again(monkeypatch):
    """A worker that dies holding scattered data cancels its dependents
    ("lost dependencies"): the trial is submitted again with its data
    scattered anew, and fails only if it is cancelled a second time."""
    distributed = pytest.importorskip("distributed")
    from skautodl.controller.executors import DaskExecutor
    from skautodl.training.trial import Job

    class Cancelled(Exception):
        pass

    monkeypatch.setattr(distributed.client, "FuturesCancelledError", Cancelled,
                        raising=False)
    outcome = {}

    def fake_wait(futures, timeout=None, return_when=None):
        if outcome.get("cancel"):
            futures[0].state = "cancelled"
            raise Cancelled("1 Future cancelled: lost dependencies")
        futures[0].state = "finished"
        return {futures[0]}, set()

    monkeypatch.setattr(distributed, "wait", fake_wait)
    client = _FakeClient()
    executor = DaskExecutor(lambda job, data: None, client, n_workers=1)
    job = Job(trial_id=7, config={"family": "mlp"}, seed=0, data=("X",),
              data_key="k")
    executor.submit(job)
    outcome["cancel"] = True
    assert executor.wait() == []                 # cancelled: submitted again
    assert client.scattered == 2 and len(client.submitted) == 2
    assert client.cancelled == [["ref1"]]        # the stale data is released
    outcome["cancel"] = False
    [(done_job, result)] = executor.wait()
    assert done_job is job and result == ("result", 7, ("ref2",))
    # cancelled twice: the trial fails, the search goes on
    job2 = Job(trial_id=8, config={"family": "mlp"}, seed=0, data=("X",),
               data_key="k")
    executor.submit(job2)
    outcome["cancel"] = True
    assert executor.wait() == []
    [(failed_job, failure)] = executor.wait()
    assert failed_job is job2 and failure.status == "failed"
    assert "cancelled twice" in failure.error
