"""Checkpoint and resume: atomic state after every trial, exact resume,
refusal on other data or parameters, clear errors on corrupted files, and a
search killed with SIGKILL that resumes without losing or repeating trials."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from sklearn.datasets import make_classification

from skautodl import AutoDLClassifier
from skautodl.controller import CHECKPOINT_FILE, CheckpointError

FAST = {"cv": None, "time_budget": None,
        "search_space": {"max_epochs": 4}, "verbose": 0,
            "random_state": 0, "device": "cpu"}


@pytest.fixture(scope="module")
def data():
    return make_classification(n_samples=120, n_features=5, random_state=0)


def _state(directory):
    with open(os.path.join(directory, CHECKPOINT_FILE)) as fh:
        return json.load(fh)


def _configs(est):
    return est.cv_results_["params"]


def test_state_written_after_every_trial(data, tmp_path):
    X, y = data
    AutoDLClassifier(**FAST, n_trials=3, checkpoint_dir=tmp_path).fit(X, y)
    state = _state(tmp_path)
    assert len(state["results"]) == 3
    assert [r["trial_id"] for r in state["results"]] == [0, 1, 2]
    assert state["searcher"]["history"]
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


@pytest.mark.parametrize("search", ["bayes", "random", "evolution"])
def test_resume_continues_without_repeating(data, tmp_path, search):
    from skautodl.search import SearchSpec

    X, y = data
    # no portfolio: every trial is the searcher's, so its state is what resumes
    params = dict(FAST, search=SearchSpec(search, portfolio=False),
                  checkpoint_dir=tmp_path)
    AutoDLClassifier(**params, n_trials=3).fit(X, y)
    first = _state(tmp_path)["results"]
    resumed = AutoDLClassifier(**params, n_trials=5).fit(X, y)
    assert resumed.n_trials_ == 5
    assert set(resumed.cv_results_["origin"]) <= {"searcher", "promotion"}
    assert resumed.searcher_.n_asked == 5  # the 3 restored asks and 2 new ones
    # the three finished trials come back as they were, not re-run
    for old, new in zip(first, _configs(resumed)[:3], strict=True):
        assert old["config"] == new
    np.testing.assert_array_equal(
        resumed.cv_results_["mean_test_score"][:3], [r["score"] for r in first])
    # and the resumed search proposes what an uninterrupted one would have
    fresh = AutoDLClassifier(**{**params, "checkpoint_dir": None},
                             n_trials=5).fit(X, y)
    assert _configs(fresh) == _configs(resumed)


def test_refuses_other_data(data, tmp_path):
    X, y = data
    AutoDLClassifier(**FAST, n_trials=1, checkpoint_dir=tmp_path).fit(X, y)
    with pytest.raises(CheckpointError, match="different data"):
        AutoDLClassifier(**FAST, n_trials=2, checkpoint_dir=tmp_path).fit(X[:-1],
                                                                          y[:-1])


def test_refuses_other_parameters(data, tmp_path):
    X, y = data
    AutoDLClassifier(**FAST, n_trials=1, checkpoint_dir=tmp_path).fit(X, y)
    with pytest.raises(CheckpointError, match=r"different parameters \(search\)"):
        AutoDLClassifier(**{**FAST, "search": "random"}, n_trials=2,
                         checkpoint_dir=tmp_path).fit(X, y)
    # budget-like parameters may change between runs
    est = AutoDLClassifier(**FAST, n_trials=2, checkpoint_dir=tmp_path, n_jobs=1)
    assert est.fit(X, y).n_trials_ == 2


@pytest.mark.parametrize("content", [
    '{"format": 2, "fingerprint": {"da',  # truncated mid-write
    "not json at all",
    '{"format": 99}',
    '{"format": 1, "results": []}',  # an older release's format
    '{"format": 2, "fingerprint": {}}',  # keys missing
])
def test_corrupted_checkpoint_gives_clear_error(data, tmp_path, content):
    X, y = data
    (tmp_path / CHECKPOINT_FILE).write_text(content)
    with pytest.raises(CheckpointError, match="corrupted or truncated.*Delete"):
        AutoDLClassifier(**FAST, n_trials=2, checkpoint_dir=tmp_path).fit(X, y)
    # nothing the user saved is overwritten by the failed attempt
    assert (tmp_path / CHECKPOINT_FILE).read_text() == content


_SCRIPT = textwrap.dedent("""
    import sys
    from sklearn.datasets import make_classification
    from skautodl import AutoDLClassifier
    X, y = make_classification(n_samples=120, n_features=5, random_state=0)
    AutoDLClassifier(time_budget=None, n_trials=8, verbose=0, random_state=0,
                     device="cpu", search_space={"max_epochs": 60},
                     checkpoint_dir=sys.argv[1]).fit(X, y)
