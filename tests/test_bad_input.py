"""Bad input gets a clear error that names the problem, and nothing else.

Most cases are rows of two tables: ``FIT_CASES`` (the error comes from
``fit``, before any training) and ``PREDICT_CASES`` (from ``predict`` on an
estimator fitted on a small mixed DataFrame). A row names the situation, the
input, the estimator, the exception type and the words its message must
hold. Cases where odd input must get a right answer, not an error, follow
the tables.
"""

from functools import partial

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError

from skautodl import AutoDLClassifier, AutoDLRegressor

FAST = {"time_budget": None, "n_trials": 1, "fidelity": None,
        "search_space": {"max_epochs": 2}, "verbose": 0, "random_state": 0,
        "device": "cpu"}
CLF, REG = AutoDLClassifier, AutoDLRegressor

_rng = np.random.RandomState(0)
X60 = _rng.normal(size=(60, 4))
Y60 = (X60[:, 0] > 0).astype(int)


def _with(y, row, value, dtype=float):
    y = y.astype(dtype)
    y[row] = value
    return y


def _object_X(row, column, value):
    X = X60.astype(object)
    X[row, column] = value
    return X


def _inf_X():
    X = X60.copy()
    X[0, 0] = np.inf
    return X


# (description, X, y, estimator class (a partial of it for other parameters),
#  exception type, words in the message)
FIT_CASES = [
    ("NaN in y (classifier)", X60, _with(Y60, 3, np.nan), CLF, ValueError,
     ["Input y contains NaN"]),
    ("NaN in y (regressor)", X60, _with(Y60, 3, np.nan), REG, ValueError,
     ["Input y contains NaN"]),
    ("inf in y (classifier)", X60, _with(Y60, 3, np.inf), CLF, ValueError,
     ["Input y contains infinity"]),
    ("inf in y (regressor)", X60, _with(Y60, 3, np.inf), REG, ValueError,
     ["Input y contains infinity"]),
    ("missing label in object y", X60,
     _with(np.array(["a", "b"], dtype=object)[Y60], 5, None, object), CLF,
     ValueError, ["missing labels, first at row 5"]),
    ("one class", X60, np.ones(60), CLF, ValueError,
     ["at least 2 classes", "got 1 class"]),
    ("continuous target for a classifier", X60, np.linspace(0, 1, 60), CLF,
     ValueError, ["Unknown label type: continuous"]),
    ("labels mixing ints and strings", X60,
     np.array([1, 2, 3, "a", "b"] * 12, dtype=object), CLF, ValueError,
     ["y mixes types: int (3 labels) and str (2 labels)", "astype(str)"]),
    ("labels mixing ints and strings (pandas)", X60,
     pd.Series([1, "a"] * 30), CLF, ValueError,
     ["y mixes types: int (1 label) and str (1 label)"]),
    ("regression targets beyond float32", X60[:6], np.arange(6) * 1e39, REG,
     ValueError, ["y holds values up to 5e+39", "float32", "rescale y"]),
    ("one sample", np.ones((1, 3)), np.ones(1), REG, ValueError,
     ["n_samples=1"]),
    ("3-row regression", X60[:3], np.arange(3.0), REG, ValueError,
     ["n_samples=3", "at least 4 samples", "R2"]),
    ("5-row holdout of one row", X60[:5], np.arange(5.0), partial(REG, cv=None),
     ValueError,
     ["validation_fraction=0.2 leaves 1 validation", "between 0.4 and 0.6"]),
    ("validation_fraction leaving one row", X60, Y60,
     partial(CLF, cv=None, validation_fraction=0.01), ValueError,
     ["validation_fraction=0.01", "at least 2 rows"]),
    ("regression folds of one row", X60[:9], np.arange(9.0), partial(REG, cv=5),
     ValueError,
     ["cv=5", "n_samples=9", "1 validation row", "cv=4 or fewer"]),
    ("fewer samples than folds", np.arange(8.0).reshape(4, 2),
     np.array([0, 1, 0, 1]), partial(CLF, cv=5), ValueError,
     ["cv=5 asks for 5 folds", "n_samples=4"]),
    ("X and y of different lengths (classifier)", X60, Y60[:-1], CLF,
     ValueError, ["X has 60 rows but y has 59"]),
    ("X and y of different lengths (regressor)", X60, Y60[:-1], REG,
     ValueError, ["X has 60 rows but y has 59"]),
    ("no rows", np.empty((0, 3)), np.arange(0) % 2, CLF, ValueError,
     ["0 sample"]),
    ("no columns", np.empty((5, 0)), np.arange(5) % 2, CLF, ValueError,
     ["0 feature"]),
    ("DataFrame without rows", pd.DataFrame({"a": []}), np.arange(0) % 2,
     CLF, ValueError, ["0 sample"]),
    ("DataFrame without columns", pd.DataFrame(index=range(5)),
     np.arange(5) % 2, CLF, ValueError, ["0 feature"]),
    ("1-D X", np.arange(10.0), np.arange(10) % 2, CLF, ValueError,
     ["Expected 2D array"]),
    ("duplicate column names", pd.DataFrame(X60, columns=list("abca")), Y60,
     CLF, ValueError, ["duplicate column names", "'a' (2 times)"]),
    ("complex array", X60 + 1j, Y60, CLF, ValueError,
     ["Complex data not supported"]),
    ("complex column", pd.DataFrame({"z": X60[:, 0] + 1j}), Y60, CLF,
     ValueError, ["Complex data not supported", "'z'"]),
    ("dict in an object array", _object_X(2, 1, {"a": 1}), Y60, CLF,
     TypeError, ["Column 1 of X", "dict"]),
    ("lists in a column",
     pd.DataFrame({"ok": X60[:, 0], "bad": [[1, 2]] * 60}), Y60, CLF,
     TypeError, ["Column 'bad' of X", "list"]),
    ("datetime column",
     pd.DataFrame({"a": X60[:, 0],
                   "when": pd.date_range("2020-01-01", periods=60)}),
     Y60, CLF, TypeError, ["Column 'when'", "datetime"]),
    ("inf in X", _inf_X(), Y60, CLF, ValueError, ["infinity"]),
    ("inf in a column", pd.DataFrame(_inf_X(), columns=list("abcd")), Y60,
     CLF, ValueError, ["infinity in column 'a'"]),
    ("sparse X", sp.csr_matrix(X60), Y60, CLF, TypeError, ["Sparse data"]),
]


