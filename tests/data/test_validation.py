"""Tests of skautodl/data/validation.py: check_X, check_y, detect_task."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.exceptions import DataConversionWarning

from skautodl import AutoDLClassifier, AutoDLRegressor
from skautodl.data.validation import (
    TaskInfo,
    check_fit_input,
    check_X,
    check_y,
    detect_task,
)


@pytest.fixture
def est():
    return AutoDLClassifier()


# ---------------------------------------------------------------- check_X: pandas
def test_dataframe_mixed_dtypes_returned_as_is(est, mixed_frame):
    X, _ = mixed_frame
    out = check_X(est, X, reset=True)
    assert out is X
    assert est.n_features_in_ == X.shape[1]
    np.testing.assert_array_equal(est.feature_names_in_, X.columns)


def test_dataframe_all_supported_dtypes(est):
    X = pd.DataFrame({
        "float": [1.5, np.nan, 3.0],
        "int": [1, 2, 3],
        "bool": [True, False, True],
        "cat": pd.Categorical(["a", "b", "a"]),
        "obj": ["x", None, "y"],
        "string": pd.array(["u", None, "v"], dtype="string"),
        "nullable_int": pd.array([1, None, 3], dtype="Int64"),
        "nullable_bool": pd.array([True, None, False], dtype="boolean"),
        "obj_numbers": np.array([1, 2.5, None], dtype=object),
    })
    assert check_X(est, X, reset=True) is X
    assert est.n_features_in_ == 9


def test_dataframe_predict_checks_columns(est):
    X = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    check_X(est, X, reset=True)
    with pytest.raises(ValueError, match="feature names"):
        check_X(est, X.rename(columns={"b": "c"}), reset=False)


def test_dataframe_nan_accepted(est):
    X = pd.DataFrame({"a": [np.nan, 1.0, 2.0], "b": ["x", None, np.nan]})
    assert check_X(est, X, reset=True) is X


def test_dataframe_inf_raises_naming_column(est):
    X = pd.DataFrame({"ok": [1.0, 2.0], "bad": [np.inf, 1.0]})
    with pytest.raises(ValueError, match="infinity in column 'bad'"):
        check_X(est, X, reset=True)


def test_dataframe_inf_in_object_numeric_column_raises(est):
    X = pd.DataFrame({"bad": np.array([1, -np.inf, None], dtype=object)})
    with pytest.raises(ValueError, match="infinity in column 'bad'"):
        check_X(est, X, reset=True)


def test_dataframe_complex_raises(est):
    X = pd.DataFrame({"z": [1 + 2j, 3 + 0j]})
    with pytest.raises(ValueError, match="Complex data not supported"):
        check_X(est, X, reset=True)


def test_dataframe_dict_values_raise_type_error_naming_column(est):
    X = pd.DataFrame({"a": [1.0, 2.0], "payload": [{"k": 1}, {"k": 2}]})
    with pytest.raises(TypeError, match="'payload'") as info:
        check_X(est, X, reset=True)
    assert "dict" in str(info.value)
    assert "AutoDLClassifier" in str(info.value)


def test_dataframe_datetime_raises_type_error(est):
    X = pd.DataFrame({"when": pd.date_range("2024-01-01", periods=3)})
    with pytest.raises(TypeError, match="'when'"):
        check_X(est, X, reset=True)


@pytest.mark.parametrize("shape", [(0, 2), (3, 0)])
def test_dataframe_empty_raises(est, shape):
    X = pd.DataFrame(np.zeros(shape))
    with pytest.raises(ValueError, match="0 (sample|feature)"):
        check_X(est, X, reset=True)


# ---------------------------------------------------------------- check_X: numpy
def test_numeric_array_becomes_float64(est):
    X = np.arange(6, dtype=np.int32).reshape(3, 2)
    out = check_X(est, X, reset=True)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, X)
    assert est.n_features_in_ == 2


def test_numpy_nan_accepted(est):
    X = np.array([[np.nan, 1.0], [2.0, 3.0]])
    out = check_X(est, X, reset=True)
    assert np.isnan(out[0, 0])
    assert out[1, 1] == 3.0


def test_numpy_inf_raises(est):
    with pytest.raises(ValueError, match="infinity"):
        check_X(est, np.array([[np.inf, 1.0], [2.0, 3.0]]), reset=True)


def test_object_array_with_strings_kept_as_object(est):
    X = np.array([[1, "a"], [2, "b"], [3, None]], dtype=object)
    out = check_X(est, X, reset=True)
    assert out.dtype == object
    assert out.shape == (3, 2)
    assert out[1, 1] == "b"


def test_object_array_of_numbers_becomes_float(est):
    X = np.array([[1, 2.5], [2, None]], dtype=object)
    out = check_X(est, X, reset=True)
    assert out.dtype == np.float64
    assert out[0, 1] == 2.5
    assert np.isnan(out[1, 1])


def test_object_array_inf_in_numeric_column_raises(est):
    X = np.array([[np.inf, "a"], [1.0, "b"]], dtype=object)
    with pytest.raises(ValueError, match="infinity"):
        check_X(est, X, reset=True)


def test_object_array_dict_raises_type_error_naming_column(est):
    X = np.array([[1.0, {"a": 1}], [2.0, {"b": 2}]], dtype=object)
    with pytest.raises(TypeError, match="Column 1 of X") as info:
        check_X(est, X, reset=True)
    assert "dict" in str(info.value)


def test_complex_array_raises(est):
    with pytest.raises(ValueError, match="Complex data not supported"):
        check_X(est, np.array([[1 + 1j, 2.0], [3.0, 4.0]]), reset=True)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_sparse_raises_type_error(est, fmt):
    X = sp.random(5, 3, density=0.5, format=fmt, random_state=0)
    with pytest.raises(TypeError, match="Sparse"):
        check_X(est, X, reset=True)


def test_predict_with_wrong_width_raises(est):
    check_X(est, np.zeros((4, 3)), reset=True)
    with pytest.raises(ValueError, match="3 features"):
        check_X(est, np.zeros((4, 2)), reset=False)


# ---------------------------------------------------------------- check_y
@pytest.mark.parametrize("classifier", [True, False])
@pytest.mark.parametrize("bad, match", [(np.nan, "NaN"), (np.inf, "infinity")])
def test_y_with_nan_or_inf_raises(est, classifier, bad, match):
    y = np.array([0.0, 1.0, bad, 1.0])
    with pytest.raises(ValueError, match=match):
        check_y(est, y, 4, classifier=classifier)


def test_object_labels_with_none_raise(est):
    y = np.array(["a", None, "b"], dtype=object)
    with pytest.raises(ValueError, match="NaN or None.*row 1"):
        check_y(est, y, 3, classifier=True)


@pytest.mark.parametrize("classifier", [True, False])
def test_length_mismatch_names_both_lengths(est, classifier):
    with pytest.raises(ValueError, match="inconsistent") as info:
        check_y(est, [0, 1, 0, 1, 0], 3, classifier=classifier)
    message = str(info.value)
    assert "3" in message and "5" in message


def test_y_none_raises(est):
    with pytest.raises(ValueError, match="requires y"):
        check_y(est, None, 3, classifier=True)


def test_sparse_y_raises(est):
    with pytest.raises(TypeError, match="sparse"):
        check_y(est, sp.csr_matrix(np.ones((3, 1))), 3, classifier=False)


def test_classifier_string_labels_kept(est):
    y = check_y(est, ["b", "a", "b"], 3, classifier=True)
    assert y.ndim == 1
    assert list(y) == ["b", "a", "b"]


def test_classifier_column_vector_warns_and_ravels(est):
    with pytest.warns(DataConversionWarning):
        y = check_y(est, np.array([[0], [1], [0]]), 3, classifier=True)
    assert y.shape == (3,)


def test_classifier_continuous_target_raises(est):
    with pytest.raises(ValueError, match="Unknown label type"):
        check_y(est, np.linspace(0, 1, 10), 10, classifier=True)


def test_regressor_keeps_dimensions_and_casts_to_float():
    reg = AutoDLRegressor()
    y1 = check_y(reg, [1, 2, 3], 3, classifier=False)
    assert y1.dtype == np.float64 and y1.shape == (3,)
    y2 = check_y(reg, np.ones((3, 2), dtype=np.int64), 3, classifier=False)
    assert y2.dtype == np.float64 and y2.shape == (3, 2)


def test_regressor_non_numeric_target_raises():
    with pytest.raises(ValueError, match="numeric targets"):
        check_y(AutoDLRegressor(), np.array(["a", "b"], dtype=object), 2,
                classifier=False)


def test_regressor_3d_target_raises():
    with pytest.raises(ValueError, match="1-D or 2-D"):
        check_y(AutoDLRegressor(), np.zeros((3, 2, 2)), 3, classifier=False)


# ---------------------------------------------------------------- detect_task
def test_detect_binary_and_multiclass():
    binary = detect_task(np.array(["a", "b", "a"]), classifier=True, n_classes=2)
    assert binary == TaskInfo("binary", 2, "tabular", 3)
    assert binary.is_classification
    multi = detect_task(np.array([0, 1, 2, 2]), classifier=True, n_classes=3)
    assert multi.kind == "multiclass" and multi.n_outputs == 3
    assert multi.n_samples == 4


def test_detect_regression_tasks():
    single = detect_task(np.zeros(5), classifier=False)
    assert single.kind == "regression" and single.n_outputs == 1
    assert not single.is_classification
    multi = detect_task(np.zeros((5, 3)), classifier=False)
    assert multi.kind == "multioutput-regression" and multi.n_outputs == 3
    assert multi.n_samples == 5


# ------------------------------------------- hardening issue: items 4 and 6
@pytest.mark.parametrize("reset", [True, False])
def test_duplicate_column_names_raise_our_error_naming_them(reset):
    est = AutoDLClassifier()
    good = pd.DataFrame(np.zeros((3, 4)), columns=["a", "b", "c", "d"])
    check_X(est, good, reset=True)
    X = pd.DataFrame(np.zeros((3, 4)), columns=["a", "b", "a", "b"])
    with pytest.raises(ValueError) as info:
        check_X(est, X, reset=reset)
    assert type(info.value) is ValueError  # not narwhals' DuplicateError
    assert "duplicate column names" in str(info.value)
    assert "'a' (2 times), 'b' (2 times)" in str(info.value)


def test_mixed_label_types_raise_saying_so(est):
    y = np.array([1, 2, 3, "a", "b"] * 2, dtype=object)
    with pytest.raises(ValueError) as info:
        check_y(est, y, 10, classifier=True)
    msg = str(info.value)
    assert "y mixes types: int (3 labels) and str (2 labels)" in msg
    assert "astype(str)" in msg
    mixed = pd.Series([True, 0, "x", 2.5])
    with pytest.raises(ValueError, match=r"bool \(1 label\), float \(1 label\), "
                                         r"int \(1 label\) and str \(1 label\)"):
        check_y(est, mixed, 4, classifier=True)


def test_object_labels_that_are_all_numbers_are_numbers(est):
    y = check_y(est, np.array([0, 1, 2, 1], dtype=object), 4, classifier=True)
    assert y.dtype.kind == "i"
    np.testing.assert_array_equal(y, [0, 1, 2, 1])
    assert check_y(est, pd.Series(["a", "b"], dtype=object), 2,
                   classifier=True).dtype == object


@pytest.mark.parametrize("big", [1e39, -1e39, 1e300])
def test_regression_targets_beyond_float32_raise_naming_y(big):
    y = np.array([0.0, 1.0, big, 2.0])
    with pytest.raises(ValueError) as info:
        check_y(AutoDLRegressor(), y, 4, classifier=False)
    msg = str(info.value)
    for words in ("y holds", f"{abs(big):.3g}", "float32", "3.4e+38", "rescale y"):
        assert words in msg
    # up to float32's limit is fine (the nets standardize in float64)
    check_y(AutoDLRegressor(), np.array([0.0, 3e38, -3e38]), 3, classifier=False)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_regression_needs_four_samples(n):
    with pytest.raises(ValueError) as info:
        check_fit_input(AutoDLRegressor(), np.zeros((n, 2)), np.arange(n * 1.0),
                        classifier=False)
    msg = str(info.value)
    assert f"n_samples={n}" in msg and "at least 4 samples" in msg
    X, y, _ = check_fit_input(AutoDLRegressor(), np.zeros((4, 2)), np.arange(4.0),
                              classifier=False)
    assert len(y) == 4
    # a classifier still needs only 2
    check_fit_input(AutoDLClassifier(), np.zeros((2, 2)), [0, 1], classifier=True)