""")


def test_sigkill_mid_search_then_resume(data, tmp_path):
    X, y = data
    script = tmp_path / "search.py"
    script.write_text(_SCRIPT)
    ckpt = tmp_path / "ckpt"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, str(script), str(ckpt)], env=env)
    try:
        deadline = time.time() + 240
        n_done = 0
        while time.time() < deadline and proc.poll() is None:
            if (ckpt / CHECKPOINT_FILE).exists():
                try:
                    n_done = len(_state(ckpt)["results"])
                except (json.JSONDecodeError, KeyError):
                    pytest.fail("a reader saw a half-written checkpoint")
                if n_done >= 2:
                    break
            time.sleep(0.05)
        assert proc.poll() is None, "the search finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    saved = _state(ckpt)["results"]
    assert 2 <= len(saved) < 8
    resumed = AutoDLClassifier(time_budget=None, n_trials=8, verbose=0,
                               random_state=0, device="cpu",
                               search_space={"max_epochs": 60},
                               checkpoint_dir=ckpt).fit(X, y)
    assert resumed.n_trials_ == 8
    final = _state(ckpt)["results"]
    assert [r["trial_id"] for r in final] == list(range(8))
    # no finished trial lost or repeated: the saved ones are kept verbatim
    for old, new in zip(saved, final, strict=False):
        assert old == new
    configs = [json.dumps(r["config"], sort_keys=True) for r in final]
    assert len(set(configs)) == 8


def test_resume_keeps_searchspec_options(data, tmp_path):
    from skautodl.search import SearchSpec

    X, y = data
    params = dict(FAST, search=SearchSpec("evolution", population_size=3,
                                          portfolio=False),
                  checkpoint_dir=tmp_path)
    AutoDLClassifier(**params, n_trials=2).fit(X, y)
    resumed = AutoDLClassifier(**params, n_trials=4).fit(X, y)
    assert resumed.searcher_.population_size == 3
    assert resumed.searcher_.n_asked == 4
    fresh = AutoDLClassifier(**{**params, "checkpoint_dir": None}, n_trials=4).fit(X, y)
    assert _configs(fresh) == _configs(resumed)


def test_a_resumed_search_keeps_its_own_budget(data, tmp_path, monkeypatch,
                                               deadline_spy):
    from skautodl.search.searchers import BayesSearcher

    X, y = data
    budgets, deadlines = deadline_spy
    AutoDLClassifier(**FAST, n_trials=2, checkpoint_dir=tmp_path).fit(X, y)
    budgets.clear()
    deadlines.clear()
    resumed = AutoDLClassifier(**{**FAST, "time_budget": 60}, n_trials=4,
                               checkpoint_dir=tmp_path).fit(X, y)
    (budget,) = budgets
    assert resumed.n_trials_ == 4 and len(deadlines) == 2
    # the new trials run inside this fit's budget, counted from its start
    assert all(budget.start < d <= budget.end_time for d in deadlines)

    # restoring the searcher counts against the budget too: when it uses the
    # whole budget, no trial runs and fit still returns the restored best
    replay = BayesSearcher.from_state

    def slow_replay(*args, **kwargs):
        time.sleep(1.2)
        return replay(*args, **kwargs)

    monkeypatch.setattr(BayesSearcher, "from_state", slow_replay)
    deadlines.clear()
    late = AutoDLClassifier(**{**FAST, "time_budget": 1}, n_trials=8,
                            checkpoint_dir=tmp_path).fit(X, y)
    assert deadlines == [] and late.stop_reason_ == "time_budget"
    assert late.n_trials_ == 4
    assert late.predict(X).shape == (len(X),)


# ----------------------------------------------------------------------------
# hardening: checkpoints and processes
TINY = {**FAST, "search_space": {"max_epochs": 2}}


@pytest.fixture
def trials_run(monkeypatch):
    """Trial ids the in-process evaluator was called with."""
    from skautodl.training.trial import Evaluator

    seen = []
    real = Evaluator.__call__

    def spy(self, job):
        seen.append(job.trial_id)
        return real(self, job)

    monkeypatch.setattr(Evaluator, "__call__", spy)
    return seen


def _inside(fd, directory):
    """Whether the file behind descriptor ``fd`` lies in ``directory``."""
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return False
    return target.startswith(str(directory) + os.sep)


def _fail_writes_in(monkeypatch, directory, errno_, when=lambda: True):
    """os.write / os.fsync on files in ``directory`` raise ``OSError(errno_)``."""
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc/self/fd")
    real_write, real_fsync = os.write, os.fsync

    def write(fd, data):
        if when() and _inside(fd, directory):
            raise OSError(errno_, os.strerror(errno_))
        return real_write(fd, data)

    def fsync(fd):
        if when() and _inside(fd, directory):
            raise OSError(errno_, os.strerror(errno_))
        return real_fsync(fd)

    monkeypatch.setattr(os, "write", write)
    monkeypatch.setattr(os, "fsync", fsync)


def _deny_creation_in(monkeypatch, directory):
    """Creating or writing a file in ``directory`` raises PermissionError."""
    import builtins
    import errno

    real_os_open, real_open = os.open, builtins.open
    inside = str(directory) + os.sep

    def denied(path):
        return os.fspath(path).startswith(inside)

    def os_open(path, flags, *args, **kwargs):
        if denied(path) and flags & (os.O_CREAT | os.O_WRONLY | os.O_RDWR):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
        return real_os_open(path, flags, *args, **kwargs)

    def open_(file, mode="r", *args, **kwargs):
        if isinstance(file, str | os.PathLike) and denied(file) and set(mode) & set(
                "wax+"):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), file)
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(builtins, "open", open_)


# 7. checkpoint_dir is checked before the first trial ------------------------
def test_checkpoint_dir_that_is_a_file_fails_before_any_trial(data, tmp_path,
                                                              trials_run):
    X, y = data
    path = tmp_path / "a_file"
    path.write_text("mine")
    with pytest.raises(CheckpointError, match="is not a directory"):
        AutoDLClassifier(**TINY, n_trials=1, checkpoint_dir=path).fit(X, y)
    assert trials_run == []
    assert path.read_text() == "mine"


def test_unwritable_checkpoint_dir_fails_before_any_trial(data, tmp_path,
                                                          monkeypatch, trials_run):
    X, y = data
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    _deny_creation_in(monkeypatch, ckpt)
    with pytest.raises(CheckpointError, match=r"not writable \(PermissionError"):
        AutoDLClassifier(**TINY, n_trials=1, checkpoint_dir=ckpt).fit(X, y)
    assert trials_run == []


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root ignores file permissions")
def test_read_only_checkpoint_dir_fails_before_any_trial(data, tmp_path,
                                                         trials_run):
    X, y = data
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    ckpt.chmod(0o500)
    try:
        with pytest.raises(CheckpointError, match="not writable"):
            AutoDLClassifier(**TINY, n_trials=1, checkpoint_dir=ckpt).fit(X, y)
    finally:
        ckpt.chmod(0o700)
    assert trials_run == []


def test_full_disk_fails_before_any_trial(data, tmp_path, monkeypatch, trials_run):
    import errno

    X, y = data
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    _fail_writes_in(monkeypatch, ckpt, errno.ENOSPC)
    with pytest.raises(CheckpointError, match="no space left"):
        AutoDLClassifier(**TINY, n_trials=1, checkpoint_dir=ckpt).fit(X, y)
    assert trials_run == []
    assert not [p for p in os.listdir(ckpt) if p.endswith(".tmp")]


def test_disk_full_mid_search_warns_and_the_search_goes_on(data, tmp_path,
                                                            monkeypatch):
    import errno
    import warnings

    from skautodl.controller.checkpoint import Checkpoint

    X, y = data
    saves = []
    real_save = Checkpoint.save

    def counting_save(self, state):
        saves.append(len(state["results"]))
        return real_save(self, state)

    monkeypatch.setattr(Checkpoint, "save", counting_save)
    # the disk fills up after the first save
    _fail_writes_in(monkeypatch, tmp_path, errno.ENOSPC, when=lambda: len(saves) > 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = AutoDLClassifier(**TINY, n_trials=3, checkpoint_dir=tmp_path).fit(X, y)
    assert est.n_trials_ == 3  # the search went on in memory
    ours = [w for w in caught if w.category.__name__ == "CheckpointWarning"]
    assert len(ours) == 1, [str(w.message) for w in caught]
    assert "No space left" in str(ours[0].message)
    assert issubclass(ours[0].category, UserWarning)
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    # the last good checkpoint (after trial 1) is intact and resumes
    assert [r["trial_id"] for r in _state(tmp_path)["results"]] == [0]
    monkeypatch.undo()
    resumed = AutoDLClassifier(**TINY, n_trials=1, checkpoint_dir=tmp_path).fit(X, y)
    assert resumed.n_trials_ == 1


# 8. temporary files are created safely -----------------------------------------
def test_temporary_files_do_not_follow_symlinks(data, tmp_path):
    X, y = data
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    # every name the old code used for its temporary file (one per pid)
    planted = [ckpt / f"{CHECKPOINT_FILE}.{os.getpid()}.tmp"]
    planted += [ckpt / f"{CHECKPOINT_FILE}.{pid}.tmp" for pid in range(1, 50)]
    for link in planted:
        link.symlink_to(victim)
    AutoDLClassifier(**TINY, n_trials=2, checkpoint_dir=ckpt).fit(X, y)
    assert victim.read_text() == "precious"
    assert all(link.is_symlink() for link in planted)  # left alone
    assert not (ckpt / CHECKPOINT_FILE).is_symlink()
    assert len(_state(ckpt)["results"]) == 2


def test_temporary_file_names_are_unpredictable(tmp_path, monkeypatch):
    from skautodl.controller.checkpoint import Checkpoint

    replaced = []
    real_replace = os.replace

    def spy(src, dst):
        replaced.append(os.path.basename(src))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    checkpoint = Checkpoint(tmp_path, {"data": "d", "params": {}})
    for _ in range(3):
        checkpoint.save({"results": []})
    assert len(set(replaced)) == 3
    assert not any(str(os.getpid()) in name for name in replaced)
    assert all(name.endswith(".tmp") for name in replaced)


def test_a_symlink_at_the_lock_file_is_refused(data, tmp_path):
    X, y = data
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "search_state.lock").symlink_to(victim)
    with pytest.raises(CheckpointError, match="symbolic link"):
        AutoDLClassifier(**TINY, n_trials=1, checkpoint_dir=ckpt).fit(X, y)
    assert victim.read_text() == "precious"


# 9. one writer per checkpoint ------------------------------------------------
_HOLDER = textwrap.dedent("""
    import os, sys, time, types
    import numpy as np
    # the real checkpoint module, without the package's heavy imports (torch)
    root = sys.argv[1]
    for name, sub in [("skautodl", "skautodl"),
                      ("skautodl.controller", "skautodl/controller")]:
        module = types.ModuleType(name)
        module.__path__ = [os.path.join(root, sub)]
        sys.modules[name] = module
    from skautodl.controller.checkpoint import open_checkpoint
    checkpoint, _ = open_checkpoint(sys.argv[2], np.zeros((2, 2)), np.zeros(2), {})
    print("opened", flush=True)
    time.sleep(60)
