"""The featurizer: raw tabular input -> float32 matrix for the networks.

Built from scikit-learn parts (``ColumnTransformer``, ``SimpleImputer`` with
missing-value indicators, ``OneHotEncoder``, ``StandardScaler``,
``QuantileTransformer`` or ``RobustScaler`` with a smooth clip) so that it
pickles, clones and nests like any other transformer. With
``categorical_encoding="codes"`` it lays the matrix out for the ``embed``
network family (numeric, binary and integer-code blocks) and describes that
layout in ``module_params_``. It is fitted once per split and its output is
cached (:class:`FeatureStore`, :func:`prepare_splits`), so every trial reuses
the same tensors.
"""

from __future__ import annotations

import numbers
import time
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from sklearn.base import (
    BaseEstimator,
    OneToOneFeatureMixin,
    TransformerMixin,
    clone,
)
from sklearn.compose import ColumnTransformer
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    OneHotEncoder,
    QuantileTransformer,
    RobustScaler,
    StandardScaler,
)
from sklearn.utils.validation import check_is_fitted

from skautodl.data.validation import check_column_drift, column_kind, parse_number
from skautodl.utils._malloc import release_free_memory

_MISSING = "__missing__"
_SCALINGS = ("standard", "quantile", "robust")
_ENCODINGS = ("onehot", "codes")
#: most piecewise-linear bins per numeric column in ``module_params_["bins"]``
_N_BINS = 16
#: the bound of the smooth clip after robust scaling
_CLIP = 3.0
#: bound of the scaled numeric features, applied after the overflow check.
#: Training rows never reach it: standard scaling gives at most sqrt(n - 1)
#: (Samuelson's inequality), quantile scaling +-5.2, robust scaling +-3; only
#: values far outside the training range at predict (10,000 standard
#: deviations) are held there, which keeps the networks' float32 arithmetic
#: finite
_BOUND = 1e4
#: the largest finite float32: the networks compute in float32
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _here():
    """Run the column transformers in this process, whatever joblib backend is
    active: inside ``parallel_backend("dask")`` scikit-learn's
    ``ColumnTransformer`` would otherwise ship the data to the cluster (even
    with ``n_jobs=1``) for a job that takes milliseconds here."""
    from joblib import parallel_config

    return parallel_config(backend="sequential")


def _to_frame(X) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        # positional integer column labels keep ColumnTransformer selection
        # independent of the user's column names
        return X.set_axis(range(X.shape[1]), axis=1)
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"Expected a 2-D array, got shape {X.shape}.")
    return pd.DataFrame(X)


def level_text(value):
    """Write a categorical level as text, numbers by value.

    ``1``, ``1.0`` and ``np.int8(1)`` are all ``"1"``, ``2.5`` is ``"2.5"``;
    strings stay as they are and booleans are ``"True"``/``"False"``.
    Int-coded categories that arrive as floats (or the other way round)
    thus keep their levels, at fit and at transform, in both encodings.

    Parameters
    ----------
    value : object
        A cell of a categorical column.

    Returns
    -------
    str
        The level.

    Examples
    --------
    >>> import numpy as np
    >>> from skautodl.data.featurize import level_text
    >>> level_text(1), level_text(1.0), level_text(np.int8(1)), level_text(2.5)
    ('1', '1', '1', '2.5')
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        if isinstance(value, np.floating) and not isinstance(value, float):
            value = str(value)  # float32 0.1 is "0.1", as float64 0.1 is
        value = float(value)
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def _as_levels(series):
    """A categorical column as an object array of level texts, NaN if missing."""
    out = np.full(len(series), np.nan, dtype=object)
    if isinstance(series.dtype, pd.CategoricalDtype):
        texts = np.array([level_text(c) for c in series.cat.categories] + [np.nan],
                         dtype=object)
        codes = series.cat.codes.to_numpy()
        return texts[np.where(codes >= 0, codes, len(texts) - 1)]
    values = series.to_numpy(dtype=object)
    present = ~pd.isna(values)
    values = values[present]
    if pd.api.types.infer_dtype(values, skipna=False) == "string":
        out[present] = values
    else:
        out[present] = [level_text(v) for v in values]
    return out


def _as_numbers(series):
    """A numeric column (numbers, or strings that parse as numbers) as float64."""
    values = series.to_numpy(dtype=object)
    present = ~pd.isna(values)
    values = values[present]
    out = np.full(len(series), np.nan)
    if pd.api.types.infer_dtype(values, skipna=False) in (
            "floating", "integer", "mixed-integer-float", "boolean", "decimal",
            "empty"):
        out[present] = values.astype(np.float64)
    else:  # strings: float() decides (the drift check ran before)
        out[present] = [parse_number(v) for v in values]
    return out


def _is_number_level(level):
    return level in ("True", "False") or parse_number(level) is not None


def _power_of_two_below(values):
    """The largest power of two ``<= v`` per entry (1 where ``v`` is not > 0)."""
    values = np.asarray(values, dtype=np.float64)
    out = np.ones_like(values)
    ok = np.isfinite(values) & (values > 0)
    out[ok] = np.ldexp(1.0, np.frexp(values[ok])[1] - 1)
    return out


class _Prescale(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Divide each column by a power of two near its range, before scaling.

    The range is ``max - min`` of the training values (their largest
    magnitude for a constant column, or when the range overflows). Dividing
    by a power of two is exact, so ordinary columns scale exactly as
    without it, while columns of huge values (1e200) no longer overflow
    ``StandardScaler``'s squares and columns of tiny values (1e-200) no
    longer fall under scikit-learn's absolute thresholds (a "constant"
    scale, ``QuantileTransformer``'s bounds): any column is scaled as the
    same column of ordinary values would be. Non-finite results of unseen
    values at transform are left to the overflow check after scaling.
    """

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=np.float64)
        if not len(X):
            self.scale_ = np.ones(X.shape[1])
            return self
        with np.errstate(over="ignore", invalid="ignore"):
            high, low = np.nanmax(X, axis=0), np.nanmin(X, axis=0)
            spread = high - low
        size = np.maximum(np.abs(high), np.abs(low))
        use = np.isfinite(spread) & (spread > 0)
        self.scale_ = _power_of_two_below(np.where(use, spread, size))
        return self

    def transform(self, X):
        check_is_fitted(self, "scale_")
        with np.errstate(over="ignore"):
            return np.asarray(X, dtype=np.float64) / self.scale_


