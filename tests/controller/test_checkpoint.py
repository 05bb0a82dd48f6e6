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

FAST = {"time_budget": None, "search_space": {"max_epochs": 4}, "verbose": 0,
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
