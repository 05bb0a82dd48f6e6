"""Multi-label classification (a label-indicator y) and multi-output
regression: one shared network, scikit-learn's output formats."""

import numpy as np
import pytest
from sklearn.datasets import load_linnerud, make_multilabel_classification
from sklearn.model_selection import cross_val_score

from skautodl import AutoDLClassifier, AutoDLRegressor
from skautodl.training.net import AutoNetMultilabel
from skautodl.utils._testing import CHECK_PARAMS


@pytest.fixture(scope="module")
def labels():
    X, Y = make_multilabel_classification(300, 10, n_classes=4, random_state=0)
    return X, Y


@pytest.fixture(scope="module")
def fitted(labels):
    X, Y = labels
    # three trials, bagged (cv=3) into an ensemble of several configs
    clf = AutoDLClassifier(**{**CHECK_PARAMS, "n_trials": 3, "cv": 3,
                              "ensemble_size": 4}).fit(X[:200], Y[:200])
    return clf


def test_one_shared_network_with_a_sigmoid_output_per_label(fitted):
    pipeline = fitted.best_estimator_.models[0]
    net = pipeline[-1]
    assert isinstance(net, AutoNetMultilabel)
    assert isinstance(net.criterion_, __import__("torch").nn.BCEWithLogitsLoss)
    assert net.module_.layers[-1].out_features == 4  # one trunk, 4 outputs
    assert len(fitted.classes_) == 4
    assert all(list(c) == [0, 1] for c in fitted.classes_)
    assert fitted.temperature_ == 1.0


def test_predict_and_predict_proba_formats(fitted, labels):
    X, Y = labels
    pred = fitted.predict(X[200:])
    assert pred.shape == (100, 4) and pred.dtype == Y.dtype
    assert set(np.unique(pred)) <= {0, 1}
    proba = fitted.predict_proba(X[200:])
    assert isinstance(proba, list) and len(proba) == 4
    for j, p in enumerate(proba):
        assert p.shape == (100, 2)
        np.testing.assert_allclose(p.sum(axis=1), 1.0)
        np.testing.assert_array_equal(pred[:, j], (p[:, 1] > 0.5).astype(int))
    # it learned: per-label accuracy well above always predicting the
    # majority of each label
    majority = np.maximum(Y[200:].mean(axis=0), 1 - Y[200:].mean(axis=0))
    assert (pred == Y[200:]).mean() > majority.mean() + 0.05
    # score is subset accuracy, as for scikit-learn's classifiers
    assert fitted.score(X[200:], Y[200:]) == pytest.approx(
        np.mean((pred == Y[200:]).all(axis=1)))


def test_multilabel_in_cross_val_score(labels):
    X, Y = labels
    scores = cross_val_score(AutoDLClassifier(**CHECK_PARAMS), X[:150], Y[:150],
                             cv=3, scoring="f1_micro")
    assert scores.shape == (3,) and np.all(scores > 0.4)


def test_multioutput_regression_on_linnerud_in_cross_val_score():
    X, Y = load_linnerud(return_X_y=True)
    reg = AutoDLRegressor(**CHECK_PARAMS).fit(X, Y)
    assert reg.predict(X).shape == (20, 3)
    net = reg.best_estimator_[-1]
    assert net.module_.layers[-1].out_features == 3  # one trunk, 3 outputs
    scores = cross_val_score(AutoDLRegressor(**CHECK_PARAMS), X, Y, cv=2,
                             scoring="neg_mean_absolute_error")
    assert scores.shape == (2,) and np.all(np.isfinite(scores))


def test_a_two_dimensional_multiclass_target_is_refused():
    X = np.random.RandomState(0).randn(30, 3)
    Y = np.random.RandomState(1).randint(0, 3, size=(30, 2))
    with pytest.raises(ValueError, match="label-indicator matrix.*MultiOutput"):
        AutoDLClassifier(**CHECK_PARAMS).fit(X, Y)


def test_trees_are_left_out_of_a_multilabel_search(labels):
    X, Y = labels
    with pytest.raises(ValueError, match="hgb"):
        AutoDLClassifier(**{**CHECK_PARAMS, "families": ["hgb"]}).fit(X, Y)


def test_multilabel_model_round_trips_through_the_safe_format(fitted, labels,
                                                              tmp_path):
    from skautodl import load, save

    X, _ = labels
    save(fitted, tmp_path / "m.skautodl")
    loaded = load(tmp_path / "m.skautodl")
    np.testing.assert_array_equal(loaded.predict(X[200:]), fitted.predict(X[200:]))
    for a, b in zip(loaded.predict_proba(X[200:]), fitted.predict_proba(X[200:]),
                    strict=True):
        np.testing.assert_array_equal(a, b)
    assert loaded.predict(X[200:]).dtype == fitted.predict(X[200:]).dtype


def test_multilabel_manifest_and_serving_payload(fitted, labels, tmp_path):
    from skautodl import save
    from skautodl.persistence import read_manifest
    from skautodl.serve import predict_payload

    X, _ = labels
    save(fitted, tmp_path / "m.skautodl")
    model = read_manifest(tmp_path / "m.skautodl")["model"]
    assert model["task"] == "multilabel-classification" and model["n_labels"] == 4
    payload = predict_payload(fitted, X[200:205])
    assert payload["predictions"] == fitted.predict(X[200:205]).tolist()
    np.testing.assert_allclose(
        payload["probabilities"],
        np.column_stack([p[:, 1] for p in fitted.predict_proba(X[200:205])]))
