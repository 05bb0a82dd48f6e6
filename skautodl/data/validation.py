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
TASK_KINDS = ("binary", "multiclass", "multilabel", "regression",
              "multioutput-regression")
#: the largest finite float32: the networks compute in float32
_FLOAT32_MAX = float(np.finfo(np.float32).max)
#: fewest samples of a regression: 2 to train on, 2 to validate on (R2 is
#: undefined on a single validation row)
MIN_REGRESSION_SAMPLES = 4


@dataclass(frozen=True)
class TaskInfo:
    """What the networks must learn, as detected from ``X`` and ``y``.

    Parameters
    ----------
    kind : str
        One of ``"binary"``, ``"multiclass"``, ``"multilabel"``,
        ``"regression"``, ``"multioutput-regression"``.
    n_outputs : int
        Number of network outputs: classes for a classifier, labels for a
        multi-label classifier, target columns for a regressor.
    input_kind : str
        ``"tabular"`` or ``"image"``.
    n_samples : int
        Number of training samples.
    image_shape : tuple of int or None
        ``(C, H, W)`` of image inputs (which travel as flat rows).

    See Also
    --------
    detect_task : Build it from a validated ``y``.
    """

    kind: str
    n_outputs: int
    input_kind: str = "tabular"
    n_samples: int = 0
    image_shape: tuple | None = None

    @property
    def is_classification(self) -> bool:
        """One label per row (binary or multiclass): softmax over classes."""
        return self.kind in ("binary", "multiclass")

    @property
    def is_multilabel(self) -> bool:
        """A 0/1 indicator per label: one sigmoid output per label."""
        return self.kind == "multilabel"


def _is_dataframe(X) -> bool:
    return isinstance(X, pd.DataFrame)


def object_column_kind(values, column_name, estimator_name):
    """Check one object column: numbers or strings (with missing) only.

    Parameters
    ----------
    values : array-like
        The column's values.
    column_name : object
        The column's name (or position), for the messages.
    estimator_name : str
        The estimator's name, for the messages.

    Returns
    -------
    {"numeric", "categorical"}
        ``"numeric"`` when every non-missing value is a number or a boolean,
        ``"categorical"`` when there is a string.

    Raises
    ------
    ValueError
        For a complex number.
    TypeError
        For a value of any other type (a list, a date...), naming the
        column.
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
    """Tell how a pandas column is featurized: as numbers or as categories.

    The one column-kind rule of the package: ``category`` columns are
    categorical; boolean and numeric dtypes are numeric; string and object
    columns are numeric when every non-missing value is a number, and
    categorical otherwise (see :func:`object_column_kind`).

    Parameters
    ----------
    series : pandas.Series
        The column.
    estimator_name : str, default="TabularFeaturizer"
        The name used in error messages.

    Returns
    -------
    {"numeric", "categorical"}
        The column's kind.

    Raises
    ------
    TypeError
        For an unsupported dtype or an object value that is neither a
        number nor a string.

    Examples
    --------
    >>> import pandas as pd
    >>> from skautodl.data.validation import column_kind
    >>> column_kind(pd.Series([1.5, None])), column_kind(pd.Series(["a", "b"]))
    ('numeric', 'categorical')
    >>> column_kind(pd.Series([1, 2], dtype="category"))
    'categorical'
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


def parse_number(value):
    """Parse a number, or a string that ``float`` parses.

    The documented rule for numeric strings: a string counts as a number
    only when ``float(s)`` succeeds on it (surrounding spaces, exponents,
    ``"nan"`` and ``"inf"`` included; ``"1,5"`` or ``"12 kg"`` are not
    numbers).

    Parameters
    ----------
    value : object
        A cell of a column.

    Returns
    -------
    float or None
        ``float(value)``, or None when ``value`` is not a number.

    Examples
    --------
    >>> from skautodl.data.validation import parse_number
    >>> parse_number(" 1e3 "), parse_number("1,5"), parse_number(True)
    (1000.0, None, 1.0)
    """
    if isinstance(value, bool | np.bool_ | numbers.Real):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _examples(values, k=3):
    shown = ", ".join(repr(v) for v in values[:k])
    return shown + (", ..." if len(values) > k else "")


