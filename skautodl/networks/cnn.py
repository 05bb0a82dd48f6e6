"""A small residual CNN for images, cheap enough to search on a CPU.

Inputs arrive as flat float32 rows (the image featurizer normalizes each
channel and flattens); the module reshapes them to ``(n, C, H, W)``.

Where the compute goes
----------------------
A convolution costs ``H * W * C_in * C_out * k**2`` multiply-adds, so the
resolution at which the wide layers run decides the price. The network
therefore halves the resolution early and widens only after it has:

* the *stem* (one convolution from the image channels) may downsample right
  away, by a 2x2 pooling after it (``stem="pool"``) or by a stride of 2
  (``stem="stride"``), when the image's smaller side is at least
  :data:`STEM_MIN_SIDE` pixels (for smaller images every stem keeps the
  full resolution);
* between stages the feature map is pooled *before* the channels double,
  and the doubling happens in the next block's first convolution, whose
  skip connection pads the new channels with zeros (He et al. 2016's
  option A) instead of a 1x1 projection.

The measured throughput of these choices (2026-11-29) is in
``docs/benchmarks.md``, section "CNN throughput".
The default has three stages because global average pooling over a 3x3 map
keeps more of the digits' layout than over 7x7 (see the same section).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from skopt.space import Categorical, Integer, Real
from torch import nn

from skautodl.search.space import Bound

POOLINGS = ("max", "avg")
#: how the stem treats images whose smaller side is >= STEM_MIN_SIDE
STEMS = ("pool", "stride", "plain")
#: smallest image side at which the stem downsamples (28x28 MNIST, 32x32
#: CIFAR do; 8x8 digits keep their resolution)
STEM_MIN_SIDE = 16
#: pool between stages while the feature map's smaller side is at least this
MIN_POOL_SIDE = 4


def _pool(pooling):
    return nn.MaxPool2d(2) if pooling == "max" else nn.AvgPool2d(2)


class _ResidualBlock(nn.Module):
    """Two ``k x k`` convolutions with batch norm and a skip connection.

    With ``out_channels > in_channels`` the first convolution widens and the
    skip connection pads the missing channels with zeros (no 1x1 conv).
    """

    def __init__(self, in_channels, out_channels, kernel_size):
        super().__init__()
        pad = kernel_size // 2
        self.extra = out_channels - in_channels
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size, padding=pad,
                      bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, kernel_size, padding=pad,
                      bias=False),
            nn.BatchNorm2d(out_channels),
        )

    def forward(self, x):
        skip = F.pad(x, (0, 0, 0, 0, 0, self.extra)) if self.extra else x
        return F.relu(skip + self.body(x))


class ResidualCNN(nn.Module):
    """Stem convolution, ``n_stages`` residual stages, global pooling, linear head.

    The stem maps the image channels to ``width`` channels (and with
    ``stem="pool"`` or ``"stride"`` halves the resolution of images whose
    smaller side is at least 16 pixels). Each stage is one residual block
    (two convolutions with batch norm and a skip connection); before every
    stage but the first, a 2x2 pooling halves the resolution (while its
    smaller side is at least 4 pixels) and the block's first convolution
    doubles the channels.

    Parameters
    ----------
    n_inputs : int
        ``C * H * W`` (flat input width).
    n_outputs : int
        Classes (logits) or regression targets.
    image_shape : tuple of int
        ``(C, H, W)``.
    n_stages : int, default=3
        Residual stages; each after the first halves the resolution (while
        the smaller side is at least 4 pixels) and doubles the channels.
    width : int, default=16
        Channels of the stem and the first stage.
    kernel_size : {3, 5}, default=3
        Of every convolution (odd sizes keep the resolution).
    pooling : {"max", "avg"}, default="max"
        The 2x2 pooling between stages (and after a ``"pool"`` stem).
    dropout : float, default=0.1
        Before the linear head.
    stem : {"pool", "stride", "plain"}, default="pool"
        For images whose smaller side is at least 16 pixels: halve the
        resolution by a 2x2 pooling after the stem convolution
        (``"pool"``), by a stride-2 stem convolution (``"stride"``, the
        cheapest), or keep it (``"plain"``, the slowest; the network of
        earlier releases used this). Smaller images always keep it.
    channels_last : bool, default=True
        Run the convolutions in the ``channels_last`` memory format (NHWC),
        which oneDNN's CPU kernels and cuDNN's tensor cores prefer.

    Raises
    ------
    ValueError
        For an unknown ``pooling`` or ``stem``, an even or non-positive
        ``kernel_size``, non-positive ``n_stages`` or ``width``, or an
        ``image_shape`` that is not ``(C, H, W)`` of ``n_inputs`` values.

    Examples
    --------
    >>> import torch
    >>> from skautodl.networks.cnn import ResidualCNN
    >>> net = ResidualCNN(784, 10, (1, 28, 28))
    >>> net(torch.zeros(2, 784)).shape
    torch.Size([2, 10])
    """

    def __init__(self, n_inputs, n_outputs, image_shape, n_stages=3, width=16,
                 kernel_size=3, pooling="max", dropout=0.1, stem="pool",
                 channels_last=True):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}; got {pooling!r}.")
        if stem not in STEMS:
            raise ValueError(f"stem must be one of {STEMS}; got {stem!r}.")
        if int(kernel_size) < 1 or int(kernel_size) % 2 == 0:
            raise ValueError(
                f"kernel_size must be a positive odd int; got {kernel_size!r}.")
        if int(n_stages) < 1 or int(width) < 1:
            raise ValueError(
                f"n_stages and width must be positive ints; got n_stages="
                f"{n_stages!r}, width={width!r}.")
        if len(tuple(image_shape)) != 3:
            raise ValueError(
                f"image_shape must be (C, H, W); got {tuple(image_shape)}.")
        channels, height, width_px = (int(v) for v in image_shape)
        if channels * height * width_px != n_inputs:
            raise ValueError(
                f"image_shape {tuple(image_shape)} holds {channels * height * width_px}"
                f" values, but the input has {n_inputs} features."
            )
        self.image_shape = (channels, height, width_px)
        self.channels_last = bool(channels_last)
        k = int(kernel_size)
        c = int(width)
        size = min(height, width_px)
        down = stem != "plain" and size >= STEM_MIN_SIDE
        stride = 2 if down and stem == "stride" else 1
        layers = [nn.Conv2d(channels, c, k, stride=stride, padding=k // 2,
                            bias=False),
                  nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
        if down and stem == "pool":
            layers.append(_pool(pooling))
        if down:
            size = (size + 1) // 2 if stride == 2 else size // 2
        for stage in range(int(n_stages)):
            if stage == 0:
                layers.append(_ResidualBlock(c, c, k))
                continue
            if size >= MIN_POOL_SIDE:
                layers.append(_pool(pooling))
                size //= 2
            layers.append(_ResidualBlock(c, 2 * c, k))
            c *= 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Dropout(float(dropout)), nn.Linear(c, n_outputs))
        if self.channels_last:
            self.features.to(memory_format=torch.channels_last)

    def forward(self, X):
        """Compute the network's outputs for flat image rows.

        Parameters
        ----------
        X : torch.Tensor of shape (n_samples, C * H * W)
            Normalized, flattened images.

        Returns
        -------
        torch.Tensor of shape (n_samples, n_outputs)
            Logits (classifier) or standardized values (regressor).
        """
        X = X.reshape(-1, *self.image_shape)
        # getattr: modules pickled before the option existed run as NCHW
        if getattr(self, "channels_last", False):
            X = X.contiguous(memory_format=torch.channels_last)
        return self.head(self.features(X))


def space(task):
    """Return the CNN's own hyperparameters (architecture search dimensions).

    The stem choice is searched only for images it applies to (smaller side
    at least :data:`STEM_MIN_SIDE`, or an unknown shape).

    Parameters
    ----------
    task : skautodl.data.validation.TaskInfo
        The task being searched. Its ``image_shape`` decides whether
        ``module__stem`` is searched.

    Returns
    -------
    dict
        The skopt dimensions keyed by skorch parameter names.
    """
    dims = {
        "module__n_stages": Integer(1, 3),
        "module__width": Categorical([16, 32, 64]),
        "module__kernel_size": Categorical([3, 5]),
        "module__pooling": Categorical(list(POOLINGS)),
        "module__dropout": Real(0.0, 0.5),
    }
    shape = getattr(task, "image_shape", None)
    if shape is None or min(shape[-2:]) >= STEM_MIN_SIDE:
        dims["module__stem"] = Categorical(list(STEMS))
    return dims


#: the values the CNN's own numeric parameters may take
BOUNDS = {
    "module__n_stages": Bound(1, integer=True),
    "module__width": Bound(1, integer=True),
    "module__kernel_size": Bound(1, integer=True),
    "module__dropout": Bound(0, 1, high_open=True),
}

#: the coarse grid ``search="grid"`` runs on the default space (each list
#: holds the default, so the grid starts at the family's default config)
GRID = {
    "module__n_stages": [2, 3],
    "module__width": [16, 32],
    "module__kernel_size": [3, 5],
}

#: a known-good point of the CNN's space
DEFAULTS = {
    "module__n_stages": 3,
    "module__width": 16,
    "module__kernel_size": 3,
    "module__pooling": "max",
    "module__dropout": 0.1,
    "module__stem": "pool",
}


def applies(task):
    """Tell whether the CNN fits ``task``: image inputs only.

    Parameters
    ----------
    task : skautodl.data.validation.TaskInfo
        The task being searched.

    Returns
    -------
    bool
        True for image input.
    """
    return task.input_kind == "image"