def _all_numeric(frame):
    """Whether every column of ``frame`` has a numeric or boolean dtype."""
    return all(pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype)
               for dtype in frame.dtypes)


def _bin_edges(values, n_bins=_N_BINS):
    """Sorted bin edges of ``values`` for piecewise-linear encoding.

    Quantiles at ``n_bins + 1`` evenly spaced levels; edges closer than a
    thousandth of the range to the previous one are dropped, so no bin is
    nearly zero wide. Always at least 2 edges (``v - 1, v + 1`` for a
    constant column).
    """
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if not len(values):
        return [-1.0, 1.0]
    q = np.quantile(values, np.linspace(0.0, 1.0, n_bins + 1))
    low, high = float(q[0]), float(q[-1])
    if not high - low > 10 * np.finfo(np.float32).eps * max(1.0, abs(low)):
        return [low - 1.0, low + 1.0]
    tol = 1e-3 * (high - low)
    edges = [low]
    for edge in q[1:-1]:
        if edge - edges[-1] > tol and high - edge > tol:
            edges.append(float(edge))
    edges.append(high)
    return edges


def _smooth_clip(X):
    """``x / sqrt(1 + (x / 3) ** 2)``: identity near 0, bounded to +-3.

    The smooth clipping of RealMLP (Holzmueller et al., NeurIPS 2024), written
    as ``3 t / hypot(1, t)`` with ``t = x / 3`` so huge values do not overflow.
    """
    t = np.asarray(X, dtype=np.float64) / _CLIP
    with np.errstate(invalid="ignore"):
        out = _CLIP * t / np.hypot(1.0, t)
    return np.where(np.isinf(t), np.sign(t) * _CLIP, out)


class _RobustScaler(RobustScaler):
    """``RobustScaler`` (median / interquartile range) whose zero-IQR columns
    are scaled by their standard deviation instead (or by 1 when constant).

    scikit-learn's scaler divides such columns by 1, which leaves a mostly
    constant column with rare large values (a sparse count) unscaled.
    """

    def fit(self, X, y=None):
        super().fit(X, y)
        X = np.asarray(X, dtype=np.float64)
        if self.with_scaling and X.shape[0]:
            low, high = np.nanpercentile(X, self.quantile_range, axis=0)
            std = np.nanstd(X, axis=0)
            tiny = 10 * np.finfo(np.float64).eps
            self.scale_ = np.where(high - low < tiny,
                                   np.where(std < tiny, 1.0, std), self.scale_)
        return self


class _CodeEncoder(TransformerMixin, BaseEstimator):
    """Integer codes of categorical columns, as floats.

    Per column, the ``max_levels`` most frequent levels seen at fit get codes
    ``1..k`` (in sorted order); code 0 is left for levels unseen at fit and for
    the rarer levels beyond ``max_levels``. Missing values must be imputed (as
    their own level) beforehand.
    """

    def __init__(self, max_levels=None):
        self.max_levels = max_levels

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=object)
        self.categories_ = []
        for j in range(X.shape[1]):
            levels, counts = np.unique(X[:, j].astype(str), return_counts=True)
            if self.max_levels is not None and len(levels) > self.max_levels:
                # most frequent first; ties by level, for determinism
                order = sorted(range(len(levels)), key=lambda i: (-counts[i], i))
                levels = np.sort(levels[order[:self.max_levels]])
            self.categories_.append(levels)
        return self

    def transform(self, X):
        check_is_fitted(self, "categories_")
        X = np.asarray(X, dtype=object)
        out = np.empty(X.shape, dtype=np.float64)
        for j, levels in enumerate(self.categories_):
            # levels outside ``levels`` index to -1, hence 0 after the +1
            out[:, j] = pd.Index(levels).get_indexer(X[:, j].astype(str)) + 1
        return out