#: ``pandas.api.types.infer_dtype`` answers for columns of numbers only
_NUMBER_DTYPES = ("floating", "integer", "mixed-integer-float", "boolean",
                  "decimal", "empty")


def check_column_drift(series, fitted_kind, column, *, number_levels=True,
                       owner="TabularFeaturizer"):
    """Check a column at ``transform``/``predict`` against its kind at ``fit``.

    The type-drift rule: a column that was numeric at fit may arrive as
    strings (or as a ``category`` column) only when every non-missing value
    parses as a number (:func:`parse_number`); a column that was categorical
    at fit may arrive as numbers only when some level seen at fit was a
    number (or ``True``/``False``), as for int-coded categories that arrive
    as floats (``number_levels``). Anything else raises ``ValueError`` naming
    the column and both kinds, instead of silently turning the values into
    missing ones or unseen levels.

    Parameters
    ----------
    series : pandas.Series
        The column as it arrives.
    fitted_kind : {"numeric", "categorical"}
        Its kind at fit (:func:`column_kind`).
    column : object
        The column's name (or position), for the message.
    number_levels : bool, default=True
        Whether the column, categorical at fit, had a level that is a number.
    owner : str, default="TabularFeaturizer"
        The name used in error messages.

    Raises
    ------
    ValueError
        If the column's kind changed in a way the rule refuses, or a numeric
        column arrives with infinite values.
    """
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        kind = "categorical"
    elif pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        kind = "numeric"
    else:  # strings or objects: the values decide (infer_dtype is the fast way)
        inferred = pd.api.types.infer_dtype(series, skipna=True)
        kind = ("categorical" if inferred == "string" else
                "numeric" if inferred in _NUMBER_DTYPES else
                column_kind(series, owner))
    if kind == fitted_kind:
        return
    values = pd.unique(series.dropna().to_numpy(dtype=object))
    if not len(values):
        return  # all missing: missing values are imputed, whatever the dtype
    if fitted_kind == "numeric":
        parsed = [(v, parse_number(v)) for v in values]
        bad = [v for v, f in parsed if f is None]
        if bad:
            raise ValueError(
                f"Column {column!r} was numeric at fit but arrives as categorical: "
                f"{len(bad)} distinct value(s) are not numbers "
                f"({_examples(bad)}). A numeric column may arrive as strings only "
                "if every non-missing value parses as a number (float(s) "
                "succeeds); convert the column to numbers (pd.to_numeric) or fix "
                "those values."
            )
        infinite = [v for v, f in parsed if np.isinf(f)]
        if infinite:
            raise ValueError(
                f"Input X contains infinity in column {column!r} "
                f"({_examples(infinite)}); replace it with a finite value or NaN "
                "(missing values are imputed)."
            )
        return
    if not number_levels:
        raise ValueError(
            f"Column {column!r} was categorical at fit, with no level that is a "
            "number, but arrives as numeric (values such as "
            f"{_examples(values)}): pass the column with the categories it had "
            "at fit."
        )


def check_unique_columns(X, owner):
    """Raise ``ValueError`` naming the column names a DataFrame repeats.

    Parameters
    ----------
    X : pandas.DataFrame
        The input table.
    owner : str
        The estimator's name, for the message.

    Raises
    ------
    ValueError
        If a column name appears more than once.
    """
    counts = pd.Index(X.columns).value_counts(sort=False)
    repeated = counts[counts > 1]
    if len(repeated):
        names = ", ".join(f"{name!r} ({int(n)} times)"
                          for name, n in repeated.items())
        raise ValueError(
            f"X passed to {owner} has duplicate column names: {names}. Every "
            "column needs its own name (rename or drop the repeats)."
        )