""")


def test_a_second_process_cannot_open_a_checkpoint_in_use(data, tmp_path):
    import skautodl

    X, y = data
    ckpt = tmp_path / "ckpt"
    script = tmp_path / "holder.py"
    script.write_text(_HOLDER)
    root = os.path.dirname(os.path.dirname(skautodl.__file__))
    proc = subprocess.Popen([sys.executable, str(script), root, str(ckpt)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "opened"
        with pytest.raises(CheckpointError, match=rf"in use.*process {proc.pid}\b"):
            AutoDLClassifier(**TINY, n_trials=1, checkpoint_dir=ckpt).fit(X, y)
        assert not (ckpt / CHECKPOINT_FILE).exists()
    finally:
        proc.kill()
        proc.wait()
    # the lock died with its process
    est = AutoDLClassifier(**TINY, n_trials=1, checkpoint_dir=ckpt).fit(X, y)
    assert est.n_trials_ == 1


_FORKER = _HOLDER.replace('print("opened", flush=True)', textwrap.dedent("""
    child = os.fork()
    if child == 0:  # a worker forked while the search runs outlives it
        time.sleep(60)
        os._exit(0)
    print("opened", child, flush=True)
"""))


def test_the_lock_does_not_outlive_its_process_in_a_forked_child(tmp_path):
    import skautodl

    ckpt = tmp_path / "ckpt"
    script = tmp_path / "forker.py"
    script.write_text(_FORKER)
    root = os.path.dirname(os.path.dirname(skautodl.__file__))
    proc = subprocess.Popen([sys.executable, str(script), root, str(ckpt)],
                            stdout=subprocess.PIPE, text=True)
    child = None
    try:
        word, child = proc.stdout.readline().split()
        assert word == "opened"
        proc.kill()  # the search's process dies; its forked child lives on
        proc.wait()
        # the child drops its copy in an at-fork hook, which a busy machine
        # may not have scheduled yet: give it a few seconds (it sleeps 60)
        _assert_unlocked(ckpt, wait=10.0)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if child is not None:
            os.kill(int(child), signal.SIGKILL)


def test_a_second_open_in_the_same_process_is_refused(data, tmp_path):
    from skautodl.controller import open_checkpoint

    X, y = data
    first, _ = open_checkpoint(tmp_path, X, y, {})
    try:
        with pytest.raises(CheckpointError, match="in use"):
            open_checkpoint(tmp_path, X, y, {})
        with pytest.raises(CheckpointError, match="in use"):
            AutoDLClassifier(**TINY, n_trials=1, checkpoint_dir=tmp_path).fit(X, y)
    finally:
        first.close()
    first.close()  # closing twice is harmless
    with open_checkpoint(tmp_path, X, y, {})[0] as again:
        assert again.locked
    assert not again.locked


def _assert_unlocked(directory, wait=0.0):
    """Another opener can take the checkpoint's lock (within ``wait`` s)."""
    import time

    from skautodl.controller import Checkpoint

    deadline = time.monotonic() + wait
    while True:
        try:
            Checkpoint(directory, {"data": "", "params": {}}).acquire().close()
            return
        except CheckpointError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.1)