@pytest.mark.parametrize("description, X, y, Est, error, words", FIT_CASES,
                         ids=[case[0] for case in FIT_CASES])
def test_fit_rejects_bad_input(description, X, y, Est, error, words):
    with pytest.raises(error) as info:
        Est(**FAST).fit(X, y)
    assert type(info.value) is error, "our own error, not a library's subclass"
    for word in words:
        assert word in str(info.value), (description, str(info.value))


def _frame(n=60, seed=0):
    rng = np.random.RandomState(seed)
    return pd.DataFrame({"age": rng.normal(size=n), "income": rng.normal(size=n),
                         "city": rng.choice(["a", "b"], n),
                         "code": pd.Categorical(rng.choice([1, 2, 3], n))})


@pytest.fixture(scope="module")
def fitted_df():
    df = _frame()
    y = (df["age"] > 0).astype(int)
    return AutoDLClassifier(**FAST).fit(df, y), df


def _drifted(column, values):
    df = _frame()
    df[column] = values(df[column])
    return df


def _word_in(series):
    out = series.astype(str)
    out.iloc[1] = "unknown"
    return out


# (description, X at predict, exception type, words in the message); the
# estimator was fitted on _frame(): age, income (float), city (str), code
# (int categories)
PREDICT_CASES = [
    ("numeric column arriving as words", _drifted("age", _word_in), ValueError,
     ["Column 'age'", "numeric at fit", "categorical", "'unknown'"]),
    ("word categories arriving as numbers",
     _drifted("city", lambda s: np.arange(len(s), dtype=float)), ValueError,
     ["Column 'city'", "categorical at fit", "numeric"]),
    ("scaled value beyond float32", _drifted("income", lambda s: s * 1e300),
     ValueError, ["column 'income'", "float32"]),
    ("a column missing", _frame().drop(columns="city"), ValueError,
     ["seen at fit time, yet now missing:\n- city"]),
    ("a column renamed", _frame().rename(columns={"income": "salary"}),
     ValueError, ["unseen at fit time:\n- salary"]),
    ("columns reordered", _frame()[["income", "age", "city", "code"]],
     ValueError, ["same order"]),
    ("duplicate column names",
     _frame().set_axis(["age", "income", "city", "age"], axis=1), ValueError,
     ["duplicate column names", "'age' (2 times)"]),
]


