"""Faults survive: raising, diverging, out-of-memory and crashing trials are
recorded and the search goes on; memory stays flat over many trials."""

import gc
import os
import weakref

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from tests_helpers import ScriptedSearcher, crash_on_lr, scorer_failing_on

from skautodl import AutoDLClassifier
from skautodl.exceptions import AllTrialsFailedError, TrialFailedWarning

# one family: the scripted searchers' trial numbers follow one default config
FAST = {"cv": None, "time_budget": None,
        "search_space": {"max_epochs": 4}, "verbose": 0,
        "random_state": 0, "device": "cpu", "families": ["mlp"]}


@pytest.fixture(scope="module")
def data():
    return make_classification(n_samples=120, n_features=5, random_state=0)


pytestmark = pytest.mark.usefixtures("default_portfolio_only")


@pytest.mark.parametrize("exc_factory, expected", [
    (lambda: RuntimeError("boom"), "RuntimeError: boom"),
    (lambda: MemoryError("no room"), "MemoryError: no room"),
    (lambda: torch.cuda.OutOfMemoryError("CUDA out of memory"),
     "OutOfMemoryError: CUDA out of memory"),
])
def test_raising_trial_is_recorded_and_search_goes_on(data, exc_factory, expected):
    X, y = data
    clf = AutoDLClassifier(**FAST, n_trials=4,
                           search=ScriptedSearcher([0.002, 0.003, 0.004]),
                           scoring=scorer_failing_on(0.003, exc_factory))
    with pytest.warns(TrialFailedWarning, match="Trial 3 failed"):
        clf.fit(X, y)
    lb = clf.leaderboard_.set_index("trial")
    assert lb.loc[2, "status"] == "failed"
    assert lb.loc[2, "error"] == expected
    assert (lb.drop(index=2)["status"] == "ok").all()
    assert clf.best_params_["lr"] != 0.003
    assert np.isnan(clf.cv_results_["mean_test_score"][2])


def test_diverging_trial_fails_within_one_epoch(data):
    X, y = data
    clf = AutoDLClassifier(**{**FAST, "search_space": {"max_epochs": 30}},
                           n_trials=2, search=ScriptedSearcher([1e9]))
    with pytest.warns(TrialFailedWarning, match="diverged"):
        clf.fit(X, y)
    lb = clf.leaderboard_.set_index("trial")
    assert lb.loc[1, "status"] == "failed"
    assert "TrialDiverged" in lb.loc[1, "error"]
    assert lb.loc[1, "epochs_run"] <= 1
    assert clf.best_index_ == 0


def test_bayes_surrogate_never_sees_non_finite_scores(data):
    from skautodl.search.searchers.bayes import BayesSearcher

    X, y = data
    clf = AutoDLClassifier(**{**FAST, "search_space": {
        "max_epochs": 3, "module__norm": ["bogus", "none"]}}, n_trials=7)
    with pytest.warns(TrialFailedWarning):
        clf.fit(X, y)
    assert (clf.leaderboard_["status"] == "failed").any()
    # replay what the searcher was told into a fresh one: skopt's own
    # records must hold finite values only
    assert isinstance(clf.searcher_, BayesSearcher)
    for opt in clf.searcher_._optimizers.values():
        assert np.all(np.isfinite(opt.yi))


def test_all_failing_quotes_first_failure(data):
    X, y = data
    clf = AutoDLClassifier(**FAST, n_trials=2,
                           scoring=scorer_failing_on(0.001,
                                                      lambda: ValueError("first")))
    clf.search = ScriptedSearcher([0.001])
    with pytest.warns(TrialFailedWarning):
        with pytest.raises(AllTrialsFailedError, match="ValueError: first"):
            clf.fit(X, y)


def test_trial_over_its_budget_stops_between_batches(data):
    X, y = data
    clf = AutoDLClassifier(time_budget=3, verbose=0, random_state=0, device="cpu",
                           search_space={"max_epochs": 100000,
                                         "callbacks__early_stopping__patience": 10**6,
                                         "batch_size": 8})
    clf.fit(X, y)
    # the trial training "forever" was stopped by its deadline (seconds are
    # measured in benchmarks/, not here)
    assert clf.leaderboard_["stopped_by_budget"].any()
    assert clf.stop_reason_ == "time_budget"


def test_dead_worker_takes_only_its_trial(data):
    X, y = data
    clf = AutoDLClassifier(**FAST, n_trials=4, n_jobs=2,
                           search=ScriptedSearcher([0.0042, 0.002, 0.003]),
                           scoring=crash_on_lr(0.0042))
    with pytest.warns(TrialFailedWarning, match="worker process died"):
        clf.fit(X, y)
    lb = clf.leaderboard_.set_index("trial")
    assert lb.loc[1, "status"] == "failed"
    assert "worker process died" in lb.loc[1, "error"]
    assert (lb.drop(index=1)["status"] == "ok").all()
    assert clf.n_trials_ == 4


def _rss_mb():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="Linux only")
def test_soak_memory_flat_and_only_kept_models_alive(data):
    from skautodl.training.net import AutoNetClassifier

    X, y = data
    # warm-up fit: imports, allocator pools, skopt caches
    AutoDLClassifier(**FAST, n_trials=5, search="random").fit(X, y)
    gc.collect()
    # nets that outlive earlier tests (a worker pool's manager thread holds
    # on to its last result until the next one) are not this fit's
    earlier = weakref.WeakSet(o for o in gc.get_objects()
                              if type(o) is AutoNetClassifier)
    before = _rss_mb()
    # a single model: memory must not grow with the number of trials
    clf = AutoDLClassifier(**{**FAST, "search_space": {"max_epochs": 2}},
                           n_trials=30, search="random",
                           ensemble_size=1).fit(X, y)
    gc.collect()
    growth = _rss_mb() - before
    # documented bound: under 1.5 MB per trial (measured about 0.1 MB)
    assert growth < 1.5 * 30, f"resident memory grew {growth:.1f} MB"
    alive = [o for o in gc.get_objects() if type(o) is AutoNetClassifier
             and o not in earlier]
    # the fitted estimator keeps exactly one net: its refit best model
    assert clf.best_estimator_[-1] in alive
    assert len([n for n in alive if n is not clf.best_estimator_[-1]]) <= 1
    earlier.update(alive)
    del clf, alive
    gc.collect()

    # an ensemble keeps its members' nets and nothing else of the search
    ens = AutoDLClassifier(**{**FAST, "search_space": {"max_epochs": 2}},
                           n_trials=12, search="random",
                           ensemble_size=5).fit(X, y)
    gc.collect()
    alive = [o for o in gc.get_objects() if type(o) is AutoNetClassifier
             and o not in earlier]
    members = {id(model[-1]) for model, _ in ens.ensemble_}
    assert members <= {id(n) for n in alive}
    assert len([n for n in alive if id(n) not in members]) <= 1