def test_the_lock_is_released_when_the_search_ends(data, tmp_path, monkeypatch):
    from skautodl.controller import loop

    X, y = data
    AutoDLClassifier(**TINY, n_trials=1, checkpoint_dir=tmp_path).fit(X, y)
    _assert_unlocked(tmp_path)  # after a finished fit

    def broken_search(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(loop, "run_search", broken_search)
    with pytest.raises(RuntimeError, match="boom"):
        AutoDLClassifier(**TINY, n_trials=2, checkpoint_dir=tmp_path).fit(X, y)
    _assert_unlocked(tmp_path)  # after a search that raised
    (tmp_path / CHECKPOINT_FILE).write_text("not json")
    with pytest.raises(CheckpointError):
        AutoDLClassifier(**TINY, n_trials=2, checkpoint_dir=tmp_path).fit(X, y)
    _assert_unlocked(tmp_path)  # after a checkpoint that could not be used


def test_a_fit_that_failed_before_its_search_does_not_keep_the_lock(
        data, tmp_path, monkeypatch):
    import skautodl.estimators

    X, y = data

    def bad_splits(*args, **kwargs):
        raise ValueError("bad cv")

    monkeypatch.setattr(skautodl.estimators, "make_splits", bad_splits)
    # the traceback keeps the failed fit's frames (and its controller) alive,
    # as an interactive session does
    with pytest.raises(ValueError, match="bad cv") as failed:
        AutoDLClassifier(**TINY, n_trials=1, checkpoint_dir=tmp_path).fit(X, y)
    monkeypatch.undo()
    est = AutoDLClassifier(**TINY, n_trials=1, checkpoint_dir=tmp_path).fit(X, y)
    assert est.n_trials_ == 1 and failed.traceback


# 10. fingerprint ---------------------------------------------------------------
def test_tabular_checkpoint_refuses_an_image_run_on_the_same_rows(tmp_path):
    rng = np.random.RandomState(0)
    X = rng.rand(40, 16)
    y = np.arange(40) % 2
    AutoDLClassifier(**TINY, n_trials=1, checkpoint_dir=tmp_path).fit(X, y)
    with pytest.raises(CheckpointError, match=r"different parameters \(image_shape\)"):
        AutoDLClassifier(**TINY, n_trials=2, image_shape=(4, 4),
                         checkpoint_dir=tmp_path).fit(X, y)
    assert len(_state(tmp_path)["results"]) == 1


def test_image_shape_is_fingerprinted_as_resolved():
    from skautodl.controller import fingerprint
    from skautodl.data.validation import check_fit_input

    rng = np.random.RandomState(0)
    X = rng.rand(40, 16)
    y = np.arange(40) % 2
    prints = []
    for shape in [(4, 4), [4, 4], (1, 4, 4), None]:
        est = AutoDLClassifier(**TINY, image_shape=shape)
        check_fit_input(est, X if shape else X.reshape(40, 1, 4, 4), y,
                        image_shape=shape, classifier=True)
        prints.append(fingerprint(X, y, est._search_params())["params"]["image_shape"])
    assert len(set(prints)) == 1  # all the same (1, 4, 4) images


def test_callable_scoring_is_fingerprinted_by_qualified_name():
    import joblib
    from sklearn.metrics import accuracy_score, f1_score, make_scorer
    from tests_helpers import closure_scorer, lambda_scorer

    from skautodl.controller import fingerprint

    X, y = np.zeros((3, 2)), np.zeros(3)

    def h(scoring):
        return fingerprint(X, y, {"scoring": scoring})["params"]["scoring"]

    # closures made at the same place hash alike (documented limitation)
    assert h(closure_scorer(0.0)) == h(closure_scorer(1.0))
    assert h(closure_scorer()) != h(lambda_scorer)
    assert h(accuracy_score) != h(f1_score)
    # a make_scorer scorer: its function, kwargs, sign and response method
    assert h(make_scorer(f1_score)) == h(make_scorer(f1_score))
    assert h(make_scorer(f1_score)) != h(make_scorer(accuracy_score))
    assert h(make_scorer(f1_score, average="macro")) != h(
        make_scorer(f1_score, average="micro"))
    assert h(make_scorer(f1_score)) != h(make_scorer(f1_score,
                                                     greater_is_better=False))
    assert h(make_scorer(lambda a, b: 0.0)) == h(make_scorer(lambda a, b: 0.0))
    # strings and None hash as before (old checkpoints stay valid)
    assert h("accuracy") == joblib.hash("accuracy")
    assert h(None) == joblib.hash(None)


_RESUME_LAMBDA = textwrap.dedent("""
    import json, sys
    from sklearn.datasets import make_classification
    from skautodl import AutoDLClassifier
    from tests_helpers import lambda_scorer
    X, y = make_classification(n_samples=120, n_features=5, random_state=0)
    est = AutoDLClassifier(time_budget=None, cv=None, n_trials=2, verbose=0,
                           random_state=0, device="cpu",
                           search_space={"max_epochs": 2},
                           scoring=lambda_scorer, checkpoint_dir=sys.argv[1])
    est.fit(X, y)
    print(json.dumps(list(est.cv_results_["origin"])))
""")


def test_a_lambda_scorer_resumes_in_a_new_process(data, tmp_path):
    from tests_helpers import lambda_scorer

    X, y = data
    ckpt = tmp_path / "ckpt"
    AutoDLClassifier(**TINY, n_trials=1, scoring=lambda_scorer,
                     checkpoint_dir=ckpt).fit(X, y)
    first = _state(ckpt)["results"]
    script = tmp_path / "resume.py"
    script.write_text(_RESUME_LAMBDA)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, str(script), str(ckpt)], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    final = _state(ckpt)["results"]
    assert len(final) == 2 and final[0] == first[0]


