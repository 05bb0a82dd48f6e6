"""Small, fast estimator instances and the expected failures of the common checks.

``parametrize_with_checks`` runs scikit-learn's estimator checks on these
instances (tests/test_common.py). They use a fixed ``n_trials`` and no time
budget, so every fit is deterministic on the CPU, and few epochs so the
checks stay fast on 2 cores.
"""

from __future__ import annotations

from skautodl.estimators import AutoDLClassifier, AutoDLRegressor

#: settings that keep one fit well under a second on tiny data
CHECK_PARAMS = {
    "time_budget": None,
    "n_trials": 1,
    "search": "random",
    # full-fidelity trials: one deterministic, well-trained net per fit
    "fidelity": None,
    # one holdout split: the default cv="auto" would train 5 folds per fit
    # on these tiny sets (bagging is tested in tests/test_ensemble.py)
    "cv": None,
    # one family and one scaling: each fit builds one featurization
    "families": ["mlp"],
    "search_space": {"max_epochs": 40, "batch_size": 32, "lr": 3e-3,
                     "featurize__numeric_scaling": "standard"},
    "device": "cpu",
    "verbose": 0,
    "random_state": 0,
}


def all_estimators():
    """Return fast instances of every public estimator."""
    return [AutoDLClassifier(**CHECK_PARAMS), AutoDLRegressor(**CHECK_PARAMS)]


#: check name -> reason, per estimator class (at most 4 each)
EXPECTED_FAILED_CHECKS = {
    "AutoDLClassifier": {},
    "AutoDLRegressor": {},
}


def expected_failed_checks(estimator):
    """Callable for ``parametrize_with_checks(expected_failed_checks=...)``."""
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})