class TabularFeaturizer(TransformerMixin, BaseEstimator):
    """Impute, encode and scale mixed tabular data into a float32 matrix.

    Numeric and boolean columns are imputed with the median (plus a
    missing-value indicator column where values were missing at fit time)
    and scaled; categorical columns (pandas ``category``, strings, object)
    are imputed with a constant and one-hot encoded, ignoring categories
    unseen at fit time.

    With ``categorical_encoding="codes"`` (for the ``embed`` network family)
    the output is laid out in three blocks::

        [n_numeric scaled numeric columns]
        [n_binary 0/1 columns: missing-value indicators of the numeric
         columns, then the one-hot columns of the categorical columns with
         at most ``max_onehot`` levels]
        [one integer code (as a float) per other categorical column]

    In the code block, 0 stands for a level unseen at fit time (or too rare,
    see ``max_categories``) and ``1..k`` for the levels seen at fit time;
    missing values are a level of their own. ``module_params_`` describes the
    layout.

    Categorical levels are compared as text, numbers by value: ``1``,
    ``1.0`` and ``np.int64(1)`` are one level ``"1"`` (:func:`level_text`),
    so int-coded categories that arrive as floats keep their levels.
    ``transform`` checks each column against its kind at fit
    (:func:`skautodl.data.validation.check_column_drift`): a numeric column
    may arrive as strings only if every value parses as a number
    (``float(s)``), and a categorical column may arrive as numbers only if it
    had number levels at fit; otherwise ``ValueError`` names the column and
    both kinds.

    Numeric columns are scaled in float64, after an exact division by a
    power of two near their range, so huge (1e200) or tiny (1e-200) columns
    scale as ordinary ones do. A scaled value that is not finite or lies
    beyond float32's range raises ``ValueError`` naming the column; finite
    scaled values are then held to +-1e4, which training rows never reach
    (it only bounds values far outside the training range at predict).

    Parameters
    ----------
    numeric_scaling : {"standard", "quantile", "robust"}, default="standard"
        ``"standard"`` centres and scales each numeric column;
        ``"quantile"`` maps it to a normal distribution through its
        quantiles, which tames skewed columns and outliers; ``"robust"``
        centres on the median, divides by the interquartile range (by the
        standard deviation where that range is zero, by 1 for constant
        columns) and then clips smoothly with ``x / sqrt(1 + (x / 3) ** 2)``,
        as in RealMLP (Holzmueller et al., NeurIPS 2024): the identity near 0,
        bounded to +-3.
    max_categories : int, default=64
        Most one-hot columns per categorical column; rarer levels share one
        "infrequent" column. In the code block, most codes per column
        including code 0: at most ``max_categories - 1`` levels (the most
        frequent) get their own code, the rarer ones share code 0.
    categorical_encoding : {"onehot", "codes"}, default="onehot"
        ``"onehot"`` one-hot encodes every categorical column; ``"codes"``
        one-hot encodes only the low-cardinality ones and gives the others an
        integer code, to be embedded by the network.
    max_onehot : int, default=4
        With ``"codes"``: categorical columns with at most this many levels
        at fit time (the missing level included) are one-hot encoded.

    Attributes
    ----------
    column_kinds_ : list of str
        ``"numeric"`` or ``"categorical"`` per column, as seen at fit.
    column_names_ : list
        The columns' names at fit (their positions for arrays), for messages.
    number_levels_ : list of bool
        Per column: categorical with at least one level that is a number (or
        ``True``/``False``) at fit, so that numbers may arrive at transform.
    numeric_columns_ : list of int
        Positions of the columns treated as numeric.
    categorical_columns_ : list of int
        Positions of the columns treated as categorical.
    column_transformer_ : sklearn.compose.ColumnTransformer
        The fitted scikit-learn transformer doing the work.
    n_features_out_ : int
        Width of the output matrix.
    module_params_ : dict
        ``{}`` with ``"onehot"``. With ``"codes"``, the layout as the
        ``embed`` family's module arguments: ``"n_numeric"`` (int),
        ``"n_binary"`` (int), ``"cardinalities"`` (list of int, ``k + 1`` per
        code column: its ``k`` levels and code 0) and ``"bins"`` (one sorted
        list of at least 2 bin edges per numeric column: deduplicated
        quantiles of its scaled training values, at most 16 bins, for
        piecewise-linear encoding).

    Examples
    --------
    >>> import pandas as pd
    >>> from skautodl.data.featurize import TabularFeaturizer
    >>> X = pd.DataFrame({"age": [30, None, 50], "city": ["a", "b", None]})
    >>> TabularFeaturizer().fit_transform(X).shape
    (3, 5)
    >>> feat = TabularFeaturizer(categorical_encoding="codes", max_onehot=2)
    >>> feat.fit_transform(X).shape
    (3, 3)
    >>> {k: v for k, v in feat.module_params_.items() if k != "bins"}
    {'n_numeric': 1, 'n_binary': 1, 'cardinalities': [4]}
    """

    def __init__(self, numeric_scaling="standard", max_categories=64,
                 categorical_encoding="onehot", max_onehot=4):
        self.numeric_scaling = numeric_scaling
        self.max_categories = max_categories
        self.categorical_encoding = categorical_encoding
        self.max_onehot = max_onehot

    def _coerce(self, frame):
        if len(self._numeric_set) == frame.shape[1] and _all_numeric(frame):
            # one float64 block at once: the column loop's overhead dominates
            # predicting a few rows
            return pd.DataFrame(frame.to_numpy(dtype="float64", na_value=np.nan),
                                index=frame.index)
        out = {}
        # items(), not iloc[:, j]: a tenth of the per-column overhead, which
        # dominates predicting a few rows
        for j, (_, s) in enumerate(frame.items()):
            if j in self._numeric_set and pd.api.types.is_numeric_dtype(s.dtype):
                out[j] = s.to_numpy(dtype="float64", na_value=np.nan)
                continue
            out[j] = (_as_numbers(s) if j in self._numeric_set
                      else _as_levels(s))
        return pd.DataFrame(out, index=frame.index)

    def _check_drift(self, frame):
        """Each column's kind against its kind at fit (the type-drift rule)."""
        kinds = getattr(self, "column_kinds_", None)
        if kinds is None:  # fitted by a version that did not record them
            return
        if all(k == "numeric" for k in kinds) and _all_numeric(frame):
            return  # numeric dtypes are numeric columns: nothing can drift
        for j, ((_, series), kind) in enumerate(zip(frame.items(), kinds,
                                                    strict=True)):
            check_column_drift(series, kind, self.column_names_[j],
                               number_levels=self.number_levels_[j])

    def _finish(self, Xt, data):
        """Check the scaled values for overflow, bound them, cast to float32.

        An overflow is an error naming the column: a scaled numeric value
        that is not finite or lies beyond float32's range. Finite values
        within it are held to +-``_BOUND`` (see its comment); no other block
        (one-hot, indicators, integer codes) is touched.
        """
        Xt = np.asarray(Xt, dtype=np.float64)
        block = self.column_transformer_.output_indices_.get("numeric")
        if block is not None and block.stop > block.start:
            scaled = Xt[:, block]
            bad = ~(np.abs(scaled) <= _FLOAT32_MAX)  # NaN and inf included
            if bad.any():
                self._overflow(scaled, bad, data)
            Xt[:, block] = np.clip(scaled, -_BOUND, _BOUND)
        if not np.isfinite(Xt).all():
            columns = np.flatnonzero(~np.isfinite(Xt).all(axis=0)).tolist()
            raise ValueError(
                "TabularFeaturizer produced non-finite features in output "
                f"columns {columns}; please report this with the input's dtypes."
            )
        return np.ascontiguousarray(Xt, dtype=np.float32)

    def _overflow(self, scaled, bad, data):
        rows, cols = np.nonzero(bad)
        k, i = int(cols[0]), int(rows[0])
        if k >= len(self.numeric_columns_):  # a missing-value indicator
            raise ValueError(
                "TabularFeaturizer produced non-finite missing-value indicators; "
                "please report this with the input's dtypes."
            )
        j = self.numeric_columns_[k]
        n_bad = int(bad[:, k].sum())
        raise ValueError(
            f"Numeric column {self.column_names_[j]!r} overflows when scaled: "
            f"the value {data[j].iloc[i]:.6g} scales to {scaled[i, k]:.6g} "
            f"({n_bad} value(s) of this column), beyond float32's range "
            f"(+-{_FLOAT32_MAX:.2g}) in which the networks compute. The column's "
            "values are far outside those seen at fit (or its spread at fit was "
            "near zero): check them for corrupt entries, or rescale the column "
            "(for example take its log) at fit and at predict alike."
        )

    def _validate_params(self):
        if self.numeric_scaling not in _SCALINGS:
            raise ValueError(
                f"numeric_scaling must be one of {_SCALINGS}; got "
                f"{self.numeric_scaling!r}."
            )
        if self.categorical_encoding not in _ENCODINGS:
            raise ValueError(
                f"categorical_encoding must be one of {_ENCODINGS}; got "
                f"{self.categorical_encoding!r}."
            )
        if (not isinstance(self.max_onehot, numbers.Integral)
                or isinstance(self.max_onehot, bool) or self.max_onehot < 0):
            raise ValueError(
                f"max_onehot must be a non-negative int; got {self.max_onehot!r}."
            )

    def _scaler_steps(self, n_samples):
        if self.numeric_scaling == "quantile":
            return [_Prescale(),
                    # a fixed random_state: above 10,000 rows the quantiles
                    # come from a subsample, which would otherwise be drawn
                    # from numpy's global generator (not reproducible)
                    QuantileTransformer(output_distribution="normal",
                                        n_quantiles=max(2, min(1000, n_samples)),
                                        random_state=0)]
        if self.numeric_scaling == "robust":
            return [_Prescale(), _RobustScaler(quantile_range=(25.0, 75.0)),
                    FunctionTransformer(_smooth_clip, feature_names_out="one-to-one")]
        return [_Prescale(), StandardScaler()]

    def _one_hot(self, columns, name="categorical"):
        return (
            name,
            make_pipeline(
                SimpleImputer(strategy="constant", fill_value=_MISSING,
                              keep_empty_features=True),
                OneHotEncoder(handle_unknown="ignore", sparse_output=False,
                              max_categories=self.max_categories,
                              dtype=np.float32),
            ),
            columns,
        )

    def _coded_transformers(self, data):
        """The numeric, binary and code blocks of ``"codes"``, in that order."""
        numeric, transformers = self.numeric_columns_, []
        if numeric:
            transformers.append((
                "numeric",
                make_pipeline(SimpleImputer(strategy="median",
                                            keep_empty_features=True),
                              *self._scaler_steps(len(data))),
                numeric,
            ))
        missing = [j for j in numeric if data[j].isna().any()]
        if missing:
            transformers.append((
                "indicators",
                MissingIndicator(features="all", error_on_new=False),
                missing,
            ))
        n_levels = {j: data[j].nunique(dropna=False)
                    for j in self.categorical_columns_}
        onehot = [j for j, n in n_levels.items() if n <= self.max_onehot]
        coded = [j for j, n in n_levels.items() if n > self.max_onehot]
        if onehot:
            transformers.append(self._one_hot(onehot, "onehot"))
        if coded:
            max_levels = (None if self.max_categories is None
                          else max(1, int(self.max_categories) - 1))
            transformers.append((
                "codes",
                make_pipeline(SimpleImputer(strategy="constant", fill_value=_MISSING,
                                            keep_empty_features=True),
                              _CodeEncoder(max_levels=max_levels)),
                coded,
            ))
        return transformers

    def _layout(self, Xt):
        """``module_params_`` of ``"codes"``, read off the training matrix."""
        n_numeric = len(self.numeric_columns_)
        if "codes" in self.column_transformer_.named_transformers_:
            encoder = self.column_transformer_.named_transformers_["codes"][-1]
            cardinalities = [len(levels) + 1 for levels in encoder.categories_]
        else:
            cardinalities = []
        # bins on the values transform returns (Xt is _finish's output)
        scaled = np.asarray(Xt[:, :n_numeric], dtype=np.float64)
        return {
            "n_numeric": n_numeric,
            "n_binary": self.n_features_out_ - n_numeric - len(cardinalities),
            "cardinalities": cardinalities,
            "bins": [_bin_edges(scaled[:, j]) for j in range(n_numeric)],
        }

    def fit(self, X, y=None):
        """Learn column kinds, imputation values, encodings and scalings.

        Parameters
        ----------
        X : array-like or pandas.DataFrame of shape (n_samples, n_features)
            The training rows: a DataFrame, or an array (its columns
            by position).
        y : None
            Ignored.

        Returns
        -------
        TabularFeaturizer
            The fitted featurizer itself.

        Raises
        ------
        ValueError
            For an invalid parameter, or scaled values beyond float32's
            range.
        TypeError
            For a column of unsupported values.
        """
        self._validate_params()
        frame = _to_frame(X)
        kinds = [column_kind(frame.iloc[:, j]) for j in range(frame.shape[1])]
        self.column_kinds_ = kinds
        self.column_names_ = (list(X.columns) if isinstance(X, pd.DataFrame)
                              else list(range(frame.shape[1])))
        self.numeric_columns_ = [j for j, k in enumerate(kinds) if k == "numeric"]
        self.categorical_columns_ = [
            j for j, k in enumerate(kinds) if k == "categorical"
        ]
        self._numeric_set = set(self.numeric_columns_)
        data = self._coerce(frame)
        self.number_levels_ = [
            kind == "categorical"
            and any(_is_number_level(level) for level in pd.unique(data[j].dropna()))
            for j, kind in enumerate(kinds)
        ]
        if self.categorical_encoding == "codes":
            transformers = self._coded_transformers(data)
        else:
            transformers = []
            if self.numeric_columns_:
                transformers.append((
                    "numeric",
                    make_pipeline(
                        SimpleImputer(strategy="median", add_indicator=True,
                                      keep_empty_features=True),
                        *self._scaler_steps(frame.shape[0]),
                    ),
                    self.numeric_columns_,
                ))
            if self.categorical_columns_:
                transformers.append(self._one_hot(self.categorical_columns_))
        self.column_transformer_ = ColumnTransformer(
            transformers, remainder="drop", sparse_threshold=0.0
        )
        with _here(), np.errstate(over="ignore", invalid="ignore"):
            Xt = self.column_transformer_.fit_transform(data)
        Xt = self._finish(Xt, data)
        self.n_features_out_ = Xt.shape[1]
        self.n_features_in_ = frame.shape[1]
        self.module_params_ = (self._layout(Xt)
                               if self.categorical_encoding == "codes" else {})
        return self

    def transform(self, X):
        """Return the features as a C-contiguous float32 array.

        Parameters
        ----------
        X : array-like or pandas.DataFrame of shape (n_samples, n_features)
            Rows with the columns seen at fit.

        Returns
        -------
        ndarray of shape (n_samples, n_features_out)
            The features, float32 (``n_features_out_`` columns).

        Raises
        ------
        ValueError
            For a different number of columns, a column whose kind changed
            in a way the drift rule refuses, or scaled values beyond
            float32's range.
        """
        check_is_fitted(self, "column_transformer_")
        frame = _to_frame(X)
        if frame.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {frame.shape[1]} features, but TabularFeaturizer is "
                f"expecting {self.n_features_in_} features as input."
            )
        self._check_drift(frame)
        data = self._coerce(frame)
        # scaled in float64; overflows are caught by _finish, not hidden
        with _here(), np.errstate(over="ignore", invalid="ignore"):
            Xt = self.column_transformer_.transform(data)
        return self._finish(Xt, data)

    def fit_transform(self, X, y=None):
        """Fit on ``X``, then transform it.

        Parameters
        ----------
        X : array-like or pandas.DataFrame of shape (n_samples, n_features)
            The training rows.
        y : None
            Ignored.

        Returns
        -------
        ndarray of shape (n_samples, n_features_out)
            The features, float32 (``n_features_out_`` columns).
        """
        return self.fit(X, y).transform(X)

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_numeric_set", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if "numeric_columns_" in state:
            self._numeric_set = set(state["numeric_columns_"])


