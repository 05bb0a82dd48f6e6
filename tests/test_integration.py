"""skautodl estimators inside scikit-learn's tools: Pipeline, ColumnTransformer,
GridSearchCV, cross_val_score, clone, pickle and joblib."""

import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.impute import SimpleImputer
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skautodl import AutoDLClassifier, AutoDLRegressor

FAST = {"cv": None, "time_budget": None,
        "n_trials": 1, "search_space": {"max_epochs": 10},
            "verbose": 0, "random_state": 0, "device": "cpu"}


@pytest.fixture(scope="module")
def frame():
    rng = np.random.RandomState(0)
    n = 120
    df = pd.DataFrame({
        "x1": rng.normal(size=n),
        "x2": rng.normal(size=n),
        "color": rng.choice(["red", "green", "blue"], n),
    })
    df.loc[::9, "x2"] = np.nan
    y = np.where(df["x1"] + (df["color"] == "red") > 0.3, "yes", "no")
    return df, y


def test_in_pipeline_with_column_transformer(frame):
    df, y = frame
    pre = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(), StandardScaler()),
         make_column_selector(dtype_include="number")),
        ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False),
         ["color"]),
    ])
    pipe = Pipeline([("pre", pre), ("model", AutoDLClassifier(**FAST))])
    pipe.fit(df, y)
    assert pipe.score(df, y) > 0.7
    assert set(pipe.predict(df)) <= {"yes", "no"}
    assert pipe.predict_proba(df).shape == (len(df), 2)


def test_set_output_pandas_neighbours_give_feature_names(frame):
    df, y = frame
    pre = make_pipeline(
        ColumnTransformer([
            ("num", SimpleImputer(), ["x1", "x2"]),
            ("cat", OneHotEncoder(sparse_output=False), ["color"]),
        ])
    ).set_output(transform="pandas")
    pipe = make_pipeline(pre, AutoDLClassifier(**FAST)).fit(df, y)
    model = pipe[-1]
    np.testing.assert_array_equal(model.feature_names_in_,
                                  pre.get_feature_names_out())
    assert model.n_features_in_ == 5


def test_feature_names_in_with_dataframe(frame):
    df, y = frame
    clf = AutoDLClassifier(**FAST).fit(df, y)
    np.testing.assert_array_equal(clf.feature_names_in_, ["x1", "x2", "color"])
    clf_np = AutoDLClassifier(**FAST).fit(df[["x1", "x2"]].to_numpy(), y)
    assert not hasattr(clf_np, "feature_names_in_")


def test_grid_search_over_autodl_parameter(frame):
    df, y = frame
    grid = GridSearchCV(
        AutoDLClassifier(**FAST),
        {"search_space": [{"max_epochs": 3}, {"max_epochs": 12}]},
        cv=2,
    )
    grid.fit(df, y)
    assert len(grid.cv_results_["params"]) == 2
    assert grid.best_params_["search_space"] in ({"max_epochs": 3},
                                                 {"max_epochs": 12})
    assert grid.best_estimator_.best_params_["max_epochs"] in (3, 12)
    assert grid.score(df, y) > 0.6


def test_cross_val_score(frame):
    df, y = frame
    scores = cross_val_score(AutoDLClassifier(**FAST), df, y, cv=3)
    assert scores.shape == (3,)
    assert scores.mean() > 0.6


def test_clone_keeps_params_and_drops_fit(frame):
    df, y = frame
    clf = AutoDLClassifier(**FAST).fit(df, y)
    other = clone(clf)
    assert other.get_params() == clf.get_params()
    assert not hasattr(other, "best_estimator_")


@pytest.mark.parametrize("Est", [AutoDLClassifier, AutoDLRegressor])
def test_pickle_and_joblib_round_trip(frame, tmp_path, Est):
    df, y = frame
    target = y if Est is AutoDLClassifier else df["x1"].to_numpy() * 3.0
    est = Est(**FAST).fit(df, target)
    expected = est.predict(df)
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.predict(df), expected)
    path = tmp_path / "model.joblib"
    joblib.dump(est, path)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(loaded.predict(df), expected)
    if Est is AutoDLClassifier:
        np.testing.assert_array_equal(loaded.predict_proba(df), est.predict_proba(df))
    pd.testing.assert_frame_equal(loaded.leaderboard_, est.leaderboard_)


def test_regressor_in_pipeline_and_cross_val():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 3))
    y = X @ [1.0, -2.0, 0.5] + 0.1 * rng.normal(size=120)
    pipe = make_pipeline(StandardScaler(), AutoDLRegressor(**FAST))
    scores = cross_val_score(pipe, X, y, cv=2, scoring="r2")
    assert scores.mean() > 0.5