# 11. every malformed checkpoint is a CheckpointError -------------------------
@pytest.fixture(scope="module")
def valid_state(data, tmp_path_factory):
    """A real checkpoint of a 3-trial search (portfolio, searcher, Hyperband)."""
    X, y = data
    ckpt = tmp_path_factory.mktemp("valid")
    AutoDLClassifier(**FAST, n_trials=3, checkpoint_dir=ckpt).fit(X, y)
    return _state(ckpt)


def _set(path, value):
    """A mutation setting ``state[path...] = value`` (a missing path: delete)."""
    def mutate(state):
        *parents, last = path
        node = state
        for key in parents:
            node = node[key]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value
    return mutate


_DELETE = object()
_BAD_STATES = [
    ("top level", lambda s: s.clear() or s.update({"x": 1}), None,
     "format"),
    ("not an object", None, "[1, 2]", r"expected a JSON object"),
    ("format type", _set(["format"], "2"), None, "format"),
    ("fingerprint type", _set(["fingerprint"], []), None, "fingerprint"),
    ("fingerprint data", _set(["fingerprint", "data"], 5), None, r"fingerprint\.data"),
    ("fingerprint params", _set(["fingerprint", "params"], "x"), None,
     r"fingerprint\.params"),
    ("fingerprint param value", _set(["fingerprint", "params", "cv"], 1), None,
     r"fingerprint\.params\.cv"),
    ("results type", _set(["results"], {}), None, r"results.*list"),
    ("record type", _set(["results", 0], 5), None, r"results\[0\]"),
    ("record missing key", _set(["results", 0, "config"], _DELETE), None,
     r"results\[0\].*missing.*config"),
    ("record extra key", _set(["results", 0, "colour"], "red"), None,
     r"results\[0\].*unexpected.*colour"),
    ("score type", _set(["results", 0, "score"], "high"), None,
     r"results\[0\]\.score"),
    ("status value", _set(["results", 1, "status"], "great"), None,
     r"results\[1\]\.status"),
    ("config type", _set(["results", 0, "config"], [1]), None,
     r"results\[0\]\.config"),
    ("config family missing", _set(["results", 0, "config", "family"], _DELETE),
     None, r"results\[0\]\.config.*family"),
    ("segments shape", _set(["results", 0, "segments"], [[4]]), None,
     r"results\[0\]\.segments"),
    ("segments type", _set(["results", 0, "segments"], 4), None,
     r"results\[0\]\.segments"),
    ("split scores", _set(["results", 0, "split_scores"], ["a"]), None,
     r"results\[0\]\.split_scores"),
    ("trial id type", _set(["results", 0, "trial_id"], "0"), None,
     r"results\[0\]\.trial_id"),
    ("trial id bool", _set(["results", 0, "trial_id"], True), None,
     r"results\[0\]\.trial_id"),
    ("trial id negative", _set(["results", 0, "trial_id"], -1), None,
     r"results\[0\]\.trial_id"),
    ("duplicate trial ids", _set(["results", 1, "trial_id"], 0), None,
     "duplicate trial_id 0"),
    ("parent id", _set(["results", 0, "parent_id"], "none"), None,
     r"results\[0\]\.parent_id"),
    ("flag type", _set(["results", 0, "pruned"], "no"), None,
     r"results\[0\]\.pruned"),
    ("scheduler type", _set(["scheduler"], []), None, r"scheduler.*object"),
    ("scheduler brackets", _set(["scheduler", "brackets"], 5), None,
     r"scheduler\.brackets"),
    ("bracket rung", _set(["scheduler", "brackets", 0, "rung"], "0"), None,
     r"scheduler\.brackets\[0\]\.rung"),
    ("bracket missing key", _set(["scheduler", "brackets", 0, "plan"], _DELETE),
     None, r"scheduler\.brackets\[0\].*missing.*plan"),
    ("bracket result", _set(["scheduler", "brackets", 0, "results", 0], [1, 2]),
     None, r"scheduler\.brackets\[0\]\.results\[0\]"),
    ("rng length", _set(["rng"], [1, 2]), None, r"\brng\b"),
    ("rng keys", _set(["rng", 1], [1, 2, 3]), None, r"rng\[1\]"),
    ("rng kind", _set(["rng", 0], "PCG64"), None, r"rng\[0\]"),
    ("seeds length", _set(["seeds"], [1]), None, "seeds"),
    ("seeds type", _set(["seeds"], ["a", "b"]), None, r"seeds\[0\]"),
    ("seeds range", _set(["seeds"], [2**40, 1]), None, r"seeds\[0\]"),
    ("portfolio_done type", _set(["portfolio_done"], "x"), None, "portfolio_done"),
    ("portfolio_done items", _set(["portfolio_done"], [1.5]), None,
     r"portfolio_done\[0\]"),
    ("next_trial_id type", _set(["next_trial_id"], "3"), None, "next_trial_id"),
    ("next_trial_id too small", _set(["next_trial_id"], 1), None, "next_trial_id"),
    ("searcher type", _set(["searcher"], 5), None, r"searcher.*object or null"),
    ("searcher history", _set(["searcher", "history"], 5), None,
     r"searcher\.history"),
    ("searcher history item", _set(["searcher", "history", 0], [1, 2]), None,
     r"searcher\.history\[0\]"),
    ("searcher rng", _set(["searcher", "rng"], [1]), None, r"searcher\.rng"),
    ("searcher event", _set(["searcher", "events", 0], ["ask"]), None,
     r"searcher\.events\[0\]"),
    ("bracket rung beyond its plan", _set(["scheduler", "brackets", 0, "rung"], 7),
     None, r"scheduler\.brackets\[0\]\.rung"),
    ("nested too deeply", _set(["results", 0, "config", "x"],
                               json.loads("[" * 200 + "]" * 200)), None,
     "nested too deeply"),
    ("nested beyond the recursion limit", None,
     '{"format": 2, "results": ' + "[" * 100_000 + "]" * 100_000 + "}",
     "nested too deeply"),
    ("family not in the space", _set(["results", 1, "config", "family"], "cnn"),
     None, r"results\[1\] \(trial_id 1\) has family 'cnn'.*not one of"),
    ("unknown family", _set(["results", 0, "config", "family"], "transformer"),
     None, r"results\[0\] \(trial_id 0\) has family 'transformer'"),
]