class ImageFeaturizer(TransformerMixin, BaseEstimator):
    """Per-channel standardization of images, output as flat float32 rows.

    The mean and standard deviation of each channel are computed on the
    data ``fit`` sees (the training split), then applied everywhere.

    Parameters
    ----------
    image_shape : tuple of int
        ``(C, H, W)``; inputs may be ``(n, C, H, W)``, ``(n, H, W)`` (one
        channel) or flat rows of ``C*H*W`` values.

    Attributes
    ----------
    mean_, scale_ : ndarray of shape (C,)
        Per-channel statistics.
    n_features_out_ : int
        ``C * H * W``.

    Examples
    --------
    >>> import numpy as np
    >>> from skautodl.data.featurize import ImageFeaturizer
    >>> X = np.arange(2 * 3 * 4 * 4, dtype=np.uint8).reshape(2, 3, 4, 4)
    >>> Xt = ImageFeaturizer((3, 4, 4)).fit_transform(X)
    >>> Xt.shape, Xt.dtype
    ((2, 48), dtype('float32'))
    """

    def __init__(self, image_shape):
        self.image_shape = image_shape

    def _as_images(self, X):
        shape = tuple(self.image_shape)
        X = np.asarray(X, dtype=np.float32)
        try:
            return X.reshape(X.shape[0], *shape)
        except ValueError:
            raise ValueError(
                f"X of shape {X.shape} does not hold images of shape {shape}."
            ) from None

    def fit(self, X, y=None):
        """Learn each channel's mean and standard deviation.

        Parameters
        ----------
        X : array-like
            Images ``(n, C, H, W)``, ``(n, H, W)`` or flat rows.
        y : None
            Ignored.

        Returns
        -------
        ImageFeaturizer
            The fitted featurizer itself.

        Raises
        ------
        ValueError
            If ``X`` does not hold images of ``image_shape``.
        """
        images = self._as_images(X)
        self.mean_ = images.mean(axis=(0, 2, 3)).astype(np.float32)
        std = images.std(axis=(0, 2, 3)).astype(np.float32)
        self.scale_ = np.where(std > 1e-8, std, 1.0).astype(np.float32)
        self.n_features_out_ = int(np.prod(self.image_shape))
        return self

    def transform(self, X):
        """Standardize images and flatten them to C-contiguous float32 rows.

        Parameters
        ----------
        X : array-like
            Images ``(n, C, H, W)``, ``(n, H, W)`` or flat rows.

        Returns
        -------
        ndarray of shape (n_samples, C * H * W)
            The standardized images, float32.

        Raises
        ------
        ValueError
            If ``X`` does not hold images of ``image_shape``.
        """
        check_is_fitted(self, "mean_")
        images = self._as_images(X)
        out = (images - self.mean_[None, :, None, None]) / self.scale_[
            None, :, None, None]
        return np.ascontiguousarray(out.reshape(len(out), -1), dtype=np.float32)


