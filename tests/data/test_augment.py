"""Tests of skautodl/data/augment.py: batch augmentations and their loader."""

import pickle

import numpy as np
import pytest
import torch
from skorch.dataset import Dataset

from skautodl.data.augment import (
    Augmentation,
    AugmentedBatchLoader,
    cutout,
    mixup,
    random_flip,
    random_rotation,
    random_shift,
)
from skautodl.data.validation import TaskInfo
from skautodl.training.net import TensorBatchLoader, build_net


def _images(n=6, c=2, h=9, w=11, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, c, h, w, generator=g) + 0.1  # strictly positive


def _bright_pixel(n=50, h=9, w=9, r=4, c=4):
    X = torch.zeros(n, 1, h, w)
    X[:, 0, r, c] = 1.0
    return X


# ---------------------------------------------------------------- shapes
@pytest.mark.parametrize("fn, arg", [
    (random_shift, 2), (random_rotation, 10.0), (random_flip, 0.5), (cutout, 3),
])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_image_functions_keep_shape_and_dtype(fn, arg, dtype):
    X = _images().to(dtype)
    out = fn(X, arg)
    assert out.shape == X.shape and out.dtype == dtype
    assert not out.data_ptr() == X.data_ptr()


@pytest.mark.parametrize("fn", [random_shift, random_flip, cutout])
def test_integer_images_supported(fn):
    X = (torch.rand(4, 3, 6, 6) * 255).to(torch.uint8)
    out = fn(X, 1)
    assert out.dtype == torch.uint8 and out.shape == X.shape


def test_rotation_and_mixup_reject_integer_batches():
    X = torch.zeros(4, 1, 5, 5, dtype=torch.int64)
    with pytest.raises(TypeError, match="floating point"):
        random_rotation(X, 5)
    with pytest.raises(TypeError, match="floating point"):
        mixup(X, None, 0.2)


def test_image_functions_reject_flat_batches():
    with pytest.raises(ValueError, match=r"\(n, C, H, W\)"):
        random_shift(torch.zeros(4, 10), 1)


# ---------------------------------------------------------------- shift
def test_shift_moves_a_bright_pixel_by_at_most_max_shift():
    X = _bright_pixel()
    out = random_shift(X, 2)
    assert out.sum(dim=(1, 2, 3)).eq(1).all()  # fully inside: nothing lost
    seen = set()
    for img in out[:, 0]:
        r, c = (int(v) for v in torch.nonzero(img)[0])
        assert abs(r - 4) <= 2 and abs(c - 4) <= 2
        seen.add((r - 4, c - 4))
    assert len(seen) > 5  # per-sample offsets, not one per batch


def test_shift_exact_offsets_and_zero_padding():
    from skautodl.data.augment import _shift_by

    X = torch.arange(1, 26, dtype=torch.float32).reshape(1, 1, 5, 5)
    out = _shift_by(X, torch.tensor([1]), torch.tensor([-2]), 2, 2)
    # down by one, left by two: out[h, w] = X[h - 1, w + 2]
    assert torch.equal(out[0, 0, 1:, :3], X[0, 0, :4, 2:])
    assert out[0, 0, 0].eq(0).all() and out[0, 0, :, 3:].eq(0).all()


def test_shift_past_the_border_is_zero_padded():
    X = torch.ones(200, 1, 3, 3)
    out = random_shift(X, 3)
    assert set(out.unique().tolist()) <= {0.0, 1.0}
    lost = 9 - out.sum(dim=(1, 2, 3))
    assert (lost > 0).any() and (lost == 9).any()  # some rows shifted fully out
    assert torch.equal(random_shift(X, 0), X)


