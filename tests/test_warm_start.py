"""warm_start: an earlier search's best configs run first and its history
seeds the searcher; skautodl.report.compare."""

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, make_classification, make_friedman1
from skopt.space import Real

from skautodl import AutoDLClassifier, AutoDLRegressor, save
from skautodl.report import compare
from skautodl.search import SearchSpec
from skautodl.search.portfolio import warm_configs, warm_portfolio
from skautodl.search.space import SearchSpace

SEARCH = {"time_budget": None, "n_trials": 6, "cv": None, "fidelity": None,
          "families": ["mlp"], "search_space": {"max_epochs": 8}, "verbose": 0,
          "ensemble_size": 1, "random_state": 0}


@pytest.fixture(scope="module")
def grown():
    X, y = make_classification(500, 12, n_informative=6, random_state=3)
    return X, y


@pytest.fixture(scope="module")
def first(grown):
    X, y = grown
    return AutoDLClassifier(**SEARCH).fit(X[:320], y[:320])


def _space():
    from skautodl.data.validation import TaskInfo
    from skautodl.networks.registry import FAMILIES

    task = TaskInfo(kind="binary", n_outputs=2, n_samples=100)
    return SearchSpace.for_task([FAMILIES["mlp"]], task, {"max_epochs": 10})


def test_warm_configs_keep_the_fitting_ones_best_first():
    space = _space()
    good = space.default_config("mlp")
    other = dict(good, lr=good["lr"] * 2)
    outside = dict(good, lr=10.0)             # beyond the lr dimension
    foreign = {"family": "cnn", "lr": 0.01}   # a family not searched
    history = [(good, 0.7), (other, 0.9), (outside, 0.95), (foreign, 0.99),
               (good, 0.8), (dict(other, lr=other["lr"] * 2), float("nan"))]
    warm = warm_configs(history, space)
    assert [s for _, s in warm] == [0.9, 0.8]  # deduplicated, best first
    assert warm[0][0]["lr"] == other["lr"] and warm[1][0]["lr"] == good["lr"]
    assert warm[0][0]["max_epochs"] == 10      # fixed values of the new space
    portfolio = warm_portfolio(warm, [good, {"family": "mlp", "x": 1}], n_trials=5,
                               size=1)
    assert portfolio == [warm[0][0], good, {"family": "mlp", "x": 1}]
    assert len(warm_portfolio(warm, [good] * 9, n_trials=4)) == 2


#: a random search over a wide learning-rate range and few epochs: many of
#: its configs are poor, so where it starts matters
RANDOM = {"time_budget": None, "n_trials": 5, "cv": None, "fidelity": None,
          "families": ["mlp"], "ensemble_size": 1, "verbose": 0,
          "search_space": {"max_epochs": 6,
                           "lr": Real(1e-5, 0.3, prior="log-uniform")},
          "search": SearchSpec("random", portfolio=False)}


def test_warm_start_on_grown_data_reaches_the_first_score_in_fewer_trials():
    def trials_to_reach(est, target):
        scores = np.asarray(est.cv_results_["mean_test_score"])
        hits = np.flatnonzero(scores >= target - 1e-12)
        return int(hits[0]) + 1 if len(hits) else np.inf

    warm_counts, cold_counts = [], []
    for seed in range(3):
        X, y = make_friedman1(500, noise=0.5, random_state=seed)
        first = AutoDLRegressor(**RANDOM, random_state=seed).fit(X[:320], y[:320])
        cold = AutoDLRegressor(**RANDOM, random_state=seed + 10).fit(X, y)
        warm = AutoDLRegressor(**RANDOM, random_state=seed + 10, warm_start=True)
        warm.__dict__.update(cv_results_=first.cv_results_)  # as if fitted first
        warm.fit(X, y)
        warm_counts.append(trials_to_reach(warm, first.best_score_))
        cold_counts.append(trials_to_reach(cold, first.best_score_))
        # its first trial is the earlier search's best config
        assert warm.cv_results_["params"][0]["lr"] == first.best_params_["lr"]
        # the searcher was told the earlier history before proposing
        assert len(warm.searcher_.history) == first.n_trials_ + warm.n_trials_
    assert sum(warm_counts) < sum(cold_counts), (warm_counts, cold_counts)
    assert max(warm_counts) <= 2


def test_warm_start_from_a_file_and_a_checkpoint(first, grown, tmp_path):
    X, y = grown
    save(first, tmp_path / "first.skautodl")
    from_file = AutoDLClassifier(**{**SEARCH, "n_trials": 2},
                                 warm_start=tmp_path / "first.skautodl").fit(
                                     X[:200], y[:200])
    best = first.best_params_
    assert from_file.cv_results_["params"][0]["lr"] == best["lr"]
    AutoDLClassifier(**{**SEARCH, "n_trials": 3},
                     checkpoint_dir=tmp_path / "ckpt").fit(X[:200], y[:200])
    from_ckpt = AutoDLClassifier(**{**SEARCH, "n_trials": 2},
                                 warm_start=str(tmp_path / "ckpt")).fit(
                                     X[:200], y[:200])
    assert len(from_ckpt.searcher_.history) == 3 + 2


def test_warm_start_true_on_a_first_fit_is_a_cold_fit(grown):
    X, y = grown
    a = AutoDLClassifier(**{**SEARCH, "n_trials": 2}, warm_start=True).fit(
        X[:300], y[:300])
    b = AutoDLClassifier(**{**SEARCH, "n_trials": 2}).fit(X[:300], y[:300])
    np.testing.assert_array_equal(a.predict_proba(X[300:]), b.predict_proba(X[300:]))


def test_warm_start_errors(tmp_path):
    X, y = load_diabetes(return_X_y=True)
    reg = AutoDLRegressor(**{**SEARCH, "n_trials": 1}).fit(X[:100], y[:100])
    save(reg, tmp_path / "reg.skautodl")
    with pytest.raises(ValueError, match="can only warm-start from an "
                                         "AutoDLClassifier"):
        AutoDLClassifier(**SEARCH, warm_start=tmp_path / "reg.skautodl").fit(
            X[:100], y[:100] > 140)
    with pytest.raises(FileNotFoundError, match="no such model file"):
        AutoDLRegressor(**SEARCH, warm_start=tmp_path / "none").fit(X[:100],
                                                                    y[:100])


def test_compare_reports_scores_sizes_and_changes(first, grown, capsys):
    X, y = grown
    new = AutoDLClassifier(**{**SEARCH, "n_trials": 2}, warm_start=True)
    new.__dict__.update(cv_results_=first.cv_results_)
    new.fit(X[:400], y[:400])
    table = compare(first, new, X[400:], y[400:])
    out = capsys.readouterr().out
    assert "test accuracy" in out and "trials by family" in out
    assert table.loc["test accuracy", "old"] == pytest.approx(
        first.score(X[400:], y[400:]))
    assert table.loc["trials", "change"] == new.n_trials_ - first.n_trials_
    assert table.loc["file bytes", "old"] > 0
    assert table.loc["network parameters", "new"] > 0