def make_featurizer(task, key=()):
    """Build the unfitted featurizer for ``task``: images or tabular data.

    Parameters
    ----------
    task : skautodl.data.validation.TaskInfo
        The task: its input kind and image shape.
    key : tuple of (name, value) pairs, default=()
        ``TabularFeaturizer`` parameters (a featurization key, as made by
        :func:`skautodl.training.trial.feature_key`); ignored for images.

    Returns
    -------
    TabularFeaturizer or ImageFeaturizer
        The featurizer, unfitted.
    """
    if task.input_kind == "image":
        return ImageFeaturizer(task.image_shape)
    return TabularFeaturizer(**dict(key))


@dataclass
class SplitData:
    """The cached, featurized tensors of one train/validation split.

    Computed once per split by :func:`prepare_splits` and shared by every
    trial, so no trial repeats the preprocessing.

    Parameters
    ----------
    featurizer : TabularFeaturizer or ImageFeaturizer
        Fitted on the split's training rows.
    X_train : ndarray
        The featurized training rows, float32.
    y_train : ndarray
        Their targets, as the networks consume them.
    X_valid : ndarray
        The featurized validation rows, float32.
    y_valid : ndarray
        Their targets as the scorer sees them (the user's labels).
    y_valid_fit : ndarray, default=None
        Their targets as the networks consume them (for the validation
        loss).
    train_index : ndarray, default=None
        The split's training rows in the data.
    valid_index : ndarray, default=None
        Its validation rows.
    """

    featurizer: TabularFeaturizer
    X_train: np.ndarray
    y_train: np.ndarray
    X_valid: np.ndarray
    y_valid: np.ndarray
    y_valid_fit: np.ndarray = field(repr=False, default=None)
    train_index: np.ndarray = field(repr=False, default=None)
    valid_index: np.ndarray = field(repr=False, default=None)

    @property
    def module_params(self):
        """Module arguments the fitted featurizer describes (column layout)."""
        return dict(getattr(self.featurizer, "module_params_", None) or {})


