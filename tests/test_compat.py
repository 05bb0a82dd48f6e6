"""Tests of skautodl/_compat.py: the version shims for numpy, scikit-learn and
scikit-optimize."""

from numbers import Integral, Real

import numpy as np
import pytest
from sklearn.base import clone, is_regressor
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.utils import get_tags
from skopt import Optimizer
from skopt.space import Categorical, Integer
from skopt.space import Real as RealDim

from skautodl import _compat
from skautodl._compat import (
    HasMethods,
    Interval,
    InvalidParameterError,
    StrOptions,
    skopt_surrogate,
    to_python,
    validate_parameter_constraints,
)


# --------------------------------------------------------------------- to_python
@pytest.mark.parametrize("value, expected, kind", [
    (np.int64(3), 3, int),
    (np.int32(-2), -2, int),
    (np.uint8(7), 7, int),
    (np.float64(0.25), 0.25, float),
    (np.float32(0.5), 0.5, float),
    (np.bool_(True), True, bool),
    (np.str_("relu"), "relu", str),
])
def test_to_python_turns_numpy_scalars_into_python_values(value, expected, kind):
    out = to_python(value)
    assert type(out) is kind
    assert out == expected


@pytest.mark.parametrize("value", [3, 0.25, True, "relu", None, (1, 2),
                                   [np.int64(1)], {"a": np.float64(1.0)},
                                   np.array([1, 2]), np.array(5)])
def test_to_python_leaves_other_values_alone(value):
    assert to_python(value) is value


def test_to_python_values_survive_json():
    import json

    config = {"n": to_python(np.int64(3)), "lr": to_python(np.float64(1e-3)),
              "act": to_python(np.str_("gelu")), "bn": to_python(np.bool_(False))}
    assert json.loads(json.dumps(config)) == {"n": 3, "lr": 1e-3, "act": "gelu",
                                              "bn": False}


# --------------------------------------------------------------- skopt_surrogate
@pytest.mark.parametrize("name", ["GP", "RF", "ET", "DUMMY", "gbrt"])
def test_other_surrogate_names_pass_through(name):
    assert skopt_surrogate(name) is name
    assert skopt_surrogate(name, random_state=3) is name


def test_surrogate_estimators_pass_through():
    est = GradientBoostingRegressor()
    assert skopt_surrogate(est) is est


def test_gbrt_surrogate_is_tagged_as_a_regressor():
    est = skopt_surrogate("GBRT", random_state=0)
    assert is_regressor(est)
    assert get_tags(est).estimator_type == "regressor"
    assert est.random_state == 0
    assert isinstance(est.base_estimator, GradientBoostingRegressor)
    assert est.base_estimator.loss == "quantile"
    assert list(est.quantiles) == [0.16, 0.5, 0.84]
    # skopt.Optimizer clones its base estimator: the tag must survive that
    copy = clone(est)
    assert type(copy) is type(est) and is_regressor(copy)


