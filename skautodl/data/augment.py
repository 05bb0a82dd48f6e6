"""Batch augmentations in torch: mixup, image shifts, flips, rotations, cutout.

Augmentations act on whole mini-batches of tensors and apply to training
batches only: :class:`AugmentedBatchLoader` is a drop-in for skorch's
``iterator_train`` slot, while validation and prediction keep the plain
:class:`~skautodl.data.loaders.TensorBatchLoader`, so scores and predictions
never see augmented data.

Randomness comes from torch's global generator (which each trial seeds) or
from an explicit :class:`torch.Generator`. Random numbers are always drawn
on the CPU and then moved to the batch's device, so the same seed gives the
same augmentation on a CPU and on a GPU.

Mixup on a classifier needs soft targets: with ``n_classes`` given, class
indices are turned into one-hot rows and mixed into class probabilities.
``torch.nn.CrossEntropyLoss`` accepts such float targets of shape
``(n, n_classes)`` (class probabilities) since torch 1.10, so the
classifier's loss needs no change.

Examples
--------
>>> import torch
>>> from skautodl.data.augment import Augmentation
>>> _ = torch.manual_seed(0)
>>> aug = Augmentation(mixup_alpha=0.2, flip=True, image_shape=(1, 4, 4))
>>> X, y = torch.rand(8, 16), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
>>> X_aug, y_soft = aug(X, y, n_classes=3)
>>> X_aug.shape, y_soft.shape, y_soft.dtype
(torch.Size([8, 16]), torch.Size([8, 3]), torch.float32)
>>> bool(torch.allclose(y_soft.sum(dim=1), torch.ones(8)))
True
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from skautodl.data.loaders import TensorBatchLoader

__all__ = [
    "AugmentedBatchLoader",
    "Augmentation",
    "cutout",
    "mixup",
    "random_flip",
    "random_rotation",
    "random_shift",
]


# ---------------------------------------------------------------- helpers
def _rand(shape, generator=None):
    """Uniform [0, 1) floats drawn on the CPU (global or explicit generator)."""
    return torch.rand(shape, generator=generator)


def _randint(low, high, shape, generator=None):
    """Integers in ``[low, high)`` drawn on the CPU."""
    return torch.randint(low, high, shape, generator=generator)


def _randperm(n, generator=None):
    return torch.randperm(n, generator=generator)


def _check_images(X, name):
    if not isinstance(X, torch.Tensor) or X.ndim != 4:
        shape = tuple(X.shape) if hasattr(X, "shape") else type(X).__name__
        raise ValueError(
            f"{name} expects an image batch tensor of shape (n, C, H, W); "
            f"got {shape}"
        )


def _check_float(X, name):
    if not torch.is_floating_point(X):
        raise TypeError(
            f"{name} needs a floating point tensor; got dtype {X.dtype} "
            "(cast the batch with X.float() first)"
        )


def _beta(alpha, size, generator=None):
    """Beta(alpha, alpha) samples as a float64 CPU tensor of shape ``size``.

    torch's Beta distribution cannot take a generator, so a numpy generator
    is seeded from the torch generator: the draw stays a pure function of
    the torch seed.
    """
    seed = int(_randint(0, 2**62, (1,), generator=generator).item())
    rng = np.random.default_rng(seed)
    return torch.as_tensor(rng.beta(alpha, alpha, size=size), dtype=torch.float64)


# ---------------------------------------------------------------- functions
def random_shift(X, max_shift, *, generator=None):
    """Translate each image by a random integer offset, padding with zeros.

    Parameters
    ----------
    X : torch.Tensor of shape (n, C, H, W)
        Image batch (any dtype).
    max_shift : int or tuple of (int, int)
        Largest shift in pixels, the same for both axes or ``(rows, cols)``.
        Each sample draws its own offsets uniformly from
        ``-max_shift..max_shift`` per axis.
    generator : torch.Generator, optional
        CPU generator; torch's global generator when None.

    Returns
    -------
    torch.Tensor
        Same shape, dtype and device as ``X``. A pixel moved out of the image
        is lost; the uncovered border is zero.
    """
    _check_images(X, "random_shift")
    sy, sx = (max_shift, max_shift) if np.isscalar(max_shift) else max_shift
    sy, sx = int(sy), int(sx)
    if sy < 0 or sx < 0:
        raise ValueError(f"max_shift must be >= 0; got {max_shift!r}")
    n, C, H, W = X.shape
    if n == 0 or (sy == 0 and sx == 0):
        return X.clone()
    dy = _randint(-sy, sy + 1, (n,), generator=generator).to(X.device)
    dx = _randint(-sx, sx + 1, (n,), generator=generator).to(X.device)
    return _shift_by(X, dy, dx, sy, sx)


def _shift_by(X, dy, dx, sy, sx):
    """Shift sample ``i`` down by ``dy[i]`` and right by ``dx[i]`` pixels."""
    n, C, H, W = X.shape
    padded = _pad(X, sy, sx)
    dev = X.device
    rows = torch.arange(H, device=dev)[None, :] - dy[:, None] + sy  # (n, H)
    cols = torch.arange(W, device=dev)[None, :] - dx[:, None] + sx  # (n, W)
    return padded[
        torch.arange(n, device=dev)[:, None, None, None],
        torch.arange(C, device=dev)[None, :, None, None],
        rows[:, None, :, None],
        cols[:, None, None, :],
    ]


def _pad(X, sy, sx):
    """Zero-pad the last two axes (works for every dtype, bool included)."""
    n, C, H, W = X.shape
    out = X.new_zeros((n, C, H + 2 * sy, W + 2 * sx))
    out[:, :, sy:sy + H, sx:sx + W] = X
    return out


def random_rotation(X, max_degrees, *, generator=None):
    """Rotate each image by a random angle about its centre.

    Parameters
    ----------
    X : torch.Tensor of shape (n, C, H, W)
        Floating point image batch.
    max_degrees : float
        Each sample draws an angle uniformly from
        ``[-max_degrees, max_degrees]``.
    generator : torch.Generator, optional
        CPU generator; torch's global generator when None.

    Returns
    -------
    torch.Tensor
        Same shape, dtype and device as ``X``: bilinear interpolation
        (``torch.nn.functional.affine_grid`` / ``grid_sample``), zeros where
        the rotated image does not cover the frame. The rotation is in pixel
        space, so non-square images are not sheared.
    """
    _check_images(X, "random_rotation")
    _check_float(X, "random_rotation")
    n, C, H, W = X.shape
    if n == 0 or max_degrees == 0:
        return X.clone()
    angle = (_rand((n,), generator=generator) * 2 - 1) * math.radians(
        float(max_degrees))
    cos, sin = torch.cos(angle), torch.sin(angle)
    zero = torch.zeros_like(angle)
    # rotation in pixel units, expressed in affine_grid's normalized coords
    theta = torch.stack([
        torch.stack([cos, -sin * H / W, zero], dim=1),
        torch.stack([sin * W / H, cos, zero], dim=1),
    ], dim=1).to(device=X.device, dtype=X.dtype)
    grid = F.affine_grid(theta, list(X.shape), align_corners=False)
    return F.grid_sample(X, grid, mode="bilinear", padding_mode="zeros",
                         align_corners=False)


def random_flip(X, p=0.5, *, generator=None):
    """Mirror each image left-right with probability ``p``.

    Parameters
    ----------
    X : torch.Tensor of shape (n, C, H, W)
        Image batch (any dtype).
    p : float
        Probability that a sample is flipped.
    generator : torch.Generator, optional
        CPU generator; torch's global generator when None.

    Returns
    -------
    torch.Tensor
        Same shape, dtype and device as ``X``.
    """
    _check_images(X, "random_flip")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1]; got {p!r}")
    n = X.shape[0]
    mask = (_rand((n,), generator=generator) < p).to(X.device)
    return torch.where(mask[:, None, None, None], X.flip(-1), X)


def cutout(X, size, *, generator=None):
    """Zero one random ``size`` x ``size`` square per image (all channels).

    Parameters
    ----------
    X : torch.Tensor of shape (n, C, H, W)
        Image batch (any dtype).
    size : int
        Side of the square, clipped to the image's height and width. The
        square is placed uniformly at random fully inside the image, so each
        sample loses exactly ``size * size`` pixels per channel.
    generator : torch.Generator, optional
        CPU generator; torch's global generator when None.

    Returns
    -------
    torch.Tensor
        Same shape, dtype and device as ``X``.
    """
    _check_images(X, "cutout")
    n, C, H, W = X.shape
    size = int(size)
    if size < 0:
        raise ValueError(f"size must be >= 0; got {size}")
    sh, sw = min(size, H), min(size, W)
    if n == 0 or sh == 0 or sw == 0:
        return X.clone()
    top = _randint(0, H - sh + 1, (n,), generator=generator).to(X.device)
    left = _randint(0, W - sw + 1, (n,), generator=generator).to(X.device)
    rows = torch.arange(H, device=X.device)[None, :]
    cols = torch.arange(W, device=X.device)[None, :]
    in_rows = (rows >= top[:, None]) & (rows < top[:, None] + sh)  # (n, H)
    in_cols = (cols >= left[:, None]) & (cols < left[:, None] + sw)  # (n, W)
    hole = in_rows[:, None, :, None] & in_cols[:, None, None, :]
    return X.masked_fill(hole, 0)


def mixup(X, y, alpha, *, n_classes=None, per_sample=False, generator=None,
          return_params=False):
    """Mix each sample with another one of the batch (mixup).

    ``X_mix = lam * X + (1 - lam) * X[perm]`` and likewise for the targets,
    with ``lam ~ Beta(alpha, alpha)`` and ``perm`` a random permutation of
    the batch.

    Parameters
    ----------
    X : torch.Tensor of shape (n, ...)
        Floating point batch: tabular ``(n, d)``, images, anything.
    y : torch.Tensor or None
        Targets: float values ``(n,)`` / ``(n, k)`` (regression, one-hot or
        soft labels), or int class indices ``(n,)`` together with
        ``n_classes``. None mixes only ``X``.
    alpha : float
        Beta concentration, > 0. Small values (0.1-0.4) keep most mixes
        close to one of the two samples.
    n_classes : int, optional
        Turn integer class indices into one-hot rows before mixing, so the
        result is a float matrix of class probabilities ``(n, n_classes)``
        whose rows sum to 1 (``CrossEntropyLoss`` accepts it as target in
        torch >= 1.10).
    per_sample : bool
        One ``lam`` per sample instead of one per batch.
    generator : torch.Generator, optional
        CPU generator; torch's global generator when None.
    return_params : bool
        Also return ``lam`` (a 0-d tensor, or ``(n,)`` when ``per_sample``)
        and ``perm``.

    Returns
    -------
    X_mix : torch.Tensor
        Same shape, dtype and device as ``X``.
    y_mix : torch.Tensor or None
        Float targets: ``y``'s dtype when it is floating point, else ``X``'s.
    lam, perm : torch.Tensor
        Only with ``return_params=True``.
    """
    if alpha <= 0:
        raise ValueError(f"alpha must be > 0; got {alpha!r}")
    _check_float(X, "mixup")
    n = X.shape[0]
    if y is not None:
        if len(y) != n:
            raise ValueError(f"X has {n} samples but y has {len(y)}")
        if not torch.is_floating_point(y):
            if n_classes is None:
                raise ValueError(
                    "mixup of integer class indices needs n_classes (to mix "
                    "one-hot rows into soft labels); pass n_classes, or float "
                    "one-hot targets"
                )
            y = F.one_hot(y.long(), int(n_classes)).to(X.dtype)
    perm = _randperm(n, generator=generator)
    lam = _beta(float(alpha), (n,) if per_sample else (), generator=generator)
    perm = perm.to(X.device)
    lam_x = lam.to(device=X.device, dtype=X.dtype)
    lx = lam_x.reshape((-1,) + (1,) * (X.ndim - 1)) if per_sample else lam_x
    X_mix = lx * X + (1 - lx) * X[perm]
    y_mix = None
    if y is not None:
        lam_y = lam.to(device=y.device, dtype=y.dtype)
        ly = lam_y.reshape((-1,) + (1,) * (y.ndim - 1)) if per_sample else lam_y
        y_mix = ly * y + (1 - ly) * y[perm.to(y.device)]
    if return_params:
        return X_mix, y_mix, lam_x, perm
    return X_mix, y_mix


# ---------------------------------------------------------------- config
class Augmentation:
    """Which batch augmentations to apply, and how strongly; all off by default.

    Picklable and cheap to copy. Calling it applies the enabled image
    augmentations in a fixed order (flip, shift, rotation, cutout) and then
    mixup.

    Parameters
    ----------
    mixup_alpha : float
        Beta concentration of :func:`mixup`; 0 disables it.
    shift : int
        ``max_shift`` of :func:`random_shift`; 0 disables it.
    rotation : float
        ``max_degrees`` of :func:`random_rotation`; 0 disables it.
    flip : bool
        Horizontal flips with probability 0.5 (:func:`random_flip`).
    cutout : int
        Side of the :func:`cutout` square; 0 disables it.
    image_shape : tuple of (int, int, int), optional
        ``(C, H, W)`` of flat image rows ``(n, C * H * W)``: they are
        reshaped for the image augmentations and flattened back. Not needed
        for batches that already are ``(n, C, H, W)`` (or ``(n, H, W)``).
    mixup_per_sample : bool
        One mixup weight per sample instead of one per batch.

    Notes
    -----
    With mixup enabled and ``n_classes`` given to :meth:`__call__`, integer
    class indices come back as float soft labels ``(n, n_classes)``;
    ``torch.nn.CrossEntropyLoss`` takes class probabilities as targets since
    torch 1.10. Without mixup the targets are returned untouched.
    """

    def __init__(self, mixup_alpha=0.0, shift=0, rotation=0.0, flip=False,
                 cutout=0, image_shape=None, mixup_per_sample=False):
        self.mixup_alpha = mixup_alpha
        self.shift = shift
        self.rotation = rotation
        self.flip = flip
        self.cutout = cutout
        self.image_shape = image_shape
        self.mixup_per_sample = mixup_per_sample

    _PARAMS = ("mixup_alpha", "shift", "rotation", "flip", "cutout",
               "image_shape", "mixup_per_sample")

    def get_params(self, deep=True):
        """Return the constructor parameters (scikit-learn's convention).

        Parameters
        ----------
        deep : bool, default=True
            Ignored: an augmentation has no nested objects.

        Returns
        -------
        dict
            Parameter names mapped to their values.
        """
        return {name: getattr(self, name) for name in self._PARAMS}

    def set_params(self, **params):
        """Set constructor parameters.

        Parameters
        ----------
        **params
            New values, keyed by constructor parameter name.

        Returns
        -------
        Augmentation
            The augmentation itself.

        Raises
        ------
        ValueError
            For a name that is not a constructor parameter.
        """
        for name, value in params.items():
            if name not in self._PARAMS:
                raise ValueError(f"invalid parameter {name!r} for Augmentation")
            setattr(self, name, value)
        return self

    def __repr__(self):
        default = Augmentation()
        changed = [f"{k}={v!r}" for k, v in self.get_params().items()
                   if v != getattr(default, k)]
        return f"Augmentation({', '.join(changed)})"

    def __eq__(self, other):
        return type(other) is type(self) and self.get_params() == other.get_params()

    def __hash__(self):
        return hash(tuple(sorted((k, repr(v)) for k, v in self.get_params().items())))

    @property
    def uses_images(self):
        """Whether any image augmentation is enabled."""
        return bool(self.flip or self.shift or self.rotation or self.cutout)

    @property
    def enabled(self):
        """Whether any augmentation is enabled."""
        return self.uses_images or bool(self.mixup_alpha)

    def _augment_images(self, X, generator):
        if self.flip:
            X = random_flip(X, 0.5, generator=generator)
        if self.shift:
            X = random_shift(X, self.shift, generator=generator)
        if self.rotation:
            X = random_rotation(X, self.rotation, generator=generator)
        if self.cutout:
            X = cutout(X, self.cutout, generator=generator)
        return X

    def __call__(self, X, y=None, n_classes=None, *, generator=None):
        """Augment one training batch.

        Parameters
        ----------
        X : torch.Tensor
            ``(n, C, H, W)``, ``(n, H, W)`` or, with ``image_shape``, flat rows
            ``(n, C * H * W)``; tabular ``(n, d)`` for mixup alone.
        y : torch.Tensor, optional
            Targets (see :func:`mixup`).
        n_classes : int, optional
            Number of classes of a classifier: with mixup, integer targets
            become float soft labels ``(n, n_classes)``.
        generator : torch.Generator, optional
            CPU generator; torch's global generator when None.

        Returns
        -------
        X_aug : torch.Tensor
            Same shape and dtype as ``X``.
        y_aug : torch.Tensor or None
            ``y`` itself without mixup; mixed float targets with it.
        """
        if self.uses_images:
            shape = tuple(X.shape)
            if X.ndim == 4:
                imgs = X
            elif X.ndim == 3:
                imgs = X[:, None]
            elif X.ndim == 2 and self.image_shape is not None:
                c, h, w = (int(s) for s in self.image_shape)
                if shape[1] != c * h * w:
                    raise ValueError(
                        f"image_shape={tuple(self.image_shape)} needs rows of "
                        f"{c * h * w} values; got {shape[1]}"
                    )
                imgs = X.reshape(shape[0], c, h, w)
            else:
                raise ValueError(
                    f"image augmentations need batches of shape (n, C, H, W) or "
                    f"(n, H, W), or flat rows with image_shape; got {shape}"
                )
            X = self._augment_images(imgs, generator).reshape(shape)
        if self.mixup_alpha:
            X, y = mixup(X, y, self.mixup_alpha, n_classes=n_classes,
                         per_sample=self.mixup_per_sample, generator=generator)
        return X, y


# ---------------------------------------------------------------- loader
class AugmentedBatchLoader(TensorBatchLoader):
    """:class:`~skautodl.data.loaders.TensorBatchLoader` that augments batches.

    Meant for skorch's ``iterator_train`` slot only, so that augmentation
    never touches validation or prediction batches (those go through
    ``iterator_valid``)::

        net.set_params(iterator_train=AugmentedBatchLoader,
                       iterator_train__augmentation=Augmentation(mixup_alpha=0.2),
                       iterator_train__n_classes=n_classes)

    Parameters
    ----------
    dataset : skorch.dataset.Dataset
        Holds ``X`` (and ``y``, or None): arrays or tensors of whole data.
    batch_size : int, default=128
        Rows per batch (the last one may be smaller).
    shuffle : bool, default=False
        Draw the rows in a random order each epoch.
    drop_last : bool, default=False
        Drop the last, incomplete batch.
    augmentation : callable, optional
        ``augmentation(X, y, n_classes=...) -> (X, y)``, usually an
        :class:`Augmentation`; None (or an augmentation with nothing
        enabled) yields the batches unchanged.
    n_classes : int, optional
        Number of classes of a classifier, needed by mixup to make soft labels
        from class indices.
    generator : torch.Generator, optional
        CPU generator for the augmentations; torch's global generator (which
        each trial seeds) when None. Shuffling always uses the global one.
    **kwargs
        Accepted and ignored, like ``TensorBatchLoader`` does.
    """

    def __init__(self, dataset, batch_size=128, shuffle=False, drop_last=False,
                 augmentation=None, n_classes=None, generator=None, **kwargs):
        super().__init__(dataset, batch_size=batch_size, shuffle=shuffle,
                         drop_last=drop_last, **kwargs)
        self.augmentation = augmentation
        self.n_classes = None if n_classes is None else int(n_classes)
        self.generator = generator

    def __iter__(self):
        aug = self.augmentation
        if aug is None or not getattr(aug, "enabled", True):
            yield from super().__iter__()
            return
        for X, y in super().__iter__():
            yield aug(X, y, n_classes=self.n_classes, generator=self.generator)