def _take(X, idx):
    if isinstance(X, pd.DataFrame):
        return X.iloc[idx]
    return X[idx]


#: rows a fitted featurizer transforms at a time when a split is cached
TRANSFORM_CHUNK_ROWS = 65536


#: training rows above which a featurizer's statistics come from a sample
FIT_SAMPLE_ROWS = 100_000


def fit_rows(rows, limit=None, seed=0):
    """Choose the rows a featurizer is fitted on: all of ``rows``, or a sample.

    Fitting a featurizer keeps several float64 copies of what it is fitted
    on (the imputed, pre-scaled and scaled columns): on 320,000 rows of 30
    columns that added 400-500 MB at the peak of every featurization. Above
    :data:`FIT_SAMPLE_ROWS` rows the medians, scales, quantiles and category
    levels are estimated on a uniform sample of that many rows (seeded, in
    their original order), which bounds the peak; the transform still covers
    every row. A category level rarer than about one in ``limit`` rows may
    then be missing from the sample and is encoded as an unknown level.

    Parameters
    ----------
    rows : array-like of int
        The training rows.
    limit : int or None, default=None
        The most rows; None: :data:`FIT_SAMPLE_ROWS`.
    seed : int, default=0
        Seeds the sample.

    Returns
    -------
    ndarray of int
        ``rows``, or a sorted uniform sample of ``limit`` of them.
    """
    rows = np.asarray(rows)
    limit = int(FIT_SAMPLE_ROWS if limit is None else limit)
    if len(rows) <= limit:
        return rows
    pick = np.random.default_rng(seed).choice(len(rows), size=limit, replace=False)
    return rows[np.sort(pick)]


