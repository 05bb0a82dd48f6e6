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


# -- robust scaling -----------------------------------------------------------

def test_robust_scaling_bounds_outliers_and_centres_on_the_median():
    rng = np.random.RandomState(0)
    values = np.concatenate([rng.randn(199), [1e6]])
    X = pd.DataFrame({"a": values})
    Xt = TabularFeaturizer(numeric_scaling="robust").fit_transform(X)
    assert Xt.dtype == np.float32 and Xt.flags.c_contiguous
    assert np.abs(Xt).max() <= 3.0
    assert Xt[-1, 0] == pytest.approx(3.0, abs=1e-3)  # the outlier saturates
    assert abs(np.median(Xt[:, 0])) < 1e-6
    # the bulk keeps a useful spread (standard scaling squeezes it to ~0)
    assert Xt[:199, 0].std() > 0.5
    # monotone: the order of the values is kept
    np.testing.assert_array_equal(np.argsort(Xt[:, 0], kind="stable"),
                                  np.argsort(values, kind="stable"))


def test_robust_scaling_is_iqr_scaling_with_a_smooth_clip():
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0, 4.0, 100.0]})
    Xt = TabularFeaturizer(numeric_scaling="robust").fit_transform(X)[:, 0]
    a = X["a"].to_numpy()
    q25, q50, q75 = np.percentile(a, [25, 50, 75])
    z = (a - q50) / (q75 - q25)
    np.testing.assert_allclose(Xt, z / np.sqrt(1 + (z / 3) ** 2), rtol=1e-6)
    # near zero the clip is (almost) the identity
    small = np.abs(z) < 0.3
    np.testing.assert_allclose(Xt[small], z[small], atol=5e-3)


def test_robust_scaling_zero_iqr_and_constant_columns():
    sparse = np.zeros(100)
    sparse[::10] = 50.0  # IQR 0: scaled by the standard deviation instead
    X = pd.DataFrame({"sparse": sparse, "const": np.full(100, 7.0)})
    Xt = TabularFeaturizer(numeric_scaling="robust").fit_transform(X)
    z = 50.0 / sparse.std()
    assert Xt[0, 0] == pytest.approx(z / np.sqrt(1 + (z / 3) ** 2), rel=1e-5)
    assert Xt[1, 0] == 0.0
    np.testing.assert_array_equal(Xt[:, 1], 0.0)


def test_robust_scaling_extreme_values_without_warnings():
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]})
    feat = TabularFeaturizer(numeric_scaling="robust").fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        Xt = feat.transform(pd.DataFrame({"a": [1e300, -1e300, 1e308, 1.5]}))
    np.testing.assert_allclose(Xt[:, 0], [3.0, -3.0, 3.0, 0.0], atol=1e-6)


@pytest.mark.parametrize("encoding", ["onehot", "codes"])
def test_robust_scaling_pickles_and_clones(mixed_frame, encoding):
    X, _ = mixed_frame
    feat = TabularFeaturizer(numeric_scaling="robust",
                             categorical_encoding=encoding).fit(X)
    Xt = feat.transform(X)
    restored = pickle.loads(pickle.dumps(feat))
    np.testing.assert_array_equal(restored.transform(X), Xt)
    cloned = clone(feat)
    assert cloned.get_params() == feat.get_params()
    assert not hasattr(cloned, "column_transformer_")
    np.testing.assert_array_equal(cloned.fit_transform(X), Xt)
    assert restored.module_params_ == feat.module_params_


# -- the "codes" layout -------------------------------------------------------

def _codes_frame():
    return pd.DataFrame({
        "num": [1.0, np.nan, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],   # has missing
        "full": [0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5],
        "lo": ["x", None, "y", "x", "y", "x", "x", "y"],        # 3 levels
        "hi": pd.Categorical(list("abcdeabc")),                # 5 levels
        "hi_na": ["p", "q", "r", "s", None, "p", "q", "r"],     # 4 + missing
    })


