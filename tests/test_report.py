"""Tests of skautodl/report.py: cv_results and leaderboard."""

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.model_selection import GridSearchCV

from skautodl.report import cv_results, leaderboard
from skautodl.training.trial import TrialResult


def _ok(score, splits, *, fit_time=1.0, score_time=0.1, epochs_run=10, **config):
    return TrialResult(config={"family": "mlp", **config}, status="ok", score=score,
                       split_scores=list(splits), epochs=5, epochs_run=epochs_run,
                       fit_time=fit_time, score_time=score_time)


def _failed(error="ValueError: boom", **config):
    return TrialResult(config={"family": "mlp", **config}, status="failed",
                       score=float("nan"), error=error, fit_time=0.5)


@pytest.fixture
def results():
    from dataclasses import replace

    return [replace(r, trial_id=i) for i, r in enumerate([
        _ok(0.70, [0.6, 0.8], lr=0.01, module__n_units=64),
        _failed(lr=1.0),
        _ok(0.90, [0.9, 0.9], lr=0.001, module__n_units=128, fit_time=4.0,
            epochs_run=20),
        _ok(0.70, [0.7, 0.7], lr=0.1),
    ])]


def test_has_grid_search_cv_keys(results):
    ours = cv_results(results)
    grid = GridSearchCV(DummyClassifier(), {"strategy": ["prior", "uniform"]}, cv=2)
    grid.fit(np.zeros((10, 1)), [0, 1] * 5)
    expected = {k.replace("param_strategy", "param_lr") for k in grid.cv_results_}
    assert expected <= set(ours)
    assert {"param_family", "param_module__n_units", "status", "n_resources",
            "error"} <= set(ours)
    assert all(len(v) == 4 for v in ours.values())


def test_params_and_masked_param_columns(results):
    out = cv_results(results)
    assert out["params"] == [r.config for r in results]
    assert out["params"][0] is not results[0].config  # a copy
    units = out["param_module__n_units"]
    assert isinstance(units, np.ma.MaskedArray)
    np.testing.assert_array_equal(units.mask, [False, True, False, True])
    assert units[0] == 64 and units[2] == 128
    lr = out["param_lr"]
    assert not lr.mask.any()
    assert list(lr) == [0.01, 1.0, 0.001, 0.1]


def test_scores_and_ranks(results):
    out = cv_results(results)
    np.testing.assert_array_equal(out["split0_test_score"], [0.6, np.nan, 0.9, 0.7])
    np.testing.assert_array_equal(out["split1_test_score"], [0.8, np.nan, 0.9, 0.7])
    np.testing.assert_allclose(out["mean_test_score"], [0.7, np.nan, 0.9, 0.7])
    np.testing.assert_allclose(out["std_test_score"], [0.1, np.nan, 0.0, 0.0])
    # best first; ties share the lower rank; the failed trial ranks last
    np.testing.assert_array_equal(out["rank_test_score"], [2, 4, 1, 2])
    assert out["rank_test_score"].dtype.kind == "i"


def test_failed_trials_rank_last_even_below_negative_scores():
    out = cv_results([_failed(), _ok(-1e9, [-1e9]), _failed()])
    np.testing.assert_array_equal(out["rank_test_score"], [2, 1, 2])


def test_times_are_per_split(results):
    out = cv_results(results)
    np.testing.assert_allclose(out["mean_fit_time"], [0.5, 0.5, 2.0, 0.5])
    np.testing.assert_allclose(out["mean_score_time"], [0.05, 0.0, 0.05, 0.05])
    np.testing.assert_array_equal(out["std_fit_time"], 0.0)


def test_status_resources_and_errors(results):
    out = cv_results(results)
    assert list(out["status"]) == ["ok", "failed", "ok", "ok"]
    np.testing.assert_array_equal(out["epochs_run"], [10, 0, 20, 10])
    assert out["error"][1] == "ValueError: boom"
    assert out["error"][0] is None


def test_cv_results_make_a_dataframe(results):
    df = pd.DataFrame(cv_results(results))
    assert len(df) == 4
    assert df.loc[df["rank_test_score"] == 1, "param_lr"].item() == 0.001


def test_no_results():
    out = cv_results([])
    assert out["params"] == [] and len(out["mean_test_score"]) == 0
    assert leaderboard([]).empty


def test_leaderboard_sorted_best_first(results):
    board = leaderboard(results)
    assert list(board["trial"]) == [2, 0, 3, 1]
    assert list(board["rank"]) == [1, 2, 2, 4]
    assert board["score"].iloc[0] == 0.9
    assert math.isnan(board["score"].iloc[-1])
    assert board["status"].iloc[-1] == "failed"
    assert board["error"].iloc[-1] == "ValueError: boom"
    # config keys become columns, missing ones are NaN
    assert board.loc[0, "lr"] == 0.001 and board.loc[0, "module__n_units"] == 128
    assert pd.isna(board.loc[2, "module__n_units"])
    assert {"std_score", "epochs", "epochs_run", "fit_time",
            "stopped_by_budget"} <= set(board.columns)
    assert list(board.index) == [0, 1, 2, 3]


def test_leaderboard_std_score(results):
    board = leaderboard(results).set_index("trial")
    assert board.loc[0, "std_score"] == pytest.approx(0.1)
    assert math.isnan(board.loc[1, "std_score"])


def test_leaderboard_shows_the_headline_columns_first(results):
    from skautodl.report import LEADERBOARD_FIRST

    board = leaderboard(results, weights={2: 0.75, 0: 0.25})
    assert list(board.columns[:8]) == list(LEADERBOARD_FIRST) == [
        "rank", "trial", "family", "score", "status", "fidelity", "fit_time",
        "ensemble_weight"]
    # the parameters come last, sorted by name
    assert list(board.columns[-2:]) == ["lr", "module__n_units"]
    assert list(board["family"]) == ["mlp"] * 4
    assert list(board["ensemble_weight"]) == [0.75, 0.25, 0.0, 0.0]
    # every column of before is kept
    assert {"std_score", "rung", "epochs", "epochs_run", "rows", "stopped_by_budget",
            "pruned", "parent", "origin", "worker", "device", "error"} < set(board)


def test_leaderboard_fidelity():
    from dataclasses import replace

    trials = [replace(r, trial_id=i) for i, r in enumerate([
        replace(_ok(0.8, [0.8], max_epochs=3), rows=10_000),
        replace(_ok(0.9, [0.9], max_epochs=27), rows=90_000),
        replace(_failed(max_epochs=9), rows=30_000),
        TrialResult(config={"family": "hgb", "learning_rate": 0.1}, status="ok",
                    score=0.85, split_scores=[0.85], epochs=200, rows=90_000),
    ])]
    board = leaderboard(trials).set_index("trial")
    assert board.loc[0, "fidelity"] == "3 ep, 10,000 rows"
    assert board.loc[1, "fidelity"] == "27 ep"  # all the rows: not repeated
    assert board.loc[2, "fidelity"] == "9 ep, 30,000 rows"
    assert board.loc[3, "fidelity"] == "200 iter"