# ---------------------------------------------------------------- flip
def test_flip_is_exact():
    X = torch.arange(24, dtype=torch.float32).reshape(2, 1, 3, 4)
    assert torch.equal(random_flip(X, p=1.0), X.flip(-1))
    assert torch.equal(random_flip(X, p=0.0), X)
    assert torch.equal(random_flip(X, p=1.0)[0, 0, 0], torch.tensor([3., 2, 1, 0]))
    torch.manual_seed(0)
    X = _images(n=64)
    out = random_flip(X, p=0.5)
    flipped = [torch.equal(o, x.flip(-1)) for o, x in zip(out, X, strict=True)]
    same = [torch.equal(o, x) for o, x in zip(out, X, strict=True)]
    assert all(a or b for a, b in zip(flipped, same, strict=True))
    assert 10 < sum(flipped) < 54


# ---------------------------------------------------------------- rotation
def test_rotation_by_zero_is_identity():
    X = _images()
    torch.testing.assert_close(random_rotation(X, 0.0), X)
    # a draw of ~0 degrees goes through grid_sample: still the identity
    torch.testing.assert_close(random_rotation(X, 1e-6), X, atol=1e-4, rtol=0)


def test_small_rotation_keeps_most_mass_and_changes_image():
    X = torch.zeros(8, 1, 16, 16)
    X[:, :, 5:11, 5:11] = 1.0  # centred square
    out = random_rotation(X, 10.0)
    ratio = out.sum(dim=(1, 2, 3)) / X.sum(dim=(1, 2, 3))
    assert (ratio > 0.9).all() and (ratio < 1.1).all()
    assert not torch.allclose(out, X)


def test_rotation_of_non_square_image_by_180_degrees_in_pixel_space():
    from unittest import mock

    X = _images(n=2, c=1, h=4, w=6)
    # force angle = +max_degrees: _rand returns ones -> (1*2-1)*180 degrees
    with mock.patch("skautodl.data.augment._rand", lambda shape, generator=None:
                    torch.ones(shape)):
        out = random_rotation(X, 180.0)
    torch.testing.assert_close(out, X.flip(-1).flip(-2), atol=1e-5, rtol=0)


# ---------------------------------------------------------------- cutout
def test_cutout_zeroes_exactly_size_squared_pixels():
    X = _images(n=20, c=3, h=10, w=12)
    out = cutout(X, 4)
    zeros = (out == 0).sum(dim=(2, 3))  # per sample and channel
    assert zeros.eq(16).all()
    # the same square on every channel, contiguous 4x4
    for img in out:
        rows, cols = torch.nonzero(img[0] == 0, as_tuple=True)
        assert rows.max() - rows.min() == 3 and cols.max() - cols.min() == 3
        assert torch.equal(img[1] == 0, img[0] == 0)
    keep = out != 0
    assert torch.equal(out[keep], X[keep])
    assert cutout(X, 50).eq(0).all()  # clipped to the image


# ---------------------------------------------------------------- mixup
@pytest.mark.parametrize("per_sample", [False, True])
def test_mixup_is_a_convex_combination_with_soft_labels(per_sample):
    X = torch.randn(12, 5)
    y = torch.arange(12) % 3
    Xm, ym, lam, perm = mixup(X, y, 0.4, n_classes=3, per_sample=per_sample,
                              return_params=True)
    assert sorted(perm.tolist()) == list(range(12))
    assert ((lam >= 0) & (lam <= 1)).all()
    assert lam.shape == ((12,) if per_sample else ())
    lx = lam[:, None] if per_sample else lam
    torch.testing.assert_close(Xm, lx * X + (1 - lx) * X[perm])
    onehot = torch.nn.functional.one_hot(y, 3).float()
    torch.testing.assert_close(ym, lx * onehot + (1 - lx) * onehot[perm])
    assert ym.dtype == torch.float32 and ym.shape == (12, 3)
    torch.testing.assert_close(ym.sum(dim=1), torch.ones(12))