def fit_featurizer(featurizer, X, rows=None):
    """Fit ``featurizer`` on ``rows`` of ``X``, sampled as :func:`fit_rows` says.

    Parameters
    ----------
    featurizer : TabularFeaturizer or ImageFeaturizer
        The unfitted featurizer.
    X : array-like or pandas.DataFrame
        The validated data.
    rows : array-like of int or None, default=None
        The rows to fit on; None: all of them.

    Returns
    -------
    TabularFeaturizer or ImageFeaturizer
        ``featurizer``, fitted.
    """
    rows = np.arange(len(X)) if rows is None else rows
    sample = fit_rows(rows)
    return featurizer.fit(X if len(sample) == len(X) else _take(X, sample))


def transform_rows(featurizer, X, rows, chunk=None):
    """Transform the rows ``rows`` of ``X``, a slice at a time.

    The featurizers scale in float64 and keep a few intermediate copies: on
    the 320,000 training rows of a 400,000 x 30 table, transforming all at
    once added about 450 MB at its peak. A slice of
    :data:`TRANSFORM_CHUNK_ROWS` rows at a time bounds that by the slice;
    the float32 output is filled in place. Every step is row-wise, so the
    result is the same as in one call.

    Parameters
    ----------
    featurizer : TabularFeaturizer or ImageFeaturizer
        A fitted featurizer.
    X : array-like or pandas.DataFrame
        The validated data.
    rows : array-like of int
        The rows to transform.
    chunk : int or None, default=None
        Rows per slice; None: :data:`TRANSFORM_CHUNK_ROWS`.

    Returns
    -------
    ndarray
        ``featurizer.transform`` of those rows.
    """
    chunk = int(chunk or TRANSFORM_CHUNK_ROWS)
    rows = np.asarray(rows)
    if len(rows) <= chunk:
        return featurizer.transform(_take(X, rows))
    out = None
    for start in range(0, len(rows), chunk):
        part = featurizer.transform(_take(X, rows[start:start + chunk]))
        if out is None:
            out = np.empty((len(rows), *part.shape[1:]), dtype=part.dtype)
        out[start:start + len(part)] = part
    return out


def _plain_numeric(featurizer):
    """A fitted :class:`TabularFeaturizer` whose output is its scaled numeric
    columns alone: no categorical column and no missing-value indicator, so
    its categorical encoding changes nothing."""
    return (isinstance(featurizer, TabularFeaturizer)
            and not featurizer.categorical_columns_
            and featurizer.n_features_out_ == len(featurizer.numeric_columns_))


