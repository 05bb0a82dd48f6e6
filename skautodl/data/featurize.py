"""The featurizer: raw tabular input -> float32 matrix for the networks.

Built from scikit-learn parts (``ColumnTransformer``, ``SimpleImputer`` with
missing-value indicators, ``OneHotEncoder``, ``StandardScaler`` or
``QuantileTransformer``) so that it pickles, clones and nests like any other
transformer. It is fitted once per split and its output is cached by
:func:`prepare_splits`, so every trial reuses the same tensors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, QuantileTransformer, StandardScaler
from sklearn.utils.validation import check_is_fitted

_MISSING = "__missing__"
_SCALINGS = ("standard", "quantile")


def _column_kind(series: pd.Series) -> str:
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if pd.api.types.is_bool_dtype(dtype):
        return "numeric"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    if pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype):
        values = series.dropna()
        if len(values) and all(
            isinstance(v, int | float | bool | np.number | np.bool_) for v in values
        ):
            return "numeric"
        return "categorical"
    raise TypeError(f"Column {series.name!r} has unsupported dtype {dtype}.")


def _to_frame(X) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        # positional integer column labels keep ColumnTransformer selection
        # independent of the user's column names
        return X.set_axis(range(X.shape[1]), axis=1)
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"Expected a 2-D array, got shape {X.shape}.")
    return pd.DataFrame(X)


class TabularFeaturizer(TransformerMixin, BaseEstimator):
    """Impute, encode and scale mixed tabular data into a float32 matrix.

    Numeric and boolean columns are imputed with the median (plus a
    missing-value indicator column where values were missing at fit time)
    and scaled; categorical columns (pandas ``category``, strings, object)
    are imputed with a constant and one-hot encoded, ignoring categories
    unseen at fit time.

    Parameters
    ----------
    numeric_scaling : {"standard", "quantile"}, default="standard"
        ``"standard"`` centres and scales each numeric column;
        ``"quantile"`` maps it to a normal distribution through its
        quantiles, which tames skewed columns and outliers.
    max_categories : int, default=64
        Most one-hot columns per categorical column; rarer levels share one
        "infrequent" column.

    Attributes
    ----------
    numeric_columns_ : list of int
        Positions of the columns treated as numeric.
    categorical_columns_ : list of int
        Positions of the columns treated as categorical.
    column_transformer_ : sklearn.compose.ColumnTransformer
        The fitted scikit-learn transformer doing the work.
    n_features_out_ : int
        Width of the output matrix.

    Examples
    --------
    >>> import pandas as pd
    >>> from skautodl.data.featurize import TabularFeaturizer
    >>> X = pd.DataFrame({"age": [30, None, 50], "city": ["a", "b", None]})
    >>> TabularFeaturizer().fit_transform(X).shape
    (3, 5)
    """

    def __init__(self, numeric_scaling="standard", max_categories=64):
        self.numeric_scaling = numeric_scaling
        self.max_categories = max_categories

    def _coerce(self, frame):
        out = {}
        for j in range(frame.shape[1]):
            s = frame.iloc[:, j]
            if j in self._numeric_set:
                if pd.api.types.is_numeric_dtype(s.dtype):
                    out[j] = s.to_numpy(dtype="float64", na_value=np.nan)
                else:
                    out[j] = pd.to_numeric(
                        s.astype(object).where(s.notna(), np.nan), errors="coerce"
                    ).to_numpy(dtype="float64", na_value=np.nan)
            else:
                values = s.astype(object)
                out[j] = values.where(values.isna(), values.astype(str)).where(
                    values.notna(), np.nan
                ).astype(object)
        return pd.DataFrame(out, index=frame.index)

    def fit(self, X, y=None):
        """Learn column kinds, imputation values, encodings and scalings."""
        if self.numeric_scaling not in _SCALINGS:
            raise ValueError(
                f"numeric_scaling must be one of {_SCALINGS}; got "
                f"{self.numeric_scaling!r}."
            )
        frame = _to_frame(X)
        kinds = [_column_kind(frame.iloc[:, j]) for j in range(frame.shape[1])]
        self.numeric_columns_ = [j for j, k in enumerate(kinds) if k == "numeric"]
        self.categorical_columns_ = [
            j for j, k in enumerate(kinds) if k == "categorical"
        ]
        self._numeric_set = set(self.numeric_columns_)
        n = frame.shape[0]
        if self.numeric_scaling == "quantile":
            scaler = QuantileTransformer(
                output_distribution="normal", n_quantiles=max(2, min(1000, n))
            )
        else:
            scaler = StandardScaler()
        transformers = []
        if self.numeric_columns_:
            transformers.append((
                "numeric",
                make_pipeline(
                    SimpleImputer(strategy="median", add_indicator=True,
                                  keep_empty_features=True),
                    scaler,
                ),
                self.numeric_columns_,
            ))
        if self.categorical_columns_:
            transformers.append((
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value=_MISSING,
                                  keep_empty_features=True),
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False,
                                  max_categories=self.max_categories,
                                  dtype=np.float32),
                ),
                self.categorical_columns_,
            ))
        self.column_transformer_ = ColumnTransformer(
            transformers, remainder="drop", sparse_threshold=0.0
        )
        Xt = self.column_transformer_.fit_transform(self._coerce(frame))
        self.n_features_out_ = Xt.shape[1]
        self.n_features_in_ = frame.shape[1]
        return self

    def transform(self, X):
        """Return the features as a C-contiguous float32 array."""
        check_is_fitted(self, "column_transformer_")
        frame = _to_frame(X)
        if frame.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {frame.shape[1]} features, but TabularFeaturizer is "
                f"expecting {self.n_features_in_} features as input."
            )
        Xt = self.column_transformer_.transform(self._coerce(frame))
        # scalers can produce +-inf on extreme unseen values: clip to a range
        # the networks tolerate instead of letting NaN/inf reach the loss
        # (before the float32 cast, which would overflow on them)
        Xt = np.clip(np.asarray(Xt, dtype=np.float64), -1e4, 1e4)
        Xt = np.ascontiguousarray(Xt, dtype=np.float32)
        np.nan_to_num(Xt, copy=False)
        return Xt

    def fit_transform(self, X, y=None):
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
        """Learn each channel's mean and standard deviation."""
        images = self._as_images(X)
        self.mean_ = images.mean(axis=(0, 2, 3)).astype(np.float32)
        std = images.std(axis=(0, 2, 3)).astype(np.float32)
        self.scale_ = np.where(std > 1e-8, std, 1.0).astype(np.float32)
        self.n_features_out_ = int(np.prod(self.image_shape))
        return self

    def transform(self, X):
        """Standardized images, flattened to C-contiguous float32 rows."""
        check_is_fitted(self, "mean_")
        images = self._as_images(X)
        out = (images - self.mean_[None, :, None, None]) / self.scale_[
            None, :, None, None]
        return np.ascontiguousarray(out.reshape(len(out), -1), dtype=np.float32)


def make_featurizer(task):
    """The featurizer for ``task``: images or tabular data."""
    if task.input_kind == "image":
        return ImageFeaturizer(task.image_shape)
    return TabularFeaturizer()


@dataclass
class SplitData:
    """The cached, featurized tensors of one train/validation split.

    Computed once per split by :func:`prepare_splits` and shared by every
    trial, so no trial repeats the preprocessing.
    """

    featurizer: TabularFeaturizer
    X_train: np.ndarray
    y_train: np.ndarray
    X_valid: np.ndarray
    y_valid: np.ndarray
    y_valid_fit: np.ndarray = field(repr=False, default=None)
    train_index: np.ndarray = field(repr=False, default=None)
    valid_index: np.ndarray = field(repr=False, default=None)


def _take(X, idx):
    if isinstance(X, pd.DataFrame):
        return X.iloc[idx]
    return X[idx]


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
    splits : list of (train_index, valid_index)
    numeric_scaling : {"standard", "quantile"}
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
        X_train = feat.fit_transform(_take(X, train_idx))
        X_valid = feat.transform(_take(X, valid_idx))
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
