"""Compression: pruning, int8 quantization, the report and the file round trip."""

import copy
import os
import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import load_diabetes, load_digits
from sklearn.exceptions import NotFittedError

from skautodl import AutoDLClassifier, AutoDLRegressor, load, save
from skautodl.compression import PRUNABLE, count_parameters
from skautodl.utils._testing import CHECK_PARAMS

FAST = {**CHECK_PARAMS, "search_space": {**CHECK_PARAMS["search_space"],
                                         "max_epochs": 20}}
SMALL_CNN = {"max_epochs": 3, "lr": 0.01, "module__width": 8, "module__n_stages": 1,
             "batch_size": 32}


def _quantized(module):
    return [m for m in module.modules()
            if type(m).__module__.startswith("torch.ao.nn.quantized.dynamic")]


def _weights(module):
    """Float weights of the linear/conv layers, quantized ones dequantized."""
    return ([m.weight.detach() for m in module.modules() if isinstance(m, PRUNABLE)]
            + [m.weight().dequantize() for m in _quantized(module)])


def _sparsity(module):
    weights = _weights(module)
    return 1 - sum(int(torch.count_nonzero(w)) for w in weights) / sum(
        w.numel() for w in weights)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:400], y[:400], X[400:700], y[400:700]


@pytest.fixture(scope="module")
def clf(digits):
    X, y, _, _ = digits
    return AutoDLClassifier(**FAST).fit(X, y)


@pytest.fixture(scope="module")
def compressed(clf, digits):
    X, y, X_test, _ = digits
    before = clf.predict_proba(X_test)
    state = copy.deepcopy(clf.best_estimator_[-1].module_.state_dict())
    small = clf.compress(X, y, sparsity=0.5, random_state=0)
    return small, before, state


def test_original_is_unchanged(clf, compressed, digits):
    small, before, state = compressed
    X_test = digits[2]
    np.testing.assert_array_equal(clf.predict_proba(X_test), before)
    net = clf.best_estimator_[-1]
    assert not hasattr(net, "compression_") and not _quantized(net.module_)
    for key, value in net.module_.state_dict().items():
        assert torch.equal(value, state[key]), key
    assert not hasattr(clf, "compression_report_")
    assert small is not clf and small.best_estimator_[-1] is not net
    assert small.get_params() == clf.get_params()


def test_requested_sparsity_and_int8_layers(compressed):
    small = compressed[0]
    module = small.best_estimator_[-1].module_
    layers = _quantized(module)
    assert len(layers) == 3  # two hidden layers and the output layer
    assert not [m for m in module.modules() if type(m) is torch.nn.Linear]
    for layer in layers:
        weight = layer.weight()
        assert weight.dtype == torch.qint8
        assert weight.qscheme() == torch.per_channel_affine
        # each layer is pruned to exactly half its weights; int8 rounding
        # may zero a few tiny survivors more
        zeros = 1 - int(torch.count_nonzero(weight.int_repr())) / weight.numel()
        assert 0.5 <= zeros < 0.52
    assert small.best_estimator_[-1].compression_ == {"sparsity": 0.5,
                                                      "quantized": True}


def test_predictions_stay_close(clf, compressed, digits):
    # Tolerance: pruning half the weights and fine-tuning changes the model
    # (not only its precision), and int8 weights plus activations quantized
    # per batch (8 bits over the batch's range) move each probability; so
    # the labels must mostly agree and the test accuracy stay within 3
    # points, not the probabilities to any small atol.
    small = compressed[0]
    _, _, X_test, y_test = digits
    agree = np.mean(small.predict(X_test) == clf.predict(X_test))
    assert agree >= 0.9
    assert small.score(X_test, y_test) >= clf.score(X_test, y_test) - 0.03
    # quantization alone (no pruning) is a much smaller change: about 0.005
    # per probability on average here (this small model has many borderline
    # rows, a few of which change label)
    only_int8 = clf.compress(sparsity=0.0)
    assert np.mean(only_int8.predict(X_test) == clf.predict(X_test)) >= 0.95
    assert np.abs(only_int8.predict_proba(X_test)
                  - clf.predict_proba(X_test)).mean() < 0.02