@pytest.mark.parametrize("description, X, error, words", PREDICT_CASES,
                         ids=[case[0] for case in PREDICT_CASES])
def test_predict_rejects_bad_input(fitted_df, description, X, error, words):
    clf, _ = fitted_df
    for method in (clf.predict, clf.predict_proba):
        with pytest.raises(error) as info:
            method(X)
        for word in words:
            assert word in str(info.value), (description, str(info.value))


def test_wrong_number_of_columns_at_predict():
    clf = AutoDLClassifier(**FAST).fit(X60, Y60)
    with pytest.raises(ValueError, match="X has 3 features, but AutoDLClassifier is "
                                         "expecting 4 features"):
        clf.predict(X60[:, :3])
    with pytest.raises(ValueError, match="expecting 4 features"):
        clf.predict_proba(np.hstack([X60, X60]))


def test_predict_before_fit():
    with pytest.raises(NotFittedError, match="not fitted yet"):
        AutoDLClassifier().predict(np.ones((2, 2)))


@pytest.mark.parametrize("budget", [0, -1, float("nan")])
def test_non_positive_time_budget(budget):
    with pytest.raises(ValueError, match=r"'time_budget' parameter of "
                       r"AutoDLClassifier must be a float in the range \(0.0, inf\)"):
        AutoDLClassifier(time_budget=budget).fit(X60, Y60)


# -- odd input that gets a right answer ----------------------------------------

def test_nan_in_X_is_imputed_not_an_error():
    X = X60.copy()
    X[::7, 1] = np.nan
    clf = AutoDLClassifier(**FAST).fit(X, Y60)
    X_test = X[:5].copy()
    X_test[:, 0] = np.nan
    pred = clf.predict(X_test)
    assert pred.shape == (5,)
    assert np.isfinite(clf.predict_proba(X_test)).all()


def test_number_strings_and_float_codes_at_predict_change_nothing(fitted_df):
    clf, df = fitted_df
    expected = clf.predict_proba(df)
    # a numeric column as strings that all parse as numbers: accepted
    as_text = df.assign(age=[repr(v) for v in df["age"]])
    np.testing.assert_array_equal(clf.predict_proba(as_text), expected)
    # int-coded categories arriving as floats: 1.0 is the level 1
    as_float = df.assign(code=df["code"].astype(float))
    np.testing.assert_array_equal(clf.predict_proba(as_float), expected)
    # and numbers as strings in a plain numpy array
    clf_np = AutoDLClassifier(**FAST).fit(X60, Y60)
    np.testing.assert_array_equal(clf_np.predict_proba(X60.astype(str)),
                                  clf_np.predict_proba(X60))


def test_huge_feature_values_fit_like_ordinary_ones():
    y = X60[:, 0] * 3 + X60[:, 1]
    ordinary = AutoDLRegressor(**FAST).fit(X60, y)
    huge = AutoDLRegressor(**FAST).fit(X60 * 1e200, y)
    np.testing.assert_allclose(huge.predict(X60 * 1e200), ordinary.predict(X60),
                               rtol=1e-4, atol=1e-4)


def test_small_regression_validates_on_two_rows():
    reg = AutoDLRegressor(**{**FAST, "cv": None, "validation_fraction": 0.4}).fit(
        X60[:5], X60[:5, 0])
    assert np.isfinite(reg.best_score_)
    assert reg.predict(X60[:2]).shape == (2,)


def test_targets_near_the_float32_limit():
    y = (X60[:, 0] + 5.0) * 3e37  # |y| < 3.4e38, but their sum is not
    reg = AutoDLRegressor(**FAST).fit(X60, y)
    pred = reg.predict(X60)
    assert np.isfinite(pred).all()
    assert abs(pred.mean() - y.mean()) < y.std()


def test_targets_with_a_large_offset_keep_their_precision():
    y = X60[:, 0] * 2 + X60[:, 1]
    plain = AutoDLRegressor(**FAST).fit(X60, y)
    offset = AutoDLRegressor(**FAST).fit(X60, y + 1e9)  # float32 step: 64
    np.testing.assert_allclose(offset.predict(X60) - 1e9, plain.predict(X60),
                               atol=1e-3)