def test_mixup_images_and_regression_targets():
    X = _images(n=8)
    y = torch.randn(8, 2)
    Xm, ym, lam, perm = mixup(X, y, 1.0, per_sample=True, return_params=True)
    assert Xm.shape == X.shape and ym.shape == y.shape
    lx = lam[:, None, None, None]
    torch.testing.assert_close(Xm, lx * X + (1 - lx) * X[perm])
    torch.testing.assert_close(ym, lam[:, None] * y + (1 - lam[:, None]) * y[perm])
    y1 = torch.randn(8, dtype=torch.float64)
    _, ym1 = mixup(X, y1, 1.0)
    assert ym1.shape == (8,) and ym1.dtype == torch.float64


def test_mixup_errors():
    with pytest.raises(ValueError, match="n_classes"):
        mixup(torch.randn(4, 2), torch.tensor([0, 1, 0, 1]), 0.2)
    with pytest.raises(ValueError, match="alpha"):
        mixup(torch.randn(4, 2), None, 0.0)


# ---------------------------------------------------------------- seeding
def test_reproducible_with_the_same_seed():
    aug = Augmentation(mixup_alpha=0.3, shift=2, rotation=15, flip=True, cutout=3)
    X, y = _images(n=10), torch.arange(10) % 4

    def run(seed):
        torch.manual_seed(seed)
        return aug(X, y, n_classes=4)

    a, b, c = run(0), run(0), run(1)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])
    # an explicit generator: independent of the global state
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    torch.manual_seed(0)
    d = aug(X, y, n_classes=4, generator=g1)
    torch.manual_seed(123)
    e = aug(X, y, n_classes=4, generator=g2)
    assert torch.equal(d[0], e[0]) and torch.equal(d[1], e[1])


# ---------------------------------------------------------------- config
def test_augmentation_defaults_are_off_and_it_pickles():
    X, y = torch.randn(6, 4), torch.arange(6)
    aug = Augmentation()
    assert not aug.enabled
    Xa, ya = aug(X, y, n_classes=6)
    assert Xa is X and ya is y
    aug = Augmentation(mixup_alpha=0.2, shift=1, image_shape=(1, 2, 2))
    again = pickle.loads(pickle.dumps(aug))
    assert again == aug and again.get_params() == aug.get_params()
    assert repr(aug) == "Augmentation(mixup_alpha=0.2, shift=1, image_shape=(1, 2, 2))"
    from sklearn.base import clone
    assert clone(aug) == aug and clone(aug) is not aug


def test_augmentation_on_flat_image_rows():
    X = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).reshape(2, 60)
    out, _ = Augmentation(flip=True, image_shape=(3, 4, 5))(X)
    assert out.shape == X.shape and out.dtype == X.dtype
    # row-major (C, H, W): a flip reverses each run of W=5 values or keeps it
    for o, x in zip(out.reshape(-1, 5), X.reshape(-1, 5), strict=True):
        assert torch.equal(o, x) or torch.equal(o, x.flip(0))
    with pytest.raises(ValueError, match="image_shape"):
        Augmentation(flip=True)(X)
    with pytest.raises(ValueError, match="60"):
        Augmentation(flip=True, image_shape=(3, 4, 4))(X)
    out3, _ = Augmentation(shift=1)(torch.rand(3, 6, 6))  # (n, H, W)
    assert out3.shape == (3, 6, 6)


def test_augmentation_tabular_mixup_keeps_dtype():
    X = torch.randn(16, 7)
    Xa, ya = Augmentation(mixup_alpha=0.2)(X, torch.arange(16) % 2, n_classes=2)
    assert Xa.shape == X.shape and Xa.dtype == torch.float32
    assert ya.shape == (16, 2) and ya.dtype == torch.float32


# ---------------------------------------------------------------- loader
def _dataset(n=40, d=4, k=3):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (np.arange(n) % k).astype(np.int64)
    return Dataset(X, y), X, y


