"""The development suite: data sets on which skautodl's defaults are chosen.

The quality benchmark (``benchmarks/quality.py``, its default ``--suite
test``) reports skautodl's scores on mnist, digits_images, breast_cancer,
wine, diabetes, friedman1 and mixed. Choosing defaults, portfolio entries,
the families of ``"auto"`` or the validation protocol on those scores would
tune to the test data. Every such choice is made on the data sets below
instead, which the quality benchmark never scores:

=============  ==============  =======  =================================
name           task            rows     what it is
=============  ==============  =======  =================================
iris           classification  150      scikit-learn's iris (3 classes)
autompg        regression      392      mlxtend's auto-mpg (7 numeric
                                        columns; its all-NaN name column
                                        dropped)
friedman2      regression      1000     ``make_friedman2(noise=10)``
                                        (targets up to ~1,700: scaling)
friedman3      regression      1000     ``make_friedman3(noise=0.1)``
classif        classification  1500     ``make_classification``: 20
                                        columns, 8 informative, 3 classes
hastie         classification  2000     ``make_hastie_10_2`` (binary)
mixed_dev      regression      2000     :func:`make_mixed_dev`: numeric
                                        and string columns, missing values
shapes         classification  2000     :func:`make_shapes`: 16x16
                                        generated images of 8 shapes
=============  ==============  =======  =================================

All generated sets use seed 1 (the quality benchmark's generated sets use
seed 0 and other generators). The CNN portfolio selection
(``benchmarks/cnn_portfolio_selection.py``) also trains on
:func:`make_textures` (seed 3) and larger, noisier shapes (seed 2), which
are not in :data:`DEV_DATASETS`.
"""

from __future__ import annotations

import numpy as np

#: name -> (task, input kind), as ``quality.DATASETS``
DEV_DATASETS = {
    "iris": ("classification", "numeric"),
    "autompg": ("regression", "numeric"),
    "friedman2": ("regression", "numeric"),
    "friedman3": ("regression", "numeric"),
    "classif": ("classification", "numeric"),
    "hastie": ("classification", "numeric"),
    "mixed_dev": ("regression", "mixed"),
    "shapes": ("classification", "image"),
}

#: largest pixel value of the dev image sets
DEV_IMAGE_MAX = {"shapes": 1.0}

SEED = 1


def make_mixed_dev(n_samples=2000, random_state=SEED, missing_fraction=0.08):
    """Mixed-type regression with missing values (a dev-suite set).

    Four numeric columns ``x0`` .. ``x3`` (normal, log-normal, uniform,
    integer counts), and string columns ``region`` (12 levels), ``channel``
    (5 levels) and ``tier`` (ordered ``"low" < "mid" < "high"`` as strings).
    The target is

    ``level[region] + 2 * slope[channel] * x0 + log1p(x1) * tier
    + sin(3 * x2) + 0.3 * sqrt(x3) + noise``

    with ``level`` and ``slope`` random per level, ``tier`` 0, 1, 2 and
    Gaussian noise of scale 0.5. Each cell is then missing with probability
    ``missing_fraction`` (NaN or None).

    Returns
    -------
    X : pandas.DataFrame of shape (n_samples, 7)
    y : ndarray of shape (n_samples,)
    """
    import pandas as pd

    rng = np.random.RandomState(random_state)
    x0 = rng.randn(n_samples)
    x1 = rng.lognormal(0.0, 1.0, n_samples)
    x2 = rng.uniform(-2.0, 2.0, n_samples)
    x3 = rng.poisson(4.0, n_samples).astype(float)
    regions = [f"r{i:02d}" for i in range(12)]
    region = rng.choice(regions, n_samples, p=rng.dirichlet(np.full(12, 1.5)))
    channels = ["web", "shop", "phone", "mail", "agent"]
    channel = rng.choice(channels, n_samples)
    tiers = ["low", "mid", "high"]
    tier = rng.choice(tiers, n_samples, p=[0.5, 0.3, 0.2])
    level = dict(zip(regions, rng.randn(12), strict=True))
    slope = dict(zip(channels, rng.uniform(-1.0, 1.0, 5), strict=True))
    t = np.array([tiers.index(v) for v in tier], dtype=float)
    y = (np.array([level[r] for r in region])
         + 2.0 * np.array([slope[c] for c in channel]) * x0
         + np.log1p(x1) * t + np.sin(3.0 * x2) + 0.3 * np.sqrt(x3)
         + 0.5 * rng.randn(n_samples))
    X = pd.DataFrame({"x0": x0, "x1": x1, "x2": x2, "x3": x3})
    for name, values in (("region", region), ("channel", channel), ("tier", tier)):
        X[name] = pd.Series(values, dtype=object)
    missing = rng.rand(*X.shape) < missing_fraction
    for j, col in enumerate(X.columns):
        X.loc[missing[:, j], col] = None if X[col].dtype == object else np.nan
    return X, y


def _generated_images(n_samples, size, random_state, noise, n_classes, draw):
    """Labels and noisy images drawn by ``draw`` (the generated image sets).

    ``y`` holds ``n_samples`` random labels below ``n_classes``; image ``i``
    is ``draw(rng, y[i], yy, xx)`` (``yy``, ``xx``: the pixel grid), then
    Gaussian pixel noise of scale ``noise`` is added to every image and the
    pixels are clipped to [0, 1]. One ``RandomState(random_state)`` draws
    everything, in that order.

    Returns
    -------
    X : ndarray of shape (n_samples, size, size), float32 in [0, 1]
    y : ndarray of shape (n_samples,)
    """
    rng = np.random.RandomState(random_state)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    X = np.zeros((n_samples, size, size), np.float32)
    y = rng.randint(0, n_classes, n_samples)
    for i, label in enumerate(y):
        X[i] = draw(rng, label, yy, xx)
    X += noise * rng.randn(*X.shape).astype(np.float32)
    return np.clip(X, 0.0, 1.0), y


