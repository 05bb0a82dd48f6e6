"""Input checks with clear messages, and the task description they produce.

Every check names what is wrong (which column, which shape, what was
expected) so that a user can fix the input instead of guessing.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils import assert_all_finite
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import _num_samples, column_or_1d, validate_data

#: task kinds understood by the rest of the package
TASK_KINDS = ("binary", "multiclass", "regression", "multioutput-regression")


@dataclass(frozen=True)
class TaskInfo:
    """What the networks must learn, as detected from ``X`` and ``y``.

    Parameters
    ----------
    kind : str
        One of ``"binary"``, ``"multiclass"``, ``"regression"``,
        ``"multioutput-regression"``.
    n_outputs : int
        Number of network outputs: classes for a classifier, target columns
        for a regressor.
    input_kind : str
        ``"tabular"`` or ``"image"``.
    n_samples : int
        Number of training samples.
    image_shape : tuple of int or None
        ``(C, H, W)`` of image inputs (which travel as flat rows).
    """

    kind: str
    n_outputs: int
    input_kind: str = "tabular"
    n_samples: int = 0
    image_shape: tuple | None = None

    @property
    def is_classification(self) -> bool:
        return self.kind in ("binary", "multiclass")


def _is_dataframe(X) -> bool:
    return isinstance(X, pd.DataFrame)


def object_column_kind(values, column_name, estimator_name):
    """Check one object column: numbers or strings (with missing) only.

    Returns ``"numeric"`` when every value converts to a float, else
    ``"categorical"``; raises ``TypeError`` naming the column otherwise.
    """
    numeric = True
    for v in values:
        if v is None or v is pd.NA:
            continue
        if isinstance(v, bool | np.bool_):
            continue
        if isinstance(v, int | float | np.integer | np.floating):
            continue
        if isinstance(v, str):
            numeric = False
            continue
        if isinstance(v, complex | np.complexfloating):
            raise ValueError(
                f"Complex data not supported: column {column_name!r} of X passed "
                f"to {estimator_name} holds the complex value {v!r}."
            )
        raise TypeError(
            f"Column {column_name!r} of X passed to {estimator_name} holds a value "
            f"of type {type(v).__name__} ({v!r:.60}); float() argument must be a "
            f"string or a real number, not '{type(v).__name__}'. Only numbers, "
            "booleans and strings (categories) are supported."
        )
    return "numeric" if numeric else "categorical"


def column_kind(series, estimator_name="TabularFeaturizer"):
    """``"numeric"`` or ``"categorical"``: how a pandas column is featurized.

    The one column-kind rule of the package: ``category`` columns are
    categorical; boolean and numeric dtypes are numeric; string and object
    columns are numeric when every non-missing value is a number, and
    categorical otherwise (see :func:`object_column_kind`).
    """
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    if pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype):
        return object_column_kind(series.dropna().to_numpy(dtype=object),
                                  series.name, estimator_name)
    raise TypeError(f"Column {series.name!r} has unsupported dtype {dtype}.")


def check_X(estimator, X, *, reset):
    """Validate ``X`` for ``fit`` (``reset=True``) or ``predict`` (``reset=False``).

    Sets or checks ``n_features_in_`` and ``feature_names_in_`` on the
    estimator through :func:`sklearn.utils.validation.validate_data`.

    Returns
    -------
    X : pandas.DataFrame or numpy.ndarray
        A DataFrame is returned as is (the featurizer reads its dtypes); any
        other input becomes a 2-D float64 array, or an object array when it
        holds strings (categorical columns).
    """
    name = type(estimator).__name__
    if _is_dataframe(X):
        validate_data(estimator, X, reset=reset, skip_check_array=True)
        if X.shape[0] == 0:
            raise ValueError(
                f"Found array with 0 sample(s) (shape={X.shape}) while a minimum "
                f"of 1 is required by {name}."
            )
        if X.shape[1] == 0:
            raise ValueError(
                f"Found array with 0 feature(s) (shape={X.shape}) while a minimum "
                f"of 1 is required by {name}."
            )
        for col in X.columns:
            s = X[col]
            dtype = s.dtype
            if pd.api.types.is_complex_dtype(dtype):
                raise ValueError(
                    f"Complex data not supported: column {col!r} of X has dtype "
                    f"{dtype}."
                )
            if pd.api.types.is_datetime64_any_dtype(dtype) or isinstance(
                dtype, pd.PeriodDtype | pd.IntervalDtype
            ) or pd.api.types.is_timedelta64_dtype(dtype):
                raise TypeError(
                    f"Column {col!r} of X has dtype {dtype}, which {name} cannot "
                    "use directly; convert it to numeric features (for example "
                    "year, month, day of week) or to strings first."
                )
            if pd.api.types.is_object_dtype(dtype):
                values = s.to_numpy()
                if object_column_kind(values, col, name) == "numeric":
                    # an object column of numbers is numeric: no inf either
                    values = np.array([v for v in values if isinstance(
                        v, float | np.floating)], dtype="float64")
                else:
                    values = np.zeros(0)
            elif pd.api.types.is_numeric_dtype(dtype) and not (
                pd.api.types.is_bool_dtype(dtype)
            ):
                values = s.to_numpy(dtype="float64", na_value=np.nan)
            else:
                values = np.zeros(0)
            if np.isinf(values).any():
                raise ValueError(
                    f"Input X contains infinity in column {col!r}; replace it "
                    "with a finite value or NaN (missing values are imputed)."
                )
        return X

    if sp.issparse(X):
        raise TypeError(
            f"Sparse data was passed to {name}, but dense data is required. Use "
            "X.toarray() to convert to a dense numpy array."
        )
    X_arr = np.asarray(X) if not hasattr(X, "__array__") else X
    dtype_kind = getattr(np.asarray(X_arr).dtype, "kind", "O")
    if dtype_kind in "OUS":
        # object / string arrays: numbers stay numbers, strings are categories
        X_checked = validate_data(
            estimator, X, reset=reset, dtype=None, ensure_all_finite=False
        )
        X_obj = np.asarray(X_checked, dtype=object)
        kinds = [
            object_column_kind(X_obj[:, j], j, name) for j in range(X_obj.shape[1])
        ]
        if all(k == "numeric" for k in kinds):
            X_float = np.array(
                [[np.nan if v is None or v is pd.NA else v for v in row]
                 for row in X_obj],
                dtype=np.float64,
            ).reshape(X_obj.shape)
            assert_all_finite(X_float, allow_nan=True, input_name="X")
            return X_float
        for j, k in enumerate(kinds):
            if k == "numeric":
                col = X_obj[:, j].astype(np.float64)
                assert_all_finite(col, allow_nan=True, input_name="X")
        return X_obj
    return validate_data(
        estimator, X, reset=reset, dtype=np.float64, ensure_all_finite="allow-nan"
    )


def normalize_image_shape(image_shape):
    """``(H, W)`` or ``(C, H, W)`` of positive ints -> ``(C, H, W)``."""
    shape = tuple(image_shape)
    if len(shape) not in (2, 3) or not all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0
        for v in shape
    ):
        raise ValueError(
            "image_shape must be (height, width) or (channels, height, width) of "
            f"positive ints; got {image_shape!r}."
        )
    return tuple(int(v) for v in ((1, *shape) if len(shape) == 2 else shape))


def is_image_input(X, image_shape=None):
    """Whether ``X`` is image data: a 3-D/4-D array, or rows with ``image_shape``."""
    if image_shape is not None:
        return True
    if _is_dataframe(X) or sp.issparse(X):
        return False
    ndim = getattr(X, "ndim", None)
    if ndim is None:
        try:
            ndim = np.asarray(X).ndim
        except (TypeError, ValueError):
            return False
    return ndim in (3, 4)


def check_image_X(estimator, X, *, reset, image_shape=None):
    """Validate image input and return it as flat float64 rows and its shape.

    Accepts ``(n, H, W)`` (one channel), ``(n, C, H, W)`` (uint8 or float),
    or flat rows ``(n, C*H*W)`` when ``image_shape`` is given. At ``predict``
    (``reset=False``) the shape must equal the one seen in ``fit``.

    Returns
    -------
    X_flat : ndarray of shape (n_samples, C*H*W)
    shape : tuple ``(C, H, W)``
    """
    name = type(estimator).__name__
    if sp.issparse(X):
        raise TypeError(
            f"Sparse data was passed to {name}, but dense data is required."
        )
    arr = np.asarray(X)
    if arr.dtype.kind in "c":
        raise ValueError("Complex data not supported in image input.")
    if arr.ndim == 3:
        arr = arr[:, None]
    if arr.ndim == 4:
        shape = tuple(int(v) for v in arr.shape[1:])
        if image_shape is not None and normalize_image_shape(image_shape) != shape:
            raise ValueError(
                f"X has images of shape {shape} (C, H, W), but image_shape="
                f"{tuple(image_shape)} was given."
            )
    elif arr.ndim == 2 and image_shape is not None:
        shape = normalize_image_shape(image_shape)
        if arr.shape[1] != int(np.prod(shape)):
            raise ValueError(
                f"X has {arr.shape[1]} columns, but image_shape={tuple(image_shape)} "
                f"needs {int(np.prod(shape))} (C*H*W) values per row."
            )
    else:
        raise ValueError(
            f"{name} expects images as an array of shape (n, H, W) or (n, C, H, W), "
            f"or flat rows with image_shape=...; got an array of shape {arr.shape}."
        )
    if not reset and shape != estimator.image_shape_:
        raise ValueError(
            f"X has images of shape {shape} (C, H, W), but {name} was fitted on "
            f"images of shape {estimator.image_shape_}."
        )
    flat = arr.reshape(arr.shape[0], -1)
    flat = validate_data(estimator, flat, reset=reset, dtype=np.float64)
    return flat, shape


def check_y(estimator, y, n_samples, *, classifier):
    """Validate ``y`` and return it as a numpy array.

    For a classifier the returned array is 1-D (a column vector warns with
    ``DataConversionWarning``, as everywhere in scikit-learn); for a
    regressor it is float64 with the user's number of dimensions kept.
    """
    name = type(estimator).__name__
    if y is None:
        raise ValueError(
            f"{name} requires y to be passed, but the target y is None."
        )
    if sp.issparse(y):
        raise TypeError(f"A sparse y was passed to {name}; pass a dense array.")
    n_y = _num_samples(y)
    if n_y != n_samples:
        raise ValueError(
            "Found input variables with inconsistent numbers of samples: "
            f"X has {n_samples} rows but y has {n_y}."
        )
    if classifier:
        y = column_or_1d(y, warn=True)
        if y.dtype.kind in "fc":
            assert_all_finite(y, input_name="y")
        elif y.dtype.kind == "O":
            missing = pd.isna(y)
            if missing.any():
                raise ValueError(
                    f"Input y contains NaN or None ({int(missing.sum())} missing "
                    f"labels, first at row {int(np.flatnonzero(missing)[0])})."
                )
        check_classification_targets(y)
        return y
    y_arr = np.asarray(y)
    if y_arr.dtype.kind not in "biuf":
        try:
            y_arr = y_arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"{name} needs numeric targets; y has dtype {y_arr.dtype} with "
                f"values that do not convert to float ({exc})."
            ) from None
    y_arr = y_arr.astype(np.float64)
    if y_arr.ndim not in (1, 2):
        raise ValueError(
            f"y must be 1-D or 2-D (n_samples, n_outputs); got shape {y_arr.shape}."
        )
    assert_all_finite(y_arr, input_name="y")
    return y_arr


def check_fit_input(estimator, X, y, *, image_shape=None, classifier):
    """Validate ``fit``'s input; the first step of every ``fit``.

    Tabular ``X`` goes through :func:`check_X`, image ``X`` (a 3-D or 4-D
    array, or flat rows with ``image_shape``) through
    :func:`check_image_X`; ``y`` through :func:`check_y`. Sets the
    estimator's ``n_features_in_`` (and ``feature_names_in_``), and
    ``image_shape_`` for images (removing a stale one otherwise).

    Returns
    -------
    X : DataFrame or ndarray
    y : ndarray
    image_shape : tuple ``(C, H, W)`` or None
    """
    shape = None
    if is_image_input(X, image_shape):
        if image_shape is not None:
            normalize_image_shape(image_shape)
        X, shape = check_image_X(estimator, X, reset=True, image_shape=image_shape)
        estimator.image_shape_ = shape
    else:
        estimator.__dict__.pop("image_shape_", None)
        X = check_X(estimator, X, reset=True)
    y = check_y(estimator, y, X.shape[0], classifier=classifier)
    if len(y) < 2:
        raise ValueError(
            f"{type(estimator).__name__} needs at least 2 samples to hold out "
            f"validation data; got n_samples={len(y)}."
        )
    return X, y, shape


def check_predict_input(estimator, X):
    """Validate ``X`` for ``predict``: the same columns or image shape as in ``fit``."""
    shape = getattr(estimator, "image_shape_", None)
    if shape is not None:
        flat_rows = getattr(X, "ndim", np.ndim(X)) == 2
        return check_image_X(estimator, X, reset=False,
                             image_shape=shape if flat_rows else None)[0]
    return check_X(estimator, X, reset=False)


def detect_task(y, *, classifier, n_classes=None, input_kind="tabular",
                image_shape=None) -> TaskInfo:
    """Describe the learning task from an already validated ``y``."""
    n = len(y)
    common = {"input_kind": input_kind, "n_samples": n, "image_shape": image_shape}
    if classifier:
        kind = "binary" if n_classes == 2 else "multiclass"
        return TaskInfo(kind=kind, n_outputs=int(n_classes), **common)
    if y.ndim == 2:
        return TaskInfo(kind="multioutput-regression", n_outputs=y.shape[1],
                        **common)
    return TaskInfo(kind="regression", n_outputs=1, **common)


__all__ = ["TaskInfo", "check_X", "check_fit_input", "check_predict_input", "check_y",
           "column_kind", "detect_task", "type_of_target"]