def test_loader_changes_training_batches_but_plain_loader_does_not():
    ds, X, y = _dataset()
    aug = Augmentation(mixup_alpha=1.0)
    loader = AugmentedBatchLoader(ds, batch_size=16, shuffle=False,
                                  augmentation=aug, n_classes=3)
    assert isinstance(loader, TensorBatchLoader) and len(loader) == 3
    batches = list(loader)
    Xa = torch.cat([b[0] for b in batches])
    ya = torch.cat([b[1] for b in batches])
    assert Xa.shape == X.shape and ya.shape == (40, 3)
    assert not torch.allclose(Xa, torch.as_tensor(X))
    torch.testing.assert_close(ya.sum(dim=1), torch.ones(40))
    plain = list(TensorBatchLoader(ds, batch_size=16, shuffle=False))
    assert torch.equal(torch.cat([b[0] for b in plain]), torch.as_tensor(X))
    assert torch.equal(torch.cat([b[1] for b in plain]), torch.as_tensor(y))
    # no augmentation: the same batches as the plain loader
    bare = list(AugmentedBatchLoader(ds, batch_size=16, shuffle=False))
    assert all(torch.equal(a[0], b[0]) for a, b in zip(bare, plain, strict=True))


class _Spy:
    """Augmentation wrapper that records the batches it sees."""

    def __init__(self, inner):
        self.inner, self.sizes = inner, []

    def __call__(self, X, y, n_classes=None, generator=None):
        self.sizes.append(len(X))
        return self.inner(X, y, n_classes=n_classes, generator=generator)


def test_end_to_end_skorch_net_trains_with_mixup_and_validation_is_raw():
    ds, X, y = _dataset(n=40)
    valid = Dataset(X[:12].copy(), y[:12].copy())
    config = {"family": "mlp", "max_epochs": 2, "lr": 1e-2, "batch_size": 16,
              "module__n_units": 8, "module__dropout": 0.0}
    task = TaskInfo("multiclass", 3, n_samples=40)
    net = build_net(config, task, X.shape[1], classes=["a", "b", "c"], valid=valid)
    spy = _Spy(Augmentation(mixup_alpha=0.2))
    net.set_params(iterator_train=AugmentedBatchLoader,
                   iterator_train__augmentation=spy, iterator_train__n_classes=3)
    torch.manual_seed(0)
    net.fit(X, y)
    assert len(net.history) == 2
    assert np.isfinite(net.history[:, "train_loss"]).all()
    assert np.isfinite(net.history[:, "valid_loss"]).all()
    # only the 40 training rows per epoch were augmented, never the 12 valid
    assert spy.sizes == [16, 16, 8] * 2
    pred = net.predict(X)
    assert pred.shape == (40,) and set(pred) <= {"a", "b", "c"}
    proba = net.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    # the net's own iterators: training augments, validation/prediction do not
    train_it = net.get_iterator(ds, training=True)
    valid_it = net.get_iterator(ds, training=False)
    assert isinstance(train_it, AugmentedBatchLoader)
    assert type(valid_it) is TensorBatchLoader
    Xv = torch.cat([b[0] for b in valid_it])
    yv = torch.cat([b[1] for b in valid_it])
    assert torch.equal(Xv, torch.as_tensor(X)) and torch.equal(yv, torch.as_tensor(y))
    # predictions through skorch's own (GPU) path use iterator_valid: raw data
    from skorch import NeuralNetClassifier
    proba_skorch = NeuralNetClassifier.predict_proba(net, X)
    np.testing.assert_allclose(proba_skorch, proba, atol=1e-5)


def test_end_to_end_regressor_with_mixup():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 3)).astype(np.float32)
    y = X.sum(axis=1)
    config = {"family": "mlp", "max_epochs": 2, "lr": 1e-2, "batch_size": 10,
              "module__n_units": 8, "module__dropout": 0.0}
    net = build_net(config, TaskInfo("regression", 1, n_samples=30), 3)
    net.set_params(iterator_train=AugmentedBatchLoader,
                   iterator_train__augmentation=Augmentation(mixup_alpha=0.2))
    torch.manual_seed(0)
    net.fit(X, y)
    assert net.predict(X).shape == (30,)
