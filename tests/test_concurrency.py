"""A fitted estimator is read-only and thread-safe; fits in threads are
reproducible."""

import threading

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification, make_regression

from skautodl import AutoDLClassifier, AutoDLRegressor

FAST = {"cv": None, "time_budget": None, "n_trials": 2, "fidelity": None, "verbose": 0,
        "random_state": 0, "device": "cpu", "families": ["mlp"],
        "search_space": {"max_epochs": 5}}


def _weights(est):
    return {k: v.clone() for k, v in est.best_estimator_[-1].module_.state_dict()
            .items()}


def _hammer(fn, X, n_threads=4, n_calls=40):
    """Call ``fn(X)`` from several threads at once; return every output."""
    outputs, errors = [], []
    start = threading.Barrier(n_threads)

    def work():
        start.wait()
        for _ in range(n_calls):
            try:
                outputs.append(fn(X))
            except Exception as exc:  # noqa: BLE001 - counted below
                errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outputs, errors


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_predictions_from_many_threads_equal_one_thread(kind):
    if kind == "classifier":
        X, y = make_classification(n_samples=200, n_features=6, random_state=0)
        est = AutoDLClassifier(**FAST).fit(X, y)
        fn = est.predict_proba
    else:
        X, y = make_regression(n_samples=200, n_features=6, random_state=0)
        est = AutoDLRegressor(**FAST).fit(X, y)
        fn = est.predict
    expected = fn(X)
    weights = _weights(est)
    outputs, errors = _hammer(fn, X)
    assert errors == []
    assert len(outputs) == 160
    for out in outputs:
        np.testing.assert_array_equal(out, expected)
    # and nothing about the fitted model changed
    for name, value in _weights(est).items():
        assert value.dtype == torch.float32
        assert torch.equal(value, weights[name]), name
    np.testing.assert_array_equal(fn(X), expected)


def test_two_fits_in_two_threads_equal_two_sequential_fits():
    X, y = make_classification(n_samples=300, n_features=8, random_state=1)
    params = {**FAST, "n_trials": 3, "search_space": {"max_epochs": 8}}
    sequential = [AutoDLClassifier(**params).fit(X, y).predict_proba(X)
                  for _ in range(2)]
    np.testing.assert_array_equal(sequential[0], sequential[1])
    results = [None, None]

    def fit(i):
        results[i] = AutoDLClassifier(**params).fit(X, y).predict_proba(X)

    threads = [threading.Thread(target=fit, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for proba in results:
        np.testing.assert_array_equal(proba, sequential[0])