def test_codes_layout_and_module_params():
    X = _codes_frame()
    feat = TabularFeaturizer(categorical_encoding="codes").fit(X)
    Xt = feat.transform(X)
    params = feat.module_params_
    assert set(params) == {"n_numeric", "n_binary", "cardinalities", "bins"}
    # 2 numeric | 1 indicator ("num") + 3 one-hot ("lo": x, y, missing) | 2 codes
    assert params["n_numeric"] == 2
    assert params["n_binary"] == 1 + 3
    assert params["cardinalities"] == [5 + 1, 5 + 1]
    n_num, n_bin = params["n_numeric"], params["n_binary"]
    assert Xt.shape == (8, n_num + n_bin + len(params["cardinalities"]))
    assert feat.n_features_out_ == Xt.shape[1]
    assert Xt.dtype == np.float32 and Xt.flags.c_contiguous
    # numeric block: standardized; the indicator is raw 0/1
    np.testing.assert_allclose(Xt[:, 1].mean(), 0.0, atol=1e-6)
    np.testing.assert_array_equal(Xt[:, 2], X["num"].isna().astype(float))
    binary = Xt[:, n_num:n_num + n_bin]
    assert set(np.unique(binary)) <= {0.0, 1.0}
    np.testing.assert_array_equal(binary[:, 1:].sum(axis=1), 1.0)  # one-hot "lo"
    # code block: codes 1..k of the sorted levels, missing a level of its own
    codes = Xt[:, n_num + n_bin:]
    np.testing.assert_array_equal(codes[:, 0], [1, 2, 3, 4, 5, 1, 2, 3])
    # "__missing__" sorts first
    np.testing.assert_array_equal(codes[:, 1], [2, 3, 4, 5, 1, 2, 3, 4])
    assert codes.max(axis=0).tolist() == [c - 1 for c in params["cardinalities"]]


def test_codes_bins_are_sorted_quantiles_of_the_scaled_values():
    rng = np.random.RandomState(0)
    X = pd.DataFrame({"a": rng.randn(300), "ints": rng.randint(0, 3, 300),
                      "const": np.ones(300)})
    feat = TabularFeaturizer(categorical_encoding="codes",
                             numeric_scaling="quantile").fit(X)
    Xt = feat.transform(X)
    bins = feat.module_params_["bins"]
    assert len(bins) == 3
    for j, edges in enumerate(bins):
        assert 2 <= len(edges) <= 17
        assert all(isinstance(e, float) for e in edges)
        assert np.all(np.diff(edges) > 0)
        if j < 2:  # the edges span the scaled training values
            assert edges[0] == pytest.approx(Xt[:, j].min(), abs=1e-6)
            assert edges[-1] == pytest.approx(Xt[:, j].max(), abs=1e-6)
    assert len(bins[0]) == 17   # continuous: 16 bins
    assert len(bins[1]) == 3    # 3 distinct values: deduplicated
    assert len(bins[2]) == 2    # constant: still 2 edges around the value


def test_codes_unknown_and_missing_levels_at_transform():
    X = _codes_frame()
    feat = TabularFeaturizer(categorical_encoding="codes").fit(X)
    new = X.copy()
    new["hi"] = pd.Categorical(["zzz"] * 8)
    new["hi_na"] = [None] * 4 + ["never"] * 4
    new["lo"] = ["never"] * 8
    Xt = feat.transform(new)
    # unseen levels -> code 0; missing -> the missing level's code
    np.testing.assert_array_equal(Xt[:, -2], 0.0)
    np.testing.assert_array_equal(Xt[:, -1], [1, 1, 1, 1, 0, 0, 0, 0])
    # unseen low-cardinality level: an all-zero one-hot block
    np.testing.assert_array_equal(Xt[:, 3:6], 0.0)
    # missing never seen at fit in "hi" -> unknown, code 0
    assert feat.transform(X.assign(hi=pd.Categorical([None] * 8,
                                                     categories=["a"])))[0, -2] == 0