@pytest.mark.parametrize("mutate, text, message",
                         [case[1:] for case in _BAD_STATES],
                         ids=[case[0] for case in _BAD_STATES])
def test_malformed_checkpoint_gives_clear_error(data, tmp_path, valid_state,
                                               trials_run, mutate, text, message):
    import copy

    X, y = data
    if text is None:
        state = copy.deepcopy(valid_state)
        mutate(state)
        text = json.dumps(state)
    (tmp_path / CHECKPOINT_FILE).write_text(text)
    with pytest.raises(CheckpointError, match=message) as info:
        AutoDLClassifier(**FAST, n_trials=4, checkpoint_dir=tmp_path).fit(X, y)
    assert "Delete that file" in str(info.value) or "trial" in str(info.value)
    assert trials_run == []
    assert (tmp_path / CHECKPOINT_FILE).read_text() == text  # left untouched
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_the_valid_state_itself_resumes(data, tmp_path, valid_state):
    X, y = data
    (tmp_path / CHECKPOINT_FILE).write_text(json.dumps(valid_state))
    est = AutoDLClassifier(**FAST, n_trials=3, checkpoint_dir=tmp_path).fit(X, y)
    assert est.n_trials_ == 3


def test_a_checkpoint_from_before_image_shape_was_fingerprinted_resumes(
        data, tmp_path, valid_state):
    import copy

    X, y = data
    state = copy.deepcopy(valid_state)
    del state["fingerprint"]["params"]["image_shape"]  # an older release's
    (tmp_path / CHECKPOINT_FILE).write_text(json.dumps(state))
    est = AutoDLClassifier(**FAST, n_trials=3, checkpoint_dir=tmp_path).fit(X, y)
    assert est.n_trials_ == 3