def test_report(compressed, digits):
    report = compressed[0].compression_report_
    assert {"sparsity", "quantize", "fine_tune_epochs", "fine_tune_rows",
            "validation_rows", "scoring", "before", "after", "file_ratio",
            "notes"} <= set(report)
    assert (report["sparsity"], report["quantize"]) == (0.5, True)
    assert report["fine_tune_epochs"] == 3 and report["scoring"] == "accuracy"
    assert (report["fine_tune_rows"], report["validation_rows"]) == (320, 80)
    before, after = report["before"], report["after"]
    keys = {"file_bytes", "n_parameters", "n_nonzero", "weight_sparsity",
            "latency_ms", "validation_score"}
    assert set(before) == set(after) == keys
    assert before["n_parameters"] == after["n_parameters"] > 0
    assert before["n_nonzero"] == before["n_parameters"]
    assert after["n_nonzero"] < 0.55 * after["n_parameters"]
    assert before["weight_sparsity"] == 0 and 0.5 <= after["weight_sparsity"] < 0.52
    assert report["file_ratio"] == before["file_bytes"] / after["file_bytes"] >= 3
    assert before["latency_ms"] > 0 and after["latency_ms"] > 0
    assert 0 <= after["validation_score"] <= 1 and before["validation_score"] > 0.8
    assert report["notes"] == []


def test_save_load_round_trip(compressed, digits, tmp_path):
    small = compressed[0]
    X_test = digits[2]
    path = save(small, tmp_path / "small.skautodl")
    loaded = load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X_test),
                                  small.predict_proba(X_test))
    net = loaded.best_estimator_[-1]
    assert net.compression_ == {"sparsity": 0.5, "quantized": True}
    assert len(_quantized(net.module_)) == 3
    assert count_parameters(net.module_) == count_parameters(
        small.best_estimator_[-1].module_)
    assert loaded.compression_report_ == small.compression_report_
    before = small.compression_report_["before"]["file_bytes"]
    assert os.path.getsize(path) * 3 <= before
    # pickle (joblib) keeps working too
    unpickled = pickle.loads(pickle.dumps(small))
    np.testing.assert_array_equal(unpickled.predict_proba(X_test),
                                  small.predict_proba(X_test))


def test_fine_tune_recovers_the_score(clf, digits):
    # 90 % of the weights pruned hurts; a few epochs of fine-tune win most
    # of it back (same split: same random_state)
    X, y, _, _ = digits
    kwargs = {"sparsity": 0.9, "quantize": False, "random_state": 0}
    untuned = clf.compress(X, y, fine_tune_epochs=0, **kwargs).compression_report_
    tuned = clf.compress(X, y, fine_tune_epochs=3, **kwargs).compression_report_
    assert untuned["fine_tune_epochs"] == 0 and tuned["fine_tune_epochs"] == 3
    assert untuned["after"]["validation_score"] < untuned["before"]["validation_score"]
    assert tuned["after"]["validation_score"] > untuned["after"]["validation_score"]
    assert tuned["after"]["weight_sparsity"] == pytest.approx(0.9, abs=1e-3)


def test_without_data_no_fine_tune_no_score(clf, digits):
    small = clf.compress(sparsity=0.3)
    report = small.compression_report_
    assert report["fine_tune_epochs"] == 0 and report["validation_rows"] == 0
    assert report["before"]["validation_score"] is None
    assert report["after"]["latency_ms"] is None
    assert report["after"]["file_bytes"] < report["before"]["file_bytes"]
    assert "no fine-tune" in report["notes"][0]
    assert small.predict(digits[2]).shape == (300,)
    # X alone: the latency, still no fine-tune or score
    report = clf.compress(digits[0], quantize=False).compression_report_
    assert report["after"]["latency_ms"] > 0
    assert report["after"]["validation_score"] is None