def test_codes_max_onehot_and_max_categories():
    X = _codes_frame()
    all_codes = TabularFeaturizer(categorical_encoding="codes", max_onehot=0).fit(X)
    assert all_codes.module_params_["n_binary"] == 1  # only the indicator
    assert all_codes.module_params_["cardinalities"] == [4, 6, 6]
    all_onehot = TabularFeaturizer(categorical_encoding="codes",
                                   max_onehot=100).fit(X)
    assert all_onehot.module_params_["cardinalities"] == []
    assert all_onehot.module_params_["n_binary"] == 1 + 3 + 5 + 5
    # max_categories caps the codes (code 0 included): rarer levels get 0
    X = pd.DataFrame({"c": ["a"] * 5 + ["b"] * 4 + ["c"] * 3 + ["d", "e"]})
    feat = TabularFeaturizer(categorical_encoding="codes", max_categories=4).fit(X)
    assert feat.module_params_["cardinalities"] == [4]
    np.testing.assert_array_equal(feat.transform(X)[:, 0],
                                  [1] * 5 + [2] * 4 + [3] * 3 + [0, 0])


def test_codes_without_categorical_or_numeric_columns():
    numeric = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.0, 1.0, 0.0]})
    feat = TabularFeaturizer(categorical_encoding="codes").fit(numeric)
    assert feat.module_params_["n_numeric"] == 2
    assert feat.module_params_["n_binary"] == 0
    assert feat.module_params_["cardinalities"] == []
    categorical = pd.DataFrame({"c": list("abcdefg")})
    feat = TabularFeaturizer(categorical_encoding="codes").fit(categorical)
    assert feat.module_params_ == {"n_numeric": 0, "n_binary": 0,
                                   "cardinalities": [8], "bins": []}
    np.testing.assert_array_equal(feat.transform(categorical)[:, 0], range(1, 8))


def test_onehot_has_empty_module_params(mixed_frame):
    X, _ = mixed_frame
    feat = TabularFeaturizer().fit(X)
    assert feat.module_params_ == {}
    assert feat.get_params()["categorical_encoding"] == "onehot"


def test_codes_numpy_object_array():
    X = np.array([[1.0, "a"], [2.0, "b"], [np.nan, "c"], [4.0, "d"], [5.0, "e"]],
                 dtype=object)
    feat = TabularFeaturizer(categorical_encoding="codes").fit(X)
    assert feat.module_params_["cardinalities"] == [6]
    assert feat.transform(X).shape == (5, 1 + 1 + 1)


# -- errors -------------------------------------------------------------------

def test_bad_scaling_lists_the_allowed_values():
    with pytest.raises(ValueError, match="numeric_scaling") as info:
        TabularFeaturizer(numeric_scaling="minmax").fit(_small_frame())
    for allowed in ("standard", "quantile", "robust", "minmax"):
        assert allowed in str(info.value)


@pytest.mark.parametrize("kwargs, match", [
    ({"categorical_encoding": "ordinal"},
     r"categorical_encoding must be one of \('onehot', 'codes'\); got 'ordinal'"),
    ({"categorical_encoding": "codes", "max_onehot": -1},
     "max_onehot must be a non-negative int; got -1"),
    ({"categorical_encoding": "codes", "max_onehot": 2.5},
     "max_onehot must be a non-negative int; got 2.5"),
    ({"max_onehot": True}, "max_onehot must be a non-negative int; got True"),
])
def test_bad_encoding_settings_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TabularFeaturizer(**kwargs).fit(_small_frame())


# -- type drift between fit and transform (hardening issue, item 3) -----------

def _drift_frame():
    rng = np.random.RandomState(0)
    return pd.DataFrame({
        "age": rng.normal(size=12),
        "code": pd.Categorical(rng.choice([1, 2, 3], 12)),
        "city": rng.choice(["a", "b"], 12),
    })


def test_column_kinds_are_fitted_state():
    feat = TabularFeaturizer().fit(_drift_frame())
    assert feat.column_kinds_ == ["numeric", "categorical", "categorical"]
    assert feat.column_names_ == ["age", "code", "city"]
    arr = TabularFeaturizer().fit(np.array([[1.0, "a"], [2.0, "b"]], dtype=object))
    assert arr.column_kinds_ == ["numeric", "categorical"]
    assert arr.column_names_ == [0, 1]


def test_numeric_column_arriving_as_words_raises_naming_column_and_kinds():
    X = _drift_frame()
    feat = TabularFeaturizer().fit(X)
    new = X.assign(age=X["age"].astype(str))
    new.loc[3, "age"] = "n/a"
    with pytest.raises(ValueError) as info:
        feat.transform(new)
    msg = str(info.value)
    for words in ("'age'", "numeric at fit", "categorical", "'n/a'", "float("):
        assert words in msg


