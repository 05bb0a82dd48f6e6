"""Bad input gets a clear error that names the problem, and nothing else."""

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from skautodl import AutoDLClassifier, AutoDLRegressor

FAST = {"time_budget": None, "n_trials": 1, "search_space": {"max_epochs": 3},
            "verbose": 0, "random_state": 0, "device": "cpu"}


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 4))
    y = (X[:, 0] > 0).astype(int)
    return X, y


@pytest.fixture(scope="module")
def fitted_df():
    rng = np.random.RandomState(0)
    df = pd.DataFrame({"age": rng.normal(size=60), "income": rng.normal(size=60),
                       "city": rng.choice(["a", "b"], 60)})
    y = (df["age"] > 0).astype(int)
    return AutoDLClassifier(**FAST).fit(df, y), df


@pytest.mark.parametrize("Est", [AutoDLClassifier, AutoDLRegressor])
@pytest.mark.parametrize("bad, match", [(np.nan, "NaN"), (np.inf, "infinity")])
def test_nan_or_inf_in_y(data, Est, bad, match):
    X, y = data
    y = y.astype(float)
    y[3] = bad
    with pytest.raises(ValueError, match=f"Input y contains {match}"):
        Est(**FAST).fit(X, y)


def test_missing_label_in_object_y(data):
    X, y = data
    y = np.array(["a", "b"], dtype=object)[y]
    y[5] = None
    with pytest.raises(ValueError, match="missing labels, first at row 5"):
        AutoDLClassifier(**FAST).fit(X, y)


def test_single_class(data):
    X, _ = data
    with pytest.raises(ValueError, match="at least 2 classes.*got 1 class"):
        AutoDLClassifier(**FAST).fit(X, np.ones(len(X)))


def test_continuous_target_for_classifier(data):
    X, _ = data
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        AutoDLClassifier(**FAST).fit(X, np.linspace(0, 1, len(X)))


def test_fewer_samples_than_folds():
    X = np.arange(8.0).reshape(4, 2)
    y = np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="cv=5 asks for 5 folds.*n_samples=4"):
        AutoDLClassifier(**{**FAST, "cv": 5}).fit(X, y)


def test_one_sample():
    with pytest.raises(ValueError, match="n_samples=1"):
        AutoDLRegressor(**FAST).fit(np.ones((1, 3)), np.ones(1))


@pytest.mark.parametrize("Est", [AutoDLClassifier, AutoDLRegressor])
def test_inconsistent_lengths(data, Est):
    X, y = data
    with pytest.raises(ValueError, match="X has 60 rows but y has 59"):
        Est(**FAST).fit(X, y[:-1])


@pytest.mark.parametrize("X, match", [
    (np.empty((0, 3)), "0 sample"),
    (np.empty((5, 0)), "0 feature"),
    (pd.DataFrame({"a": []}), "0 sample"),
    (pd.DataFrame(index=range(5)), "0 feature"),
])
def test_empty_X(X, match):
    with pytest.raises(ValueError, match=match):
        AutoDLClassifier(**FAST).fit(X, np.arange(len(X)) % 2)


def test_1d_X():
    with pytest.raises(ValueError, match="Expected 2D array"):
        AutoDLClassifier(**FAST).fit(np.arange(10.0), np.arange(10) % 2)


def test_wrong_number_of_columns_at_predict(data):
    X, y = data
    clf = AutoDLClassifier(**FAST).fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but AutoDLClassifier is "
                                         "expecting 4 features"):
        clf.predict(X[:, :3])
    with pytest.raises(ValueError, match="expecting 4 features"):
        clf.predict_proba(np.hstack([X, X]))


def test_missing_or_renamed_column_at_predict(fitted_df):
    clf, df = fitted_df
    with pytest.raises(ValueError, match="seen at fit time, yet now missing:\n- city"):
        clf.predict(df.drop(columns="city"))
    renamed = df.rename(columns={"income": "salary"})
    with pytest.raises(ValueError, match="unseen at fit time:\n- salary"):
        clf.predict(renamed)
    with pytest.raises(ValueError, match="same order"):
        clf.predict(df[["income", "age", "city"]])


def test_predict_before_fit():
    with pytest.raises(NotFittedError, match="not fitted yet"):
        AutoDLClassifier().predict(np.ones((2, 2)))


def test_complex_data(data):
    X, y = data
    with pytest.raises(ValueError, match="Complex data not supported"):
        AutoDLClassifier(**FAST).fit(X + 1j, y)
    df = pd.DataFrame({"z": X[:, 0] + 1j})
    with pytest.raises(ValueError, match="Complex data not supported.*'z'"):
        AutoDLClassifier(**FAST).fit(df, y)


def test_object_values_that_are_not_categories(data):
    X, y = data
    Xo = X.astype(object)
    Xo[2, 1] = {"a": 1}
    with pytest.raises(TypeError, match="Column 1 of X.*dict"):
        AutoDLClassifier(**FAST).fit(Xo, y)
    df = pd.DataFrame({"ok": X[:, 0], "bad": [[1, 2]] * len(X)})
    with pytest.raises(TypeError, match="Column 'bad' of X.*list"):
        AutoDLClassifier(**FAST).fit(df, y)


def test_datetime_column_is_rejected(data):
    X, y = data
    df = pd.DataFrame({"a": X[:, 0],
                       "when": pd.date_range("2020-01-01", periods=len(X))})
    with pytest.raises(TypeError, match="Column 'when'.*datetime"):
        AutoDLClassifier(**FAST).fit(df, y)


def test_inf_in_X(data):
    X, y = data
    X = X.copy()
    X[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        AutoDLClassifier(**FAST).fit(X, y)
    df = pd.DataFrame(X, columns=list("abcd"))
    with pytest.raises(ValueError, match="infinity in column 'a'"):
        AutoDLClassifier(**FAST).fit(df, y)


def test_sparse_X(data):
    import scipy.sparse as sp

    X, y = data
    with pytest.raises(TypeError, match="Sparse data"):
        AutoDLClassifier(**FAST).fit(sp.csr_matrix(X), y)


def test_nan_in_X_is_imputed_not_an_error(data):
    X, y = data
    X = X.copy()
    X[::7, 1] = np.nan
    clf = AutoDLClassifier(**FAST).fit(X, y)
    X_test = X[:5].copy()
    X_test[:, 0] = np.nan
    pred = clf.predict(X_test)
    assert pred.shape == (5,)
    assert np.isfinite(clf.predict_proba(X_test)).all()


@pytest.mark.parametrize("budget", [0, -1, float("nan")])
def test_non_positive_time_budget(data, budget):
    X, y = data
    with pytest.raises(ValueError, match=r"'time_budget' parameter of "
                       r"AutoDLClassifier must be a float in the range \(0.0, inf\)"):
        AutoDLClassifier(time_budget=budget).fit(X, y)
