"""A small residual CNN for images.

Inputs arrive as flat float32 rows (the image featurizer normalizes each
channel and flattens); the module reshapes them to ``(n, C, H, W)``.
"""

from __future__ import annotations

from skopt.space import Categorical, Integer, Real
from torch import nn

POOLINGS = ("max", "avg")


class _ResidualBlock(nn.Module):
    def __init__(self, channels, kernel_size):
        super().__init__()
        pad = kernel_size // 2
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, kernel_size, padding=pad, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.Conv2d(channels, channels, kernel_size, padding=pad, bias=False),
            nn.BatchNorm2d(channels),
        )
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(x + self.body(x))


class ResidualCNN(nn.Module):
    """Stem convolution, ``n_stages`` residual stages, global pooling, linear head.

    Each stage is a residual block (two convolutions with batch norm and a
    skip connection); between stages a 1x1 convolution doubles the channels
    and a 2x2 pooling halves the resolution (while it is at least 4 pixels).

    Parameters
    ----------
    n_inputs : int
        ``C * H * W`` (flat input width).
    n_outputs : int
        Classes (logits) or regression targets.
    image_shape : tuple of int
        ``(C, H, W)``.
    n_stages : int, default=2
    width : int, default=32
        Channels of the first stage.
    kernel_size : {3, 5}, default=3
    pooling : {"max", "avg"}, default="max"
    dropout : float, default=0.1
        Before the linear head.
    """

    def __init__(self, n_inputs, n_outputs, image_shape, n_stages=2, width=32,
                 kernel_size=3, pooling="max", dropout=0.1):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}; got {pooling!r}.")
        channels, height, width_px = (int(v) for v in image_shape)
        if channels * height * width_px != n_inputs:
            raise ValueError(
                f"image_shape {tuple(image_shape)} holds {channels * height * width_px}"
                f" values, but the input has {n_inputs} features."
            )
        self.image_shape = (channels, height, width_px)
        pool = nn.MaxPool2d if pooling == "max" else nn.AvgPool2d
        c = int(width)
        layers = [nn.Conv2d(channels, c, kernel_size, padding=kernel_size // 2,
                            bias=False),
                  nn.BatchNorm2d(c), nn.ReLU()]
        size = min(height, width_px)
        for stage in range(int(n_stages)):
            layers.append(_ResidualBlock(c, kernel_size))
            if stage < int(n_stages) - 1:
                layers += [nn.Conv2d(c, 2 * c, 1, bias=False), nn.BatchNorm2d(2 * c),
                           nn.ReLU()]
                c *= 2
                if size >= 4:
                    layers.append(pool(2))
                    size //= 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Dropout(float(dropout)), nn.Linear(c, n_outputs))

    def forward(self, X):
        return self.head(self.features(X.reshape(-1, *self.image_shape)))


def space(task):
    """The CNN's own hyperparameters."""
    return {
        "module__n_stages": Integer(1, 3),
        "module__width": Categorical([16, 32, 64]),
        "module__kernel_size": Categorical([3, 5]),
        "module__pooling": Categorical(list(POOLINGS)),
        "module__dropout": Real(0.0, 0.5),
    }


#: a known-good point of the CNN's space
DEFAULTS = {
    "module__n_stages": 2,
    "module__width": 32,
    "module__kernel_size": 3,
    "module__pooling": "max",
    "module__dropout": 0.1,
}


def applies(task):
    """The CNN fits image inputs."""
    return task.input_kind == "image"