def test_numeric_column_arriving_as_number_strings_is_accepted():
    X = _drift_frame()
    feat = TabularFeaturizer().fit(X)
    as_text = X.assign(age=[repr(v) for v in X["age"]])
    as_text.loc[2, "age"] = None           # missing stays missing
    expected = feat.transform(X.assign(age=X["age"].where(X.index != 2)))
    np.testing.assert_array_equal(feat.transform(as_text), expected)
    # float() rules: surrounding spaces and exponents parse
    spaced = X.assign(age=[f" {v:.17e} " for v in X["age"]])
    np.testing.assert_array_equal(feat.transform(spaced), feat.transform(X))


def test_number_strings_holding_infinity_raise():
    X = _drift_frame()
    feat = TabularFeaturizer().fit(X)
    new = X.assign(age=X["age"].astype(str))
    new.loc[0, "age"] = "inf"
    with pytest.raises(ValueError, match="infinity in column 'age'"):
        feat.transform(new)


@pytest.mark.parametrize("encoding", ["onehot", "codes"])
def test_int_coded_categories_arriving_as_floats_keep_their_levels(encoding):
    X = _drift_frame()
    feat = TabularFeaturizer(categorical_encoding=encoding, max_onehot=2).fit(X)
    as_float = X.assign(code=X["code"].astype(float))
    np.testing.assert_array_equal(feat.transform(as_float), feat.transform(X))
    as_object = X.assign(code=X["code"].astype(float).astype(object))
    np.testing.assert_array_equal(feat.transform(as_object), feat.transform(X))


@pytest.mark.parametrize("encoding", ["onehot", "codes"])
def test_float_coded_categories_at_fit_match_ints_at_transform(encoding):
    X = _drift_frame().assign(code=lambda d: pd.Categorical(
        d["code"].astype(float)))
    feat = TabularFeaturizer(categorical_encoding=encoding, max_onehot=2).fit(X)
    as_int = X.assign(code=X["code"].astype(int))
    Xt = feat.transform(X)
    np.testing.assert_array_equal(feat.transform(as_int), Xt)
    # 1.0 and 1 are one level, not two
    assert feat.transform(X.iloc[:1]).sum() == Xt[:1].sum()
    mixed = pd.DataFrame({"c": np.array([1, 1.0, "a", 2.0, 2], dtype=object)})
    levels = TabularFeaturizer(categorical_encoding=encoding,
                               max_onehot=10).fit_transform(mixed)
    assert len(np.unique(levels, axis=0)) == 3


def test_word_categories_arriving_as_numbers_raise():
    X = _drift_frame()
    feat = TabularFeaturizer().fit(X)
    with pytest.raises(ValueError) as info:
        feat.transform(X.assign(city=np.arange(12.0)))
    msg = str(info.value)
    for words in ("'city'", "categorical at fit", "numeric"):
        assert words in msg
    # an all-missing column is missing values, not numbers
    Xt = feat.transform(X.assign(city=np.full(12, np.nan)))
    assert Xt.shape == (12, feat.n_features_out_)


# -- numeric range (hardening issue, item 4) ----------------------------------

@pytest.mark.parametrize("scaling", ["standard", "robust", "quantile"])
@pytest.mark.parametrize("factor", [1e200, 1e30, 1e-200])
def test_huge_or_tiny_columns_scale_like_ordinary_ones(scaling, factor):
    rng = np.random.RandomState(0)
    X = pd.DataFrame({"a": rng.normal(size=30), "b": rng.exponential(size=30)})
    X.loc[::5, "b"] = 0.0  # zero IQR would need the std fallback in "robust"
    expected = TabularFeaturizer(numeric_scaling=scaling).fit_transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no overflow anywhere
        got = TabularFeaturizer(numeric_scaling=scaling).fit_transform(X * factor)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("scaling", ["standard", "quantile"])