@pytest.mark.parametrize("kwargs, error, match", [
    ({"sparsity": 1.0}, ValueError, r"sparsity must be a float in \[0, 1\)"),
    ({"sparsity": -0.1}, ValueError, "sparsity"),
    ({"sparsity": "0.5"}, ValueError, "sparsity"),
    ({"sparsity": True}, ValueError, "sparsity"),
    ({"quantize": "yes"}, TypeError, "quantize must be True or False"),
    ({"quantize": 1}, TypeError, "quantize"),
    ({"fine_tune_epochs": -1}, ValueError, "fine_tune_epochs"),
    ({"fine_tune_lr": 0}, ValueError, "fine_tune_lr"),
    ({"validation_fraction": 1.0}, ValueError, "validation_fraction"),
])
def test_bad_arguments(clf, kwargs, error, match):
    with pytest.raises(error, match=match):
        clf.compress(**kwargs)


def test_bad_data_and_state(clf, compressed, digits):
    X, y, _, _ = digits
    with pytest.raises(NotFittedError):
        AutoDLClassifier().compress()
    with pytest.raises(ValueError, match="y without X"):
        clf.compress(None, y)
    with pytest.raises(ValueError, match="different lengths"):
        clf.compress(X, y[:10])
    with pytest.raises(ValueError, match="was not fitted on"):
        clf.compress(X[:20], np.full(20, 42))
    with pytest.raises(ValueError, match="already quantized"):
        compressed[0].compress()
    with pytest.warns(UserWarning, match="changes nothing"):
        clf.compress(sparsity=0.0, quantize=False)


def test_tree_members_are_untouched(clf, digits):
    X, y, X_test, _ = digits
    trees = AutoDLClassifier(**{**CHECK_PARAMS, "families": ["hgb"],
                                "search_space": {"hgb__max_iter": 10}}).fit(X, y)
    mixed = copy.deepcopy(clf)
    mixed.ensemble_ = [(clf.best_estimator_, 0.5), (trees.best_estimator_, 0.5)]
    small = mixed.compress(sparsity=0.5)
    tree = small.ensemble_[1][0]
    np.testing.assert_array_equal(tree.predict_proba(X_test),
                                  trees.best_estimator_.predict_proba(X_test))
    assert not hasattr(tree[-1], "compression_")
    assert _quantized(small.ensemble_[0][0][-1].module_)
    assert any("Tree members" in n for n in small.compression_report_["notes"])


def test_regressor_with_bagged_members(tmp_path):
    X, y = load_diabetes(return_X_y=True)
    X, y, X_test, y_test = X[:200], y[:200], X[200:300], y[200:300]
    reg = AutoDLRegressor(**{**FAST, "cv": 2, "search_space": {
        **FAST["search_space"], "max_epochs": 10}}).fit(X, y)
    assert type(reg.best_estimator_).__name__ == "BaggedModel"
    small = reg.compress(X, y, random_state=0)
    for model in small.best_estimator_.models:
        assert len(_quantized(model[-1].module_)) == 3
        assert _sparsity(model[-1].module_) >= 0.5
    report = small.compression_report_
    assert report["scoring"] == "r2" and report["after"]["validation_score"] is not None
    # a regressor's outputs are scaled back to the target's units: compare
    # them relative to its spread
    spread = np.std(reg.predict(X_test))
    assert np.abs(small.predict(X_test) - reg.predict(X_test)).mean() < 0.25 * spread
    assert small.score(X_test, y_test) > reg.score(X_test, y_test) - 0.1
    loaded = load(save(small, tmp_path / "reg.skautodl"))
    np.testing.assert_array_equal(loaded.predict(X_test), small.predict(X_test))


def test_cnn_convolutions_pruned_linear_quantized(digits, tmp_path):
    X, y, _, _ = digits
    images = (X[:200] * 16).clip(0, 255).astype(np.uint8).reshape(-1, 8, 8)
    clf = AutoDLClassifier(**{**CHECK_PARAMS, "families": "auto",
                              "search_space": SMALL_CNN}).fit(images, y[:200])
    small = clf.compress(images, y[:200], sparsity=0.5, fine_tune_epochs=1,
                         random_state=0)
    module = small.best_estimator_[-1].module_
    convs = [m for m in module.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(
        1 - int(torch.count_nonzero(c.weight)) / c.weight.numel() >= 0.5
        for c in convs)
    assert len(_quantized(module)) == 1  # the classifier head
    proba = small.predict_proba(images)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    loaded = load(save(small, tmp_path / "cnn.skautodl"))
    np.testing.assert_array_equal(loaded.predict_proba(images), proba)