def _toy_fit(est, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.rand(40, 2)
    y = (X[:, 0] - 0.3) ** 2 + 0.1 * X[:, 1] + 0.01 * rng.randn(40)
    return est.fit(X, y), X


def test_gbrt_predict_with_std_uses_the_quantile_regressors():
    est, X = _toy_fit(skopt_surrogate("GBRT", random_state=0))
    mean, std = est.predict(X[:5], return_std=True)
    low, mid, high = (r.predict(X[:5]) for r in est.regressors_)
    np.testing.assert_array_equal(mean, mid)
    np.testing.assert_allclose(std, (high - low) / 2.0)
    np.testing.assert_array_equal(est.predict(X[:5]), mean)
    quantiles = est.predict(X[:5], return_quantiles=True)
    assert quantiles.shape == (5, 3)
    np.testing.assert_array_equal(quantiles[:, 1], mean)


def test_gbrt_std_needs_the_std_quantiles():
    est = skopt_surrogate("GBRT", random_state=0)
    est.set_params(quantiles=[0.1, 0.5, 0.9])
    est, X = _toy_fit(est)
    assert est.predict(X[:3]).shape == (3,)  # the median still works
    with pytest.raises(ValueError, match="include 0.16, 0.5 and 0.84"):
        est.predict(X[:3], return_std=True)


def test_gbrt_is_reproducible_with_a_seed():
    a, X = _toy_fit(skopt_surrogate("GBRT", random_state=4))
    b, _ = _toy_fit(skopt_surrogate("GBRT", random_state=4))
    for left, right in zip(a.predict(X, return_std=True),
                           b.predict(X, return_std=True), strict=True):
        np.testing.assert_array_equal(left, right)


def test_gbrt_surrogate_drives_a_skopt_optimizer(monkeypatch):
    std_calls = []
    predict = _compat._GBRTSurrogate.predict

    def spy(self, X, return_std=False, return_quantiles=False):
        if return_std:
            std_calls.append(len(X))
        return predict(self, X, return_std=return_std,
                       return_quantiles=return_quantiles)

    monkeypatch.setattr(_compat._GBRTSurrogate, "predict", spy)
    dims = [RealDim(1e-4, 1e-1, prior="log-uniform"), Integer(1, 4),
            Categorical(["relu", "gelu"])]
    opt = Optimizer(dims, base_estimator=skopt_surrogate("GBRT", random_state=0),
                    n_initial_points=3, acq_optimizer="sampling",
                    acq_optimizer_kwargs={"n_points": 50}, random_state=0)
    for _ in range(6):
        x = opt.ask()
        assert x in opt.space
        opt.tell(x, float(np.log10(x[0]) ** 2 + x[1] + (x[2] == "gelu")))
    assert len(opt.Xi) == 6
    assert len(opt.models) == 4  # refitted after each of the last 4 tells
    assert all(isinstance(m, _compat._GBRTSurrogate) for m in opt.models)
    assert std_calls, "the acquisition never asked for a standard deviation"
    mean, std = opt.models[-1].predict(opt.space.transform(opt.Xi),
                                       return_std=True)
    assert mean.shape == std.shape == (6,)
    assert np.all(np.isfinite(mean)) and np.all(np.isfinite(std))


# ------------------------------------------------------------ parameter checks
CONSTRAINTS = {
    "n_trials": [Interval(Integral, 1, None, closed="left"), None],
    "fraction": [Interval(Real, 0, 1, closed="neither")],
    "search": [StrOptions({"random", "bayes"})],
    "scorer": [HasMethods(["fit", "predict"]), None],
}
VALID = {"n_trials": 5, "fraction": 0.2, "search": "bayes", "scorer": None}


def test_valid_parameters_pass():
    validate_parameter_constraints(CONSTRAINTS, VALID, caller_name="Thing")
    validate_parameter_constraints(
        CONSTRAINTS, {**VALID, "n_trials": None,
                      "scorer": GradientBoostingRegressor()},
        caller_name="Thing")


@pytest.mark.parametrize("name, value", [
    ("n_trials", 0),
    ("n_trials", 2.5),
    ("fraction", 1.0),
    ("fraction", -0.1),
    ("search", "grid"),
    ("scorer", "accuracy"),
])
def test_invalid_parameter_names_parameter_and_caller(name, value):
    with pytest.raises(InvalidParameterError) as info:
        validate_parameter_constraints(CONSTRAINTS, {**VALID, name: value},
                                       caller_name="AutoThing")
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert f"The '{name}' parameter of AutoThing must be" in message
    assert repr(value) in message


def test_invalid_parameter_error_is_a_value_error():
    assert issubclass(InvalidParameterError, ValueError)
    with pytest.raises(ValueError, match="'search' parameter of Thing"):
        validate_parameter_constraints(CONSTRAINTS, {**VALID, "search": 3},
                                       caller_name="Thing")


def test_compat_exports():
    assert set(_compat.__all__) == {
        "HasMethods", "Interval", "InvalidParameterError", "StrOptions",
        "skopt_surrogate", "to_python", "validate_parameter_constraints"}
    for name in _compat.__all__:
        assert getattr(_compat, name) is not None