def prepare_splits(X, y_fit, y_score, splits, *, numeric_scaling="standard",
                   featurizer=None):
    """Fit one featurizer per split and cache float32 train/valid matrices.

    Parameters
    ----------
    X : DataFrame or ndarray
        Validated input.
    y_fit : ndarray
        Targets as the networks consume them (class indices or floats).
    y_score : ndarray
        Targets as the scorer sees them (the user's labels).
    splits : list of (ndarray, ndarray)
        ``(train_index, valid_index)`` per split.
    numeric_scaling : {"standard", "quantile", "robust"}, default="standard"
        Scaling of the default :class:`TabularFeaturizer`.
    featurizer : estimator, optional
        Unfitted featurizer cloned for every split (for example an
        :class:`ImageFeaturizer`); default a :class:`TabularFeaturizer`.

    Returns
    -------
    list of SplitData
        ``y_train`` and ``y_valid_fit`` hold ``y_fit`` rows (what the loss
        sees) and ``y_valid`` holds ``y_score`` rows: networks train on class
        indices and are scored on the user's labels.
    """
    out = []
    for train_idx, valid_idx in splits:
        feat = (TabularFeaturizer(numeric_scaling=numeric_scaling)
                if featurizer is None else clone(featurizer))
        fit_featurizer(feat, X, train_idx)
        X_train = transform_rows(feat, X, train_idx)
        X_valid = transform_rows(feat, X, valid_idx)
        out.append(SplitData(
            featurizer=feat,
            X_train=X_train,
            y_train=y_fit[train_idx],
            X_valid=X_valid,
            y_valid=y_score[valid_idx],
            y_valid_fit=y_fit[valid_idx],
            train_index=train_idx,
            valid_index=valid_idx,
        ))
    return out


class FeatureStore:
    """A search's featurized splits, one set per featurization, built on first use.

    Trials of configs that ask for the same featurization (the numeric
    scaling and categorical encoding a config implies, see
    :func:`make_featurizer`) share one set of cached float32 splits. A set is
    built the first time a trial needs it, so a space with several scalings
    spends no time (or budget) on those no trial uses.

    Parameters
    ----------
    X : pandas.DataFrame or ndarray
        Validated input.
    y_fit : ndarray
        Targets as the networks consume them.
    y_score : ndarray
        Targets as the scorer sees them.
    splits : list of (ndarray, ndarray)
        ``(train_index, valid_index)`` per split.
    task : skautodl.data.validation.TaskInfo
        The task (which featurizer, see :func:`make_featurizer`).

    Attributes
    ----------
    build_seconds : dict
        ``{key: seconds}`` spent building each featurization.
    """

    def __init__(self, X, y_fit, y_score, splits, task):
        self.X = X
        self.y_fit = y_fit
        self.y_score = y_score
        self.splits = splits
        self.task = task
        self.build_seconds = {}
        self._sets = {}

    def __contains__(self, key):
        return key in self._sets

    def keys(self):
        """List the keys of the featurizations built so far, in build order.

        Returns
        -------
        list of tuple
            The keys.
        """
        return list(self._sets)

    def get(self, key):
        """Return the featurized splits for ``key``, built now if not yet.

        Parameters
        ----------
        key : tuple
            A featurization key (:func:`skautodl.training.trial.feature_key`).

        Returns
        -------
        list of SplitData
            One per split.
        """
        if key not in self._sets:
            t0 = time.perf_counter()
            self._sets[key] = self._twin_of(key) or prepare_splits(
                self.X, self.y_fit, self.y_score, self.splits,
                featurizer=make_featurizer(self.task, key))
            release_free_memory()  # the transform's float64 temporaries
            self.build_seconds[key] = time.perf_counter() - t0
        return self._sets[key]

    def shares_arrays(self, key, other):
        """Tell whether two featurizations hold the same arrays.

        Parameters
        ----------
        key, other : tuple
            Keys of featurizations already built.

        Returns
        -------
        bool
            True when every split of ``key`` shares its ``X_train`` with
            ``other``'s.
        """
        return all(a.X_train is b.X_train for a, b in
                   zip(self._sets[key], self._sets[other], strict=True))

    def _twin_of(self, key):
        """The splits of ``key`` as views of an equal featurization, or None.

        The categorical encodings (one-hot, or the ``embed`` family's codes)
        differ only on categorical columns and missing-value indicators. On
        a table without either (every column numeric, nothing missing) both
        give the same matrix, which is then stored once: the new key gets
        its own fitted featurizer (its ``module_params_`` describe the
        layout) over the arrays already built.
        """
        if self.task.input_kind == "image":
            return None
        settings = dict(key)
        for other, sets in self._sets.items():
            same = {**dict(other), "categorical_encoding":
                    settings.get("categorical_encoding")}
            if same != settings:
                continue
            out = []
            for split in sets:
                feat = fit_featurizer(make_featurizer(self.task, key), self.X,
                                      split.train_index)
                if not (_plain_numeric(feat) and _plain_numeric(split.featurizer)):
                    return None
                out.append(replace(split, featurizer=feat))
            return out
        return None

    @property
    def n_train(self):
        """Training rows of the first split (the cost unit of a trial)."""
        return len(self.splits[0][0])