def test_values_near_the_float64_limit_scale(scaling):
    X = pd.DataFrame({"a": [-1.7e308, -1e308, 0.0, 1e308, 1.7e308]})
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        Xt = TabularFeaturizer(numeric_scaling=scaling).fit_transform(X)
    assert np.isfinite(Xt).all()
    assert np.all(np.diff(Xt[:, 0]) > 0)


@pytest.mark.parametrize("value", [1e300, -1e300, 1.7e308])
def test_scaled_value_beyond_float32_raises_naming_the_column(value):
    X = pd.DataFrame({"ok": [0.0, 1.0, 2.0], "a": [0.0, 1.0, 2.0]})
    feat = TabularFeaturizer().fit(X)
    new = pd.DataFrame({"ok": [1.0, 1.0], "a": [1.0, value]})
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ValueError) as info:
            feat.transform(new)
    msg = str(info.value)
    for words in ("column 'a'", "float32", "scal"):
        assert words in msg


def test_only_finite_float32_values_are_bounded_and_codes_are_not():
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0]})
    feat = TabularFeaturizer().fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        Xt = feat.transform(pd.DataFrame({"a": [1e20, -1e20, 1.0]}))
    # documented bound of the scaled numeric block: +-1e4 (10,000 standard
    # deviations, beyond anything the training rows themselves can give)
    assert Xt[:, 0].tolist() == [1e4, -1e4, 0.0]
    # integer codes are not numeric features: never clipped
    many = pd.DataFrame({"c": [f"l{i:05d}" for i in range(10_050)]})
    codes = TabularFeaturizer(categorical_encoding="codes", max_categories=None,
                              max_onehot=0).fit_transform(many)
    assert codes[:, 0].max() == 10_050


def test_level_text_normalizes_numbers_only():
    from skautodl.data.featurize import level_text

    assert {level_text(v) for v in (1, 1.0, np.int8(1), np.float32(1.0),
                                     np.float64(1.0))} == {"1"}
    assert level_text(np.float32(0.1)) == level_text(0.1) == "0.1"
    assert level_text(2.5) == "2.5"
    assert level_text(True) == level_text(np.bool_(True)) == "True"
    assert level_text("1.0") == "1.0"  # strings stay as they are ("01" too)
    assert level_text(10**20) == level_text(1e20) == "100000000000000000000"


def test_quantile_scaling_of_large_data_is_reproducible():
    # above 10,000 rows QuantileTransformer subsamples: not from numpy's
    # global generator, whose state the user owns
    rng = np.random.RandomState(0)
    X = rng.lognormal(size=(12_000, 2))
    np.random.seed(1)
    a = TabularFeaturizer(numeric_scaling="quantile").fit_transform(X)
    np.random.seed(2)
    b = TabularFeaturizer(numeric_scaling="quantile").fit_transform(X)
    np.testing.assert_array_equal(a, b)


def test_transform_rows_in_slices_equals_one_transform(mixed_frame):
    from skautodl.data.featurize import TabularFeaturizer, transform_rows

    X, _ = mixed_frame
    rows = np.random.RandomState(0).permutation(len(X))[:50]
    for encoding in ("onehot", "codes"):
        feat = TabularFeaturizer(categorical_encoding=encoding).fit(X)
        whole = feat.transform(X.iloc[rows])
        sliced = transform_rows(feat, X, rows, chunk=7)
        assert sliced.dtype == whole.dtype == np.float32
        np.testing.assert_array_equal(sliced, whole)
    arr = np.random.RandomState(1).randn(40, 3)
    feat = TabularFeaturizer().fit(arr)
    np.testing.assert_array_equal(transform_rows(feat, arr, np.arange(40), chunk=6),
                                  feat.transform(arr))


def test_fit_rows_samples_above_the_limit():
    from skautodl.data.featurize import fit_rows

    rows = np.arange(100, 130)
    np.testing.assert_array_equal(fit_rows(rows, limit=30), rows)
    sample = fit_rows(rows, limit=10)
    assert len(sample) == 10 and len(np.unique(sample)) == 10
    assert np.all(np.diff(sample) > 0) and set(sample) <= set(rows)
    np.testing.assert_array_equal(sample, fit_rows(rows, limit=10))  # seeded
    assert not np.array_equal(sample, fit_rows(rows, limit=10, seed=1))