def make_shapes(n_samples=2000, size=16, random_state=SEED, noise=0.15):
    """Generated grayscale images of 8 shapes (a dev-suite image set).

    Classes: 0 filled square, 1 square outline, 2 filled disc, 3 ring,
    4 horizontal bar, 5 vertical bar, 6 diagonal line, 7 cross. Each image
    draws one shape at a random position and scale (about a quarter to a
    half of the image), with random intensity in [0.6, 1], plus Gaussian
    pixel noise of scale ``noise``, clipped to [0, 1].

    Returns
    -------
    X : ndarray of shape (n_samples, size, size), float32 in [0, 1]
    y : ndarray of shape (n_samples,)
    """

    def draw(rng, label, yy, xx):
        r = rng.uniform(size / 8, size / 4)
        cy, cx = rng.uniform(r + 1, size - r - 1, 2)
        dy, dx = np.abs(yy - cy), np.abs(xx - cx)
        dist = np.hypot(yy - cy, xx - cx)
        width = max(1.0, r / 3)
        if label == 0:
            mask = (dy <= r) & (dx <= r)
        elif label == 1:
            mask = (np.maximum(dy, dx) <= r) & (np.maximum(dy, dx) >= r - width)
        elif label == 2:
            mask = dist <= r
        elif label == 3:
            mask = (dist <= r) & (dist >= r - width)
        elif label == 4:
            mask = (dy <= width / 2) & (dx <= r)
        elif label == 5:
            mask = (dx <= width / 2) & (dy <= r)
        elif label == 6:
            mask = (np.abs((yy - cy) - (xx - cx)) <= width / 2) & (dy <= r) & (dx <= r)
        else:
            mask = ((dy <= width / 2) & (dx <= r)) | ((dx <= width / 2) & (dy <= r))
        image = np.zeros((size, size), np.float32)
        image[mask] = rng.uniform(0.6, 1.0)
        return image

    return _generated_images(n_samples, size, random_state, noise, 8, draw)


def make_textures(n_samples=2000, size=20, random_state=3, noise=0.5):
    """Generated grayscale images of 6 textures (a dev image set).

    Classes: 0 horizontal stripes, 1 vertical stripes, 2 and 3 diagonal
    stripes (both directions), 4 checkerboard, 5 grid of dots. Each image
    has a random period (3 to 6 pixels), phase and contrast (0.2 to 0.6),
    plus Gaussian pixel noise of scale ``noise``, clipped to [0, 1].
    ``benchmarks/cnn_portfolio_selection.py`` selects the CNN portfolio on
    it (data set ``textures``); it is not in :data:`DEV_DATASETS`.

    Returns
    -------
    X : ndarray of shape (n_samples, size, size), float32 in [0, 1]
    y : ndarray of shape (n_samples,)
    """

    def draw(rng, label, yy, xx):
        period = rng.uniform(3.0, 6.0)
        py, px = rng.uniform(0, period, 2)
        wy, wx = 2 * np.pi * (yy + py) / period, 2 * np.pi * (xx + px) / period
        if label == 0:
            wave = np.sin(wy)
        elif label == 1:
            wave = np.sin(wx)
        elif label == 2:
            wave = np.sin((wy + wx) / np.sqrt(2))
        elif label == 3:
            wave = np.sin((wy - wx) / np.sqrt(2))
        elif label == 4:
            wave = np.sign(np.sin(wy) * np.sin(wx))
        else:
            wave = 2.0 * ((np.cos(wy) > 0.5) & (np.cos(wx) > 0.5)) - 1.0
        contrast = rng.uniform(0.2, 0.6)
        return 0.5 + 0.5 * contrast * wave

    return _generated_images(n_samples, size, random_state, noise, 6, draw)


def load_dev(name):
    """``(X, y)`` of the dev-suite data set ``name``."""
    from sklearn import datasets

    if name == "iris":
        return datasets.load_iris(return_X_y=True)
    if name == "autompg":
        try:
            from mlxtend.data import autompg_data
        except ImportError as exc:
            raise ImportError("the autompg data set needs mlxtend: "
                              "pip install -e '.[bench]'") from exc
        X, y = autompg_data()
        # the 8th column (the car's name) loads as all-NaN: dropped
        return (np.asarray(X, dtype=np.float64)[:, :7],
                np.asarray(y, dtype=np.float64))
    if name == "friedman2":
        return datasets.make_friedman2(n_samples=1000, noise=10.0, random_state=SEED)
    if name == "friedman3":
        return datasets.make_friedman3(n_samples=1000, noise=0.1, random_state=SEED)
    if name == "classif":
        return datasets.make_classification(
            n_samples=1500, n_features=20, n_informative=8, n_redundant=4,
            n_classes=3, n_clusters_per_class=2, class_sep=0.8, flip_y=0.03,
            random_state=SEED)
    if name == "hastie":
        X, y = datasets.make_hastie_10_2(n_samples=2000, random_state=SEED)
        return X, (y > 0).astype(np.int64)
    if name == "mixed_dev":
        return make_mixed_dev()
    if name == "shapes":
        return make_shapes()
    raise ValueError(f"unknown dev data set {name!r}; choose from {list(DEV_DATASETS)}")
