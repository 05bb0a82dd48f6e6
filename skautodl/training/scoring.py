"""The scorer that ranks the trials, checked against the task up front."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.metrics import get_scorer

#: rows of ``y`` the scorer's dry run uses
DRY_RUN_ROWS = 64


def trial_scorer(scoring, default, task, y, owner="skautodl"):
    """Return the scorer for ``scoring`` (``default`` when None), checked on the task.

    A scorer named by a string is first tried on a trivial model of the
    task (scikit-learn's ``DummyClassifier`` or ``DummyRegressor`` fitted
    on ``y``): a metric that cannot score this task (``"accuracy"`` for a
    regressor, ``"roc_auc"`` for three classes, ``"r2"`` on string labels)
    fails here, before any training, instead of failing every trial. A
    callable is used as given (it may need the trial's skorch net).

    Parameters
    ----------
    scoring : str, callable or None
        The estimator's ``scoring`` parameter.
    default : str
        The scorer name used when ``scoring`` is None (``"accuracy"`` or
        ``"r2"``).
    task : skautodl.data.validation.TaskInfo
        The task.
    y : array-like
        The targets, for the dry run.
    owner : str, default="skautodl"
        The estimator's name, for the message.

    Returns
    -------
    callable
        ``scorer(estimator, X, y) -> float``, higher is better.

    Raises
    ------
    ValueError
        Naming the parameter, the scorer and the task.
    """
    name = default if scoring is None else scoring
    if not isinstance(name, str):
        return scoring
    scorer = get_scorer(name)
    y = np.asarray(y)
    rows = np.arange(min(len(y), DRY_RUN_ROWS))
    if task.is_classification:  # every class present, as in the real data
        rows = np.union1d(rows, np.unique(y, return_index=True)[1])
    y = y[rows]
    X = np.zeros((len(y), 1))
    dummy = (DummyClassifier(strategy="stratified", random_state=0)
             if task.is_classification or task.is_multilabel else DummyRegressor())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dummy.fit(X, y)
            scorer(dummy, X, y)
    except (ValueError, TypeError, AttributeError) as exc:
        raise ValueError(
            f"The 'scoring' parameter of {owner} is {name!r}, which cannot score "
            f"this {task.kind} task ({type(exc).__name__}: {exc}). Nothing was "
            "trained; choose a scorer for this kind of target."
        ) from None
    return scorer
