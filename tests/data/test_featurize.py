"""Tests of skautodl/data/featurize.py: TabularFeaturizer and prepare_splits."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from skautodl.data.featurize import SplitData, TabularFeaturizer, prepare_splits


def _small_frame():
    return pd.DataFrame({
        "num": [1.0, np.nan, 3.0, 4.0, 5.0, 6.0],   # missing -> indicator
        "full": [0.5, 1.5, 2.5, 3.5, 4.5, 5.5],    # no missing -> no indicator
        "flag": [True, False, True, False, True, True],
        "cat": pd.Categorical(["a", "b", "a", "c", "b", "a"]),
        "text": ["x", None, "y", "x", "y", "x"],   # 2 levels + missing
    })


def test_output_dtype_layout_and_no_nan(mixed_frame):
    X, _ = mixed_frame
    Xt = TabularFeaturizer().fit_transform(X)
    assert Xt.dtype == np.float32
    assert Xt.flags.c_contiguous
    assert Xt.shape[0] == len(X)
    assert not np.isnan(Xt).any()
    assert np.isfinite(Xt).all()


def test_column_kinds_and_counts():
    feat = TabularFeaturizer().fit(_small_frame())
    assert feat.numeric_columns_ == [0, 1, 2]
    assert feat.categorical_columns_ == [3, 4]
    # 3 numeric + 1 missing indicator ("num") + 3 ("cat") + 3 ("text": x, y, missing)
    assert feat.n_features_out_ == 3 + 1 + 3 + 3
    assert feat.transform(_small_frame()).shape == (6, 10)
    assert feat.n_features_in_ == 5


def test_missing_indicator_marks_missing_rows():
    X = pd.DataFrame({"num": [1.0, np.nan, 3.0, np.nan, 5.0]})
    Xt = TabularFeaturizer().fit_transform(X)
    assert Xt.shape == (5, 2)  # the value and its indicator
    indicator = Xt[:, 1]
    missing = X["num"].isna().to_numpy()
    # the (scaled) indicator takes one value on missing rows, another elsewhere
    assert np.unique(indicator[missing]).size == 1
    assert np.unique(indicator[~missing]).size == 1
    assert indicator[missing][0] > indicator[~missing][0]
    # imputed rows get the median, which standardizes to the same value
    assert Xt[1, 0] == Xt[3, 0]


def test_no_indicator_without_missing_values():
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [4.0, 5.0, 7.0]})
    assert TabularFeaturizer().fit(X).n_features_out_ == 2


def test_standard_scaling_centres_numeric_columns():
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 10.0], "b": [-5.0, 0.0, 5.0, 100.0]})
    Xt = TabularFeaturizer().fit_transform(X)
    np.testing.assert_allclose(Xt.mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(Xt.std(axis=0), 1.0, atol=1e-5)


def test_quantile_scaling_tames_outliers():
    rng = np.random.RandomState(0)
    values = np.concatenate([rng.randn(99), [1e6]])
    X = pd.DataFrame({"a": values})
    standard = TabularFeaturizer(numeric_scaling="standard").fit_transform(X)
    quantile = TabularFeaturizer(numeric_scaling="quantile").fit_transform(X)
    # standard scaling squeezes the bulk of the data next to zero; quantile
    # scaling maps it to a normal distribution
    assert standard[:99].std() < 0.05
    assert quantile[:99].std() > 0.5
    assert np.abs(quantile).max() < 10
    # monotone: the order of the values is kept
    np.testing.assert_array_equal(np.argsort(quantile[:, 0], kind="stable"),
                                  np.argsort(values, kind="stable"))


def test_bad_scaling_raises():
    with pytest.raises(ValueError, match="numeric_scaling"):
        TabularFeaturizer(numeric_scaling="minmax").fit(_small_frame())


def test_unseen_categories_are_ignored():
    X = _small_frame()
    feat = TabularFeaturizer().fit(X)
    new = X.copy()
    new["cat"] = pd.Categorical(["zzz"] * 6)
    new["text"] = ["never seen"] * 6
    Xt = feat.transform(new)
    assert Xt.shape == (6, feat.n_features_out_)
    # the one-hot block of both categorical columns is all zeros
    np.testing.assert_array_equal(Xt[:, -6:], 0.0)
    # numeric features are untouched by the categorical change
    np.testing.assert_array_equal(Xt[:, :4], feat.transform(X)[:, :4])


def test_one_hot_encodes_the_right_level():
    X = pd.DataFrame({"cat": ["a", "b", "c", "a"]})
    Xt = TabularFeaturizer().fit_transform(X)
    np.testing.assert_array_equal(Xt, np.eye(3, dtype=np.float32)[[0, 1, 2, 0]])


def test_numpy_object_array_with_strings():
    X = np.array([[1.0, "a"], [2.0, "b"], [np.nan, "a"]], dtype=object)
    feat = TabularFeaturizer().fit(X)
    assert feat.numeric_columns_ == [0]
    assert feat.categorical_columns_ == [1]
    assert feat.transform(X).shape == (3, 1 + 1 + 2)


def test_wrong_width_at_transform_raises():
    feat = TabularFeaturizer().fit(_small_frame())
    with pytest.raises(ValueError, match="expecting 5 features"):
        feat.transform(_small_frame().iloc[:, :4])


def test_transform_before_fit_raises():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        TabularFeaturizer().transform(_small_frame())


def test_extreme_values_are_clipped_not_inf():
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0]})
    feat = TabularFeaturizer().fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no float32 overflow
        Xt = feat.transform(pd.DataFrame({"a": [1e300, -1e300, 1.0]}))
    assert np.isfinite(Xt).all()
    assert Xt.max() == 1e4 and Xt.min() == -1e4


def test_pickle_round_trip_gives_identical_transform(mixed_frame):
    X, _ = mixed_frame
    feat = TabularFeaturizer(numeric_scaling="quantile").fit(X)
    restored = pickle.loads(pickle.dumps(feat))
    np.testing.assert_array_equal(restored.transform(X), feat.transform(X))
    assert restored.numeric_columns_ == feat.numeric_columns_


def test_column_names_do_not_matter():
    X = _small_frame()
    renamed = X.set_axis(["p", "q", "r", "s", "t"], axis=1)
    feat = TabularFeaturizer().fit(X)
    np.testing.assert_array_equal(feat.transform(renamed), feat.transform(X))


def test_works_in_a_sklearn_pipeline(mixed_frame):
    X, y = mixed_frame
    pipe = make_pipeline(TabularFeaturizer(), LogisticRegression())
    pipe.fit(X, y)
    assert set(pipe.predict(X)) <= {"yes", "no"}
    # "num" decides y, so a linear model on the features learns it well
    assert pipe.score(X, y) > 0.8
    cloned = clone(pipe)
    assert cloned.get_params()["tabularfeaturizer__numeric_scaling"] == "standard"
    assert not hasattr(cloned.steps[0][1], "column_transformer_")


def test_prepare_splits_caches_one_featurized_split_each():
    rng = np.random.RandomState(0)
    X = pd.DataFrame({"a": rng.randn(20), "c": rng.choice(["u", "v"], 20)})
    y_score = np.array(["n", "p"] * 10)
    y_fit = (y_score == "p").astype(np.int64)
    splits = [(np.arange(0, 15), np.arange(15, 20)),
              (np.arange(5, 20), np.arange(0, 5))]
    data = prepare_splits(X, y_fit, y_score, splits)
    assert len(data) == 2
    assert data[0].featurizer is not data[1].featurizer
    for split, (train, valid) in zip(data, splits, strict=True):
        assert isinstance(split, SplitData)
        assert split.X_train.dtype == np.float32 and split.X_valid.dtype == np.float32
        assert split.X_train.shape == (15, 3) and split.X_valid.shape == (5, 3)
        np.testing.assert_array_equal(split.y_train, y_fit[train])
        np.testing.assert_array_equal(split.y_valid_fit, y_fit[valid])
        np.testing.assert_array_equal(split.y_valid, y_score[valid])
        np.testing.assert_array_equal(split.train_index, train)
        np.testing.assert_array_equal(split.valid_index, valid)
        # the featurizer is fitted on the training rows only
        np.testing.assert_allclose(split.X_train[:, 0].mean(), 0.0, atol=1e-6)
        np.testing.assert_array_equal(
            split.X_valid, split.featurizer.transform(X.iloc[valid]))
    # different training rows -> different scaling
    assert not np.allclose(data[0].X_valid, data[1].featurizer.transform(
        X.iloc[splits[0][1]]))
