"""Image inputs: (n, H, W), (n, C, H, W) and flat rows with image_shape; the
CNN family chosen by families="auto" for images."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from skautodl import AutoDLClassifier, AutoDLRegressor
from skautodl.data.featurize import ImageFeaturizer
from skautodl.networks.cnn import ResidualCNN

SMALL_CNN = {"max_epochs": 8, "lr": 0.01, "module__width": 8, "module__n_stages": 1,
             "batch_size": 32}
FAST = {"time_budget": None, "n_trials": 1, "fidelity": None, "verbose": 0,
        "random_state": 0, "device": "cpu", "search_space": SMALL_CNN}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:300] * 16).clip(0, 255).astype(np.uint8).reshape(-1, 8, 8), y[:300]


def test_three_dimensional_images_use_the_cnn(digits):
    X, y = digits
    clf = AutoDLClassifier(**FAST).fit(X, y)
    assert clf.image_shape_ == (1, 8, 8)
    assert clf.best_params_["family"] == "cnn"
    assert clf.n_features_in_ == 64
    assert isinstance(clf.best_estimator_[0], ImageFeaturizer)
    assert isinstance(clf.best_estimator_[-1].module_, ResidualCNN)
    assert clf.score(X, y) > 0.5
    # the same images as (n, 1, H, W) and as flat rows predict the same
    p = clf.predict_proba(X[:20])
    np.testing.assert_allclose(clf.predict_proba(X[:20, None]), p)
    np.testing.assert_allclose(clf.predict_proba(X[:20].reshape(20, -1)), p)


def test_four_dimensional_float_images_and_channel_normalization():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 3, 6, 6)).astype(np.float32)
    X[:, 1] = X[:, 1] * 50 + 100  # a channel on another scale
    y = (X[:, 0].mean(axis=(1, 2)) > 0).astype(int)
    clf = AutoDLClassifier(**FAST).fit(X, y)
    assert clf.image_shape_ == (3, 6, 6)
    feat = clf.best_estimator_[0]
    Xt = feat.transform(X).reshape(-1, 3, 6, 6)
    np.testing.assert_allclose(Xt.mean(axis=(0, 2, 3)), 0, atol=1e-4)
    np.testing.assert_allclose(Xt.std(axis=(0, 2, 3)), 1, atol=1e-3)
    assert clf.predict(X).shape == (120,)


def test_flat_rows_with_image_shape_after_a_2d_pipeline_step(digits):
    X, y = digits
    flat = X.reshape(len(X), -1).astype(float)
    pipe = make_pipeline(FunctionTransformer(lambda Z: Z / 16.0),
                         AutoDLClassifier(**FAST, image_shape=(8, 8)))
    pipe.fit(flat, y)
    model = pipe[-1]
    assert model.image_shape_ == (1, 8, 8)
    assert model.best_params_["family"] == "cnn"
    assert pipe.score(flat, y) > 0.5


def test_image_regression():
    rng = np.random.RandomState(0)
    X = rng.rand(100, 1, 5, 5).astype(np.float32)
    y = X.mean(axis=(1, 2, 3)) * 10
    reg = AutoDLRegressor(**FAST).fit(X, y)
    assert reg.predict(X).shape == (100,)


@pytest.mark.parametrize("X_bad, match", [
    (np.zeros((5, 7, 7)), r"fitted on images of shape \(1, 8, 8\)"),
    (np.zeros((5, 2, 8, 8)), r"fitted on images of shape \(1, 8, 8\)"),
    (np.zeros((5, 63)), "expecting 64 features|needs 64"),
])
def test_wrong_image_shape_at_predict(digits, X_bad, match):
    X, y = digits
    clf = AutoDLClassifier(**{**FAST, "search_space": {**SMALL_CNN,
                                                       "max_epochs": 1}}).fit(X, y)
    with pytest.raises(ValueError, match=match):
        clf.predict(X_bad)


@pytest.mark.parametrize("image_shape, X_shape, match", [
    ((8, 8), (10, 60), "needs 64"),
    ((0, 8), (10, 64), "positive ints"),
    ("8x8", (10, 64), "image_shape"),
    ((2, 8, 8), (10, 1, 8, 8), "image_shape"),
])
def test_bad_image_shape(image_shape, X_shape, match):
    X = np.zeros(X_shape)
    y = np.arange(10) % 2
    with pytest.raises(ValueError, match=match):
        AutoDLClassifier(**FAST, image_shape=image_shape).fit(X, y)


def test_nan_in_images_is_an_error(digits):
    X, y = digits
    X = X.astype(float)
    X[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        AutoDLClassifier(**FAST).fit(X, y)


def test_cnn_module_shapes_and_errors():
    import torch

    for pooling in ("max", "avg"):
        net = ResidualCNN(3 * 9 * 9, 4, (3, 9, 9), n_stages=3, width=4,
                          kernel_size=5, pooling=pooling)
        assert net(torch.zeros(2, 243)).shape == (2, 4)
    with pytest.raises(ValueError, match="pooling"):
        ResidualCNN(64, 2, (1, 8, 8), pooling="median")
    with pytest.raises(ValueError, match="holds 64 values"):
        ResidualCNN(60, 2, (1, 8, 8))
