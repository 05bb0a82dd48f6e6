"""scikit-learn's common estimator checks on every public estimator."""

import pytest
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    parametrize_with_checks,
)

from skautodl.utils._testing import all_estimators, expected_failed_checks


@parametrize_with_checks(
    all_estimators(), expected_failed_checks=expected_failed_checks
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", all_estimators(), ids=lambda e: type(e).__name__)
def test_dataframe_column_names_consistency(estimator):
    # not yielded by the check generator: run it explicitly
    check_dataframe_column_names_consistency(type(estimator).__name__, estimator)