def test_record_schema_matches_trial_result():
    from skautodl.controller.checkpoint import RECORD_SCHEMA
    from skautodl.training.trial import TrialResult

    record = TrialResult(config={"family": "mlp"}, status="ok", score=1.0).to_record()
    assert set(RECORD_SCHEMA) == set(record)


def test_a_checkpoint_that_is_a_directory_is_reported_as_such(data, tmp_path):
    X, y = data
    (tmp_path / CHECKPOINT_FILE).mkdir()
    with pytest.raises(CheckpointError, match=r"cannot read the checkpoint.*"
                       r"\(IsADirectoryError") as info:
        AutoDLClassifier(**TINY, n_trials=1, checkpoint_dir=tmp_path).fit(X, y)
    assert "corrupted" not in str(info.value)


def test_an_unreadable_checkpoint_is_reported_as_such(data, tmp_path, monkeypatch,
                                                      valid_state):
    import builtins
    import errno

    X, y = data
    path = tmp_path / CHECKPOINT_FILE
    path.write_text(json.dumps(valid_state))
    real_open = builtins.open

    def open_(file, *args, **kwargs):
        if os.fspath(file) == str(path):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), file)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", open_)
    with pytest.raises(CheckpointError, match=r"cannot read the checkpoint.*"
                       r"PermissionError") as info:
        AutoDLClassifier(**TINY, n_trials=1, checkpoint_dir=tmp_path).fit(X, y)
    assert "corrupted" not in str(info.value)
