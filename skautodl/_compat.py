"""Version shims for scikit-learn, torch and scikit-optimize, all in one place."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import GradientBoostingRegressor
from skopt.learning import GradientBoostingQuantileRegressor


def to_python(value):
    """Turn numpy scalars (as skopt returns them) into plain Python values.

    Trial configs travel into ``cv_results_``, checkpoints and ``set_params``,
    so they must hold plain ``int`` / ``float`` / ``str`` values.
    """
    if isinstance(value, np.generic):
        return value.item()
    return value


class _GBRTSurrogate(GradientBoostingQuantileRegressor):
    """skopt's GBRT surrogate, tagged as a regressor, without ``np.in1d``."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = "regressor"
        return tags

    def predict(self, X, return_std=False, return_quantiles=False):
        # skopt 0.10.2 calls np.in1d here, which numpy 2.4 removed
        if not return_std or return_quantiles:
            return super().predict(X, return_std=False,
                                   return_quantiles=return_quantiles)
        if not {0.16, 0.5, 0.84} <= set(self.quantiles):
            raise ValueError(
                "return_std works only if the quantiles during instantiation "
                "include 0.16, 0.5 and 0.84"
            )
        low, mean, high = (self.regressors_[self.quantiles.index(q)].predict(X)
                           for q in (0.16, 0.5, 0.84))
        return mean, (high - low) / 2.0


def skopt_surrogate(surrogate, random_state=None):
    """A ``base_estimator`` for ``skopt.Optimizer`` that works with our sklearn.

    skopt 0.10.2 declares its GBRT surrogate as
    ``GradientBoostingQuantileRegressor(BaseEstimator, RegressorMixin)``;
    with scikit-learn >= 1.6 that base order hides the regressor tag, and
    ``skopt.Optimizer(base_estimator="GBRT")`` raises "... has to be a
    regressor". Other names pass through unchanged.
    """
    if surrogate != "GBRT":
        return surrogate
    return _GBRTSurrogate(
        base_estimator=GradientBoostingRegressor(n_estimators=30, loss="quantile"),
        random_state=random_state,
    )


# scikit-learn's declarative parameter validation is private API
# (sklearn.utils._param_validation, unchanged from 1.2 to 1.9); the
# estimators reach it only through these names
from sklearn.utils._param_validation import (  # noqa: E402
    HasMethods,
    Interval,
    InvalidParameterError,
    StrOptions,
    validate_parameter_constraints,
)

__all__ = [
    "HasMethods",
    "Interval",
    "InvalidParameterError",
    "StrOptions",
    "skopt_surrogate",
    "to_python",
    "validate_parameter_constraints",
]