def check_X(estimator, X, *, reset):
    """Validate ``X`` for ``fit`` (``reset=True``) or ``predict`` (``reset=False``).

    Sets or checks ``n_features_in_`` and ``feature_names_in_`` on the
    estimator through :func:`sklearn.utils.validation.validate_data`; a
    DataFrame's column names must be unique (:func:`check_unique_columns`).

    Parameters
    ----------
    estimator : BaseEstimator
        The estimator the input is for: its name goes into the messages,
        and ``n_features_in_`` / ``feature_names_in_`` are set or checked
        on it.
    X : array-like or pandas.DataFrame of shape (n_samples, n_features)
        The input.
    reset : bool
        True at ``fit`` (set the attributes), False at ``predict`` (check
        them).

    Returns
    -------
    pandas.DataFrame or numpy.ndarray
        A DataFrame is returned as is (the featurizer reads its dtypes); any
        other input becomes a 2-D float64 array (float32 input stays
        float32), or an object array when it holds strings (categorical
        columns).

    Raises
    ------
    ValueError
        For an empty input, complex values, infinity, duplicate column
        names, or columns that differ from those seen at ``fit``.
    TypeError
        For sparse input, date or time columns, or values that are neither
        numbers nor strings.
    """
    name = type(estimator).__name__
    if _is_dataframe(X):
        check_unique_columns(X, name)
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
    # float32 stays float32: a float64 copy of a large input would double
    # its memory (the featurizers and networks work in float32 anyway)
    return validate_data(
        estimator, X, reset=reset, dtype=[np.float64, np.float32],
        ensure_all_finite="allow-nan"
    )