def test_fit_featurizer_estimates_statistics_on_the_sample(monkeypatch):
    from skautodl.data import featurize

    X = np.random.RandomState(0).randn(400, 2) + np.arange(400)[:, None] / 100
    rows = np.arange(50, 400)
    monkeypatch.setattr(featurize, "FIT_SAMPLE_ROWS", 60)
    feat = featurize.fit_featurizer(featurize.TabularFeaturizer(), X, rows)
    sample = featurize.fit_rows(rows, limit=60)
    scaler = feat.column_transformer_.named_transformers_["numeric"][-1]
    reference = featurize.TabularFeaturizer().fit(X[sample])
    ref_scaler = reference.column_transformer_.named_transformers_["numeric"][-1]
    np.testing.assert_allclose(scaler.mean_, ref_scaler.mean_)
    # not the statistics of all the rows: the sample is what it was fitted on
    all_rows = featurize.TabularFeaturizer().fit(X[rows])
    all_scaler = all_rows.column_transformer_.named_transformers_["numeric"][-1]
    assert not np.allclose(scaler.mean_, all_scaler.mean_)
    # below the limit every row is used
    monkeypatch.setattr(featurize, "FIT_SAMPLE_ROWS", 1000)
    feat = featurize.fit_featurizer(featurize.TabularFeaturizer(), X, rows)
    np.testing.assert_array_equal(feat.transform(X[:5]), all_rows.transform(X[:5]))


# -- FeatureStore: one stored matrix for equal featurizations -------------------

def _store(X, y):
    from skautodl.data.featurize import FeatureStore
    from skautodl.data.splits import make_splits
    from skautodl.data.validation import TaskInfo

    splits = make_splits(X, y, cv=2, validation_fraction=0.25, classification=True,
                         seed=0)
    return FeatureStore(X, y, y, splits, TaskInfo("binary", 2, n_samples=len(y)))


def _key(scaling, encoding):
    return (("numeric_scaling", scaling), ("categorical_encoding", encoding))


def _fresh(store, key):
    from skautodl.data.featurize import make_featurizer

    return prepare_splits(store.X, store.y_fit, store.y_score, store.splits,
                          featurizer=make_featurizer(store.task, key))


def test_all_numeric_table_stores_onehot_and_codes_once():
    rng = np.random.RandomState(0)
    X, y = rng.randn(60, 4), np.arange(60) % 2
    store = _store(X, y)
    onehot, codes = store.get(_key("standard", "onehot")), store.get(
        _key("standard", "codes"))
    assert store.shares_arrays(_key("standard", "onehot"), _key("standard", "codes"))
    for split, fresh in zip(codes, _fresh(store, _key("standard", "codes")),
                            strict=True):
        # the same matrix a codes featurization of its own makes, and its own
        # fitted featurizer (the embed family reads its layout)
        np.testing.assert_array_equal(split.X_train, fresh.X_train)
        np.testing.assert_array_equal(split.X_valid, fresh.X_valid)
        assert split.featurizer.categorical_encoding == "codes"
        assert split.module_params["n_numeric"] == 4
    assert onehot[0].featurizer.categorical_encoding == "onehot"
    # another scaling is another matrix
    store.get(_key("robust", "codes"))
    assert not store.shares_arrays(_key("standard", "codes"), _key("robust", "codes"))


@pytest.mark.parametrize("kind", ["missing", "categorical"])
def test_encodings_that_differ_are_stored_apart(kind):
    rng = np.random.RandomState(0)
    X = pd.DataFrame({"a": rng.randn(60), "b": rng.randn(60)})
    if kind == "missing":  # indicators: scaled with one-hot, 0/1 with codes
        X.loc[::7, "a"] = np.nan
    else:
        X["c"] = rng.choice(list("uvwxyz"), 60)
    y = np.arange(60) % 2
    store = _store(X, y)
    store.get(_key("standard", "onehot"))
    codes = store.get(_key("standard", "codes"))
    assert not store.shares_arrays(_key("standard", "onehot"),
                                   _key("standard", "codes"))
    for split, fresh in zip(codes, _fresh(store, _key("standard", "codes")),
                            strict=True):
        np.testing.assert_array_equal(split.X_train, fresh.X_train)