def normalize_image_shape(image_shape):
    """Turn ``(H, W)`` or ``(C, H, W)`` into ``(C, H, W)``.

    Parameters
    ----------
    image_shape : tuple of int
        ``(H, W)`` (one channel) or ``(C, H, W)``, positive ints.

    Returns
    -------
    tuple of int
        ``(C, H, W)``.

    Raises
    ------
    ValueError
        For any other value.

    Examples
    --------
    >>> from skautodl.data.validation import normalize_image_shape
    >>> normalize_image_shape((28, 28)), normalize_image_shape([3, 32, 32])
    ((1, 28, 28), (3, 32, 32))
    """
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
    """Tell whether ``X`` is image data.

    Parameters
    ----------
    X : array-like or pandas.DataFrame
        The input.
    image_shape : tuple of int or None, default=None
        The estimator's ``image_shape``: when given, ``X`` is always images.

    Returns
    -------
    bool
        True for a 3-D or 4-D array, or with ``image_shape``; DataFrames and
        sparse matrices are never images.
    """
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

    Parameters
    ----------
    estimator : BaseEstimator
        The estimator the input is for: its name goes into the messages,
        and ``n_features_in_`` / ``feature_names_in_`` are set or checked
        on it. At ``predict`` its ``image_shape_`` must match.
    X : array-like
        The images, or flat rows with ``image_shape``.
    reset : bool
        True at ``fit``, False at ``predict``.
    image_shape : tuple of int or None, default=None
        ``(H, W)`` or ``(C, H, W)`` of flat rows (or a check of a 4-D
        array's shape).

    Returns
    -------
    X_flat : ndarray of shape (n_samples, C*H*W)
        The images as flat float64 rows.
    shape : tuple of int
        ``(C, H, W)``.

    Raises
    ------
    ValueError
        For complex values, an array that is neither images nor flat rows
        of ``image_shape``, or a shape that differs from ``image_shape`` or
        from the one seen in ``fit``.
    TypeError
        For sparse input.
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


_LABEL_TYPES = (((bool, np.bool_), "bool"), ((numbers.Integral,), "int"),
                ((numbers.Real,), "float"), ((str,), "str"))


def _label_type(value):
    for types, label in _LABEL_TYPES:
        if isinstance(value, types):
            return label
    return type(value).__name__


def _object_labels(y):
    """Class labels of an object array: one type, numbers as a numeric array.

    Labels that mix types (``1`` and ``"a"``) cannot be ordered into
    ``classes_``; scikit-learn's own message ("Unknown label type: unknown")
    does not say why, so they raise here. Labels that are all numbers become
    an int (or float) array: scikit-learn does not recognize numbers in an
    object array as class labels.
    """
    kinds = {}
    for v in y:
        try:
            kinds.setdefault(_label_type(v), set()).add(v)
        except TypeError:  # unhashable: scikit-learn says what is wrong
            return y
    groups = {"number" if k in ("int", "float") else k for k in kinds}
    if len(groups) > 1:
        parts = [f"{k} ({len(v)} label{'s' if len(v) != 1 else ''})"
                 for k, v in sorted(kinds.items())]
        listed = ", ".join(parts[:-1]) + " and " + parts[-1]
        raise ValueError(
            f"y mixes types: {listed}; class labels must be all numbers or all "
            "strings. Convert them to one type first, for example "
            "y.astype(str)."
        )
    if groups <= {"number", "bool"} and len(y):
        return np.asarray(y.tolist())
    return y


def _is_indicator_matrix(y):
    """Whether ``y`` is 2-D with more than one column (a multi-output target)."""
    shape = getattr(y, "shape", None)
    if shape is None:  # lists (of lists), or array-likes without a shape
        shape = np.asarray(y).shape
    return len(shape) == 2 and shape[1] > 1


def _check_multilabel(y, name):
    """A label-indicator ``y`` (n_samples, n_labels) of 0/1, as an int array."""
    y = np.asarray(y)
    kind = type_of_target(y)
    if kind != "multilabel-indicator":
        raise ValueError(
            f"{name} takes a 2-D y only as a label-indicator matrix (n_samples, "
            f"n_labels) of 0 and 1 (multi-label classification); got a "
            f"{kind!r} target of shape {y.shape}. For several multiclass "
            "outputs, fit one classifier per column (for example with "
            "sklearn.multioutput.MultiOutputClassifier)."
        )
    if y.dtype.kind not in "biu":
        y = y.astype(np.int64)
    return y


def check_y(estimator, y, n_samples, *, classifier):
    """Validate ``y`` and return it as a numpy array.

    For a classifier the returned array is 1-D (a column vector warns with
    ``DataConversionWarning``, as everywhere in scikit-learn), or a 2-D
    label-indicator matrix of 0/1 for multi-label classification (any other
    2-D target is refused with a message); labels in an
    object array must be of one type (numbers, which become a numeric array,
    or strings). For a regressor it is float64 with the user's number of
    dimensions kept, and its values must lie within float32's range (the
    networks train in float32; they standardize the targets in float64
    first, so any finite float32 value works).

    Parameters
    ----------
    estimator : BaseEstimator
        The estimator, for the messages.
    y : array-like
        The targets.
    n_samples : int
        The rows of ``X``, which ``y`` must match.
    classifier : bool
        Whether ``y`` holds class labels.

    Returns
    -------
    ndarray
        The checked targets.

    Raises
    ------
    ValueError
        For a missing ``y``, a length other than ``n_samples``, missing or
        infinite values, labels of mixed types, a 2-D classifier target
        that is not a 0/1 indicator matrix, non-numeric or out-of-range
        regression targets, or more than 2 dimensions.
    TypeError
        For a sparse ``y``.
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
    if classifier and _is_indicator_matrix(y):
        return _check_multilabel(y, name)
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
            y = _object_labels(y)
            if y.dtype.kind == "f":
                assert_all_finite(y, input_name="y")
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
    biggest = float(np.abs(y_arr).max()) if y_arr.size else 0.0
    if biggest > _FLOAT32_MAX:
        raise ValueError(
            f"y holds values up to {biggest:.3g} in magnitude, beyond float32's "
            f"range (+-{_FLOAT32_MAX:.2g}) in which {name} trains its networks; "
            "rescale y (for example divide it by 1e30) and scale the "
            "predictions back."
        )
    return y_arr


def check_fit_input(estimator, X, y, *, image_shape=None, classifier):
    """Validate ``fit``'s input; the first step of every ``fit``.

    Tabular ``X`` goes through :func:`check_X`, image ``X`` (a 3-D or 4-D
    array, or flat rows with ``image_shape``) through
    :func:`check_image_X`; ``y`` through :func:`check_y`. A classifier needs
    2 samples, a regressor :data:`MIN_REGRESSION_SAMPLES` (4). Sets the
    estimator's ``n_features_in_`` (and ``feature_names_in_``), and
    ``image_shape_`` for images (removing a stale one otherwise).

    Parameters
    ----------
    estimator : BaseEstimator
        The estimator the input is for: its name goes into the messages,
        and ``n_features_in_`` / ``feature_names_in_`` are set or checked
        on it.
    X : array-like or pandas.DataFrame
        The training input: a table, or images.
    y : array-like
        The targets.
    image_shape : tuple of int or None, default=None
        The estimator's ``image_shape`` parameter.
    classifier : bool
        Whether ``y`` holds class labels.

    Returns
    -------
    X : pandas.DataFrame or ndarray
        The checked input (:func:`check_X`), or images as flat float64
        rows.
    y : ndarray
        The checked targets (:func:`check_y`).
    image_shape : tuple of int or None
        ``(C, H, W)`` of images, None for a table.

    Raises
    ------
    ValueError
        For an invalid input (see the checks named above) or too few
        samples.
    TypeError
        For an input of an unsupported type (sparse, dates...).
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
    name = type(estimator).__name__
    if classifier and len(y) < 2:
        raise ValueError(
            f"{name} needs at least 2 samples to hold out validation data; got "
            f"n_samples={len(y)}."
        )
    if not classifier and len(y) < MIN_REGRESSION_SAMPLES:
        raise ValueError(
            f"{name} needs at least {MIN_REGRESSION_SAMPLES} samples for a "
            "regression (2 to train on and 2 to validate on: R2 is undefined on "
            f"a single validation row); got n_samples={len(y)}."
        )
    return X, y, shape


def check_predict_input(estimator, X):
    """Validate ``X`` for ``predict``: the same columns or image shape as in ``fit``.

    Parameters
    ----------
    estimator : BaseEstimator
        A fitted estimator (its ``n_features_in_``, ``feature_names_in_``
        and ``image_shape_`` are checked against).
    X : array-like or pandas.DataFrame
        The rows to predict.

    Returns
    -------
    pandas.DataFrame or ndarray
        The checked rows (flat float64 rows for images).

    Raises
    ------
    ValueError
        If the columns or the image shape differ from those seen in ``fit``,
        or the input is invalid (see :func:`check_X`).
    """
    shape = getattr(estimator, "image_shape_", None)
    if shape is not None:
        flat_rows = getattr(X, "ndim", np.ndim(X)) == 2
        return check_image_X(estimator, X, reset=False,
                             image_shape=shape if flat_rows else None)[0]
    return check_X(estimator, X, reset=False)


def detect_task(y, *, classifier, n_classes=None, input_kind="tabular",
                image_shape=None) -> TaskInfo:
    """Describe the learning task from an already validated ``y``.

    Parameters
    ----------
    y : ndarray
        The validated targets (class indices, a 0/1 indicator matrix, or
        values).
    classifier : bool
        Whether the estimator is a classifier.
    n_classes : int or None, default=None
        The number of classes (classifiers with a 1-D ``y``).
    input_kind : {"tabular", "image"}, default="tabular"
        The kind of ``X``.
    image_shape : tuple of int or None, default=None
        ``(C, H, W)`` of images.

    Returns
    -------
    TaskInfo
        The task: ``"multilabel"`` for a 2-D classifier target,
        ``"binary"`` or ``"multiclass"`` by ``n_classes``, and
        ``"regression"`` or ``"multioutput-regression"`` by ``y``'s
        dimensions.

    Examples
    --------
    >>> import numpy as np
    >>> from skautodl.data.validation import detect_task
    >>> detect_task(np.zeros((5, 3)), classifier=False)
    TaskInfo(kind='multioutput-regression', n_outputs=3, input_kind='tabular', \
n_samples=5, image_shape=None)
    """
    n = len(y)
    common = {"input_kind": input_kind, "n_samples": n, "image_shape": image_shape}
    if classifier and np.ndim(y) == 2:
        return TaskInfo(kind="multilabel", n_outputs=int(np.shape(y)[1]), **common)
    if classifier:
        kind = "binary" if n_classes == 2 else "multiclass"
        return TaskInfo(kind=kind, n_outputs=int(n_classes), **common)
    if y.ndim == 2:
        return TaskInfo(kind="multioutput-regression", n_outputs=y.shape[1],
                        **common)
    return TaskInfo(kind="regression", n_outputs=1, **common)


__all__ = ["MIN_REGRESSION_SAMPLES", "TaskInfo", "check_X", "check_column_drift",
           "check_fit_input", "check_predict_input", "check_unique_columns",
           "check_y", "column_kind", "detect_task", "parse_number",
           "type_of_target"]
