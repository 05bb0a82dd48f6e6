"""Build a skorch net from a trial config.

A trial config is one flat dict whose keys are skorch's own parameter names
(``lr``, ``max_epochs``, ``batch_size``, ``optimizer__weight_decay``,
``module__n_layers``, ``callbacks__early_stopping__patience``...) plus
``family``. :func:`build_net` adds what depends on the data (input width,
outputs, classes) and the fixed training recipe: AdamW, a cosine learning
rate schedule, gradient clipping, early stopping on the validation split.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import functools
import inspect
import math
import threading
import weakref

import numpy as np
import torch
from skorch import NeuralNet, NeuralNetClassifier, NeuralNetRegressor
from skorch.callbacks import EarlyStopping, GradientNormClipping
from skorch.dataset import Dataset
from torch.optim.lr_scheduler import CosineAnnealingLR, LambdaLR, OneCycleLR

from skautodl.data.augment import Augmentation, AugmentedBatchLoader
from skautodl.data.loaders import TensorBatchLoader
from skautodl.networks.registry import get_family
from skautodl.search.space import TRAINING_DEFAULTS
from skautodl.training.callbacks import (
    CycleFitter,
    DivergenceGuard,
    LRSchedule,
    PruningReporter,
    TimeLimit,
)
from skautodl.training.precision import MixedPrecisionMixin
from skautodl.utils._console import write_line

#: the optimizer every trial trains with (``optimizer__*`` keys route to it)
OPTIMIZER = torch.optim.AdamW
#: rows per validation batch of a tabular net (at least its training batch)
VALID_BATCH_ROWS = 4096
#: options of the tabular featurizer a config may set (``featurize__*``)
FEATURIZE_OPTIONS = ("numeric_scaling",)


def routed_parameters(families):
    """List the names each routed prefix of a config accepts, for ``families``.

    The table the typo check of ``search_space`` keys reads
    (:func:`skautodl.search.space.check_names`): ``module__`` the searched
    families' module arguments (those filled from the data excluded),
    ``optimizer__`` the optimizer's, ``augment__`` the batch augmentation's,
    ``featurize__`` the featurizer's per-trial options; a tree family's
    prefix (``hgb__``) its booster's arguments.

    Parameters
    ----------
    families : list of skautodl.networks.registry.Family
        The searched families.

    Returns
    -------
    dict of str to set of str
        ``{prefix: accepted names}``.
    """
    from skautodl.networks import hgb

    def args(*classes):
        return set().union(*(inspect.signature(c).parameters for c in classes))

    networks = [f for f in families if not f.is_tree]
    data_params = set().union(*(f.data_params for f in networks))
    routed = {
        "module__": args(*(f.module for f in networks))
        - {"n_inputs", "n_outputs"} - data_params,
        "optimizer__": args(OPTIMIZER) - {"params"},
        "augment__": args(Augmentation) - {"image_shape"},
        "featurize__": set(FEATURIZE_OPTIONS),
    }
    if any(f.name == "hgb" for f in families):
        routed[hgb.PREFIX] = hgb.booster_parameters()
    return routed


def _float32(X):
    if isinstance(X, torch.Tensor):
        return X.float()
    if isinstance(X, Dataset):
        return X
    return np.ascontiguousarray(X, dtype=np.float32)


#: inference copies of fitted modules: {module_: ((weights key, dtype), copy)}
_INFERENCE = weakref.WeakKeyDictionary()
_INFERENCE_LOCK = threading.Lock()
#: set inside :func:`float32_inference`: predictions on the CPU compute in
#: float32 instead of float64
_FLOAT32_INFERENCE = contextvars.ContextVar("skautodl_float32_inference",
                                            default=False)


@contextlib.contextmanager
def float32_inference():
    """Predict in float32 on the CPU inside the block (in this thread only).

    Outside it a net predicts in float64 (:func:`inference_module`), so that
    its predictions never depend on the other rows of a batch. A trial's
    scoring pass over a large validation split needs no such guarantee (its
    outputs rank trials and feed the ensemble selection, where a difference
    of 1e-7 matters only in an exact tie) and takes about half the time in
    float32: :func:`~skautodl.training.trial.run_trial` scores in this
    block above :data:`~skautodl.training.trial.MONITOR_ROWS` validation
    rows. The outputs are returned as float64 arrays all the same.

    Yields
    ------
    None

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skautodl.training.net import AutoNetRegressor, float32_inference
    >>> net = AutoNetRegressor(torch.nn.Linear(3, 1), max_epochs=1, verbose=0,
    ...                        train_split=None)
    >>> X = np.random.RandomState(0).rand(10, 3).astype(np.float32)
    >>> _ = net.fit(X, X.sum(axis=1))
    >>> with float32_inference():
    ...     fast = net.predict(X)
    >>> fast.dtype, bool(np.allclose(fast, net.predict(X), atol=1e-5))
    (dtype('float64'), True)
    """
    token = _FLOAT32_INFERENCE.set(True)
    try:
        yield
    finally:
        _FLOAT32_INFERENCE.reset(token)


def _weights_key(module):
    """Changes whenever a parameter or buffer of ``module`` is written to."""
    return tuple((id(t), t._version) for t in (*module.parameters(),
                                               *module.buffers()))


def is_quantized(net):
    """Tell whether ``net``'s module holds int8 layers (:mod:`skautodl.compression`).

    torch's dynamically quantized layers compute in float32 only: such a
    module cannot be cast to float64, so it predicts in float32.

    Parameters
    ----------
    net : skorch.NeuralNet
        A fitted net.

    Returns
    -------
    bool
        Whether its ``compression_`` record says it was quantized.
    """
    return bool((getattr(net, "compression_", None) or {}).get("quantized"))


def inference_module(net, dtype=torch.float64):
    """Return a float64 (or ``dtype``) eval-mode copy of ``net.module_``, made once.

    Predicting never touches the fitted module itself (no dtype cast, no
    ``eval()``), so a fitted net can serve predictions from several threads
    at once while its weights stay bit-identical. The copy is remade when
    the module's weights change (continued training bumps the tensors'
    version counters) and dropped with the module. A quantized module
    (:func:`is_quantized`) is copied as it is, in float32.

    Parameters
    ----------
    net : skorch.NeuralNet
        A fitted net.
    dtype : torch.dtype, default=torch.float64
        The copy's floating-point type (float32 inside
        :func:`float32_inference`); the copy is remade when it changes.

    Returns
    -------
    torch.nn.Module
        The copy, without gradients.
    """
    module = net.module_
    key = (_weights_key(module), dtype)
    with _INFERENCE_LOCK:
        cached = _INFERENCE.get(module)
        if cached is None or cached[0] != key:
            inference = copy.deepcopy(module).eval()
            if not is_quantized(net):
                inference = inference.to(dtype)
            for p in inference.parameters():
                p.requires_grad_(False)
            cached = _INFERENCE[module] = (key, inference)
    return cached[1]


def drop_inference_copy(net):
    """Forget the inference copy :func:`inference_module` made for ``net``.

    A trial's nets predict once, on the validation split, and then wait
    (for a promotion, or to become ensemble members) holding that copy: a
    float64 copy is twice the memory of the float32 weights, for every net
    the search keeps (k per trial under ``cv=k``). The next prediction
    makes it again.

    Parameters
    ----------
    net : skorch.NeuralNet or tree model
        A fitted net (a model without ``module_`` is left alone).

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skautodl.training import net as nets
    >>> net = nets.AutoNetRegressor(torch.nn.Linear(3, 1), max_epochs=1, verbose=0,
    ...                             train_split=None)
    >>> X = np.ones((4, 3), dtype=np.float32)
    >>> _ = net.fit(X, X.sum(axis=1)).predict(X)
    >>> net.module_ in nets._INFERENCE
    True
    >>> nets.drop_inference_copy(net)
    >>> net.module_ in nets._INFERENCE
    False
    """
    module = getattr(net, "module_", None)
    if module is not None:
        with _INFERENCE_LOCK:
            _INFERENCE.pop(module, None)


def _forward64(net, X):
    """Network outputs computed in float64 on the CPU, or None on a GPU.

    Predictions must not depend on which other rows share a batch (float32
    matrix products sum in an order that depends on the batch's shape, which
    moves results by ~1e-7), so the forward pass runs in float64 (exact for
    float32 weights), on a separate copy of the module
    (:func:`inference_module`); in float32 inside :func:`float32_inference`.
    """
    if str(net.device).startswith("cuda"):
        return None
    net.check_is_fitted()
    X = _float32(X)
    if isinstance(X, Dataset):
        return None
    # a quantized module computes in float32 (its outputs are returned as
    # float64 all the same), as does any inside float32_inference(); every
    # other module in float64
    dtype = (torch.float32 if is_quantized(net) or _FLOAT32_INFERENCE.get()
             else torch.float64)
    module = inference_module(net, dtype)
    X = torch.as_tensor(X)
    with torch.no_grad():
        bs = max(1, int(net.batch_size))
        if X.ndim == 2 and X.shape[1] <= 1024:
            # table rows: batches of at least 1,024 rows (per-batch overhead
            # dominates a small net's forward pass); 4,096 predicted no
            # faster and an embed net's float64 temporaries took 400 MB
            # more on a million rows; images keep the training batch
            bs = max(bs, 1024)
        outs = [module(X[i:i + bs].to(dtype)).double()
                for i in range(0, len(X), bs)]
    return torch.cat(outs) if outs else torch.empty((0,), dtype=torch.float64)


class AutoNetClassifier(MixedPrecisionMixin, NeuralNetClassifier):
    """A skorch classifier that trains on class indices and predicts labels.

    ``fit`` takes ``y`` as class indices ``0..k-1`` (int64) and ``classes``
    holds the user's labels, so ``predict`` returns those labels and
    ``predict_proba``'s columns follow ``classes_``. Inputs are cast to
    float32 whatever their dtype.

    Parameters
    ----------
    *args
        The arguments of skorch's ``NeuralNetClassifier`` (``module``,
        ``criterion``...); :func:`build_net` sets them.
    precision : {"auto", "fp32", "bf16", "fp16"}, default="auto"
        Mixed precision on CUDA (see :class:`MixedPrecisionMixin`).
    **kwargs
        More arguments of skorch's ``NeuralNetClassifier`` (``max_epochs``,
        ``callbacks``...).
    """

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Train for ``max_epochs`` more epochs.

        ``fit`` re-initializes the net and then calls this, so both paths
        cast the data here.

        Parameters
        ----------
        X : array-like, torch.Tensor or skorch Dataset
            Featurized rows (cast to float32).
        y : array-like or None, default=None
            Class indices ``0..k-1``.
        classes : array-like or None, default=None
            Passed on to skorch (unused by this net).
        **fit_params
            Passed on to skorch's ``partial_fit``.

        Returns
        -------
        object
            The net itself.
        """
        y = None if y is None else np.asarray(y, dtype=np.int64)
        return super().partial_fit(_float32(X), y, classes=classes, **fit_params)

    def predict_proba(self, X):
        """Predict class probabilities, computed in float64 on the CPU.

        Parameters
        ----------
        X : array-like, torch.Tensor or skorch Dataset
            Featurized rows (cast to float32).

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Softmax of the logits, columns in the order of ``classes``
            (float32 through skorch on a GPU, renormalized in float64).
        """
        logits = _forward64(self, X)
        if logits is None:  # on a GPU: float32 through skorch
            proba = super().predict_proba(_float32(X)).astype(np.float64)
            return proba / proba.sum(axis=1, keepdims=True)
        return torch.softmax(logits, dim=1).numpy()

    def predict(self, X):
        """Predict the user's labels.

        Parameters
        ----------
        X : array-like, torch.Tensor or skorch Dataset
            Featurized rows (cast to float32).

        Returns
        -------
        ndarray of shape (n_samples,)
            The label of highest probability.
        """
        idx = self.predict_proba(X).argmax(axis=1)
        return np.asarray(self.classes_)[idx]


class AutoNetMultilabel(MixedPrecisionMixin, NeuralNet):
    """A skorch net with one sigmoid output per label (multi-label classification).

    ``fit`` takes the label-indicator matrix (n_samples, n_labels) of 0/1
    and trains the shared network with ``BCEWithLogitsLoss``;
    ``predict_proba`` returns the (n_samples, n_labels) matrix of each
    label's probability and ``predict`` the indicator matrix (a label is on
    above 0.5), in ``label_dtype``.

    Parameters
    ----------
    module : type or torch.nn.Module
        The network, as for any skorch net.
    criterion : type, default=torch.nn.BCEWithLogitsLoss
        The loss.
    label_dtype : str, default="int64"
        The dtype of ``predict``'s indicator matrix (that of the training
        labels).
    **kwargs
        The arguments of skorch's ``NeuralNet``, and ``precision`` (see
        :class:`MixedPrecisionMixin`).
    """

    def __init__(self, module, criterion=torch.nn.BCEWithLogitsLoss, *,
                 label_dtype="int64", **kwargs):
        super().__init__(module, criterion, **kwargs)
        self.label_dtype = label_dtype

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Train for ``max_epochs`` more epochs.

        ``fit`` re-initializes the net and then calls this, so both paths
        cast the data here.

        Parameters
        ----------
        X : array-like, torch.Tensor or skorch Dataset
            Featurized rows (cast to float32).
        y : array-like or None, default=None
            The label-indicator matrix of 0/1 (cast to float32).
        classes : array-like or None, default=None
            Passed on to skorch (unused by this net).
        **fit_params
            Passed on to skorch's ``partial_fit``.

        Returns
        -------
        object
            The net itself.
        """
        y = None if y is None else np.asarray(y, dtype=np.float32)
        return super().partial_fit(_float32(X), y, classes=classes, **fit_params)

    def predict_proba(self, X):
        """Predict each label's probability.

        Parameters
        ----------
        X : array-like, torch.Tensor or skorch Dataset
            Featurized rows (cast to float32).

        Returns
        -------
        ndarray of shape (n_samples, n_labels)
            Sigmoid of the logits.
        """
        logits = _forward64(self, X)
        if logits is None:  # on a GPU: float32 through skorch
            logits = torch.as_tensor(
                self.forward(_float32(X), training=False)).double()
        return torch.sigmoid(logits).cpu().numpy()

    def predict(self, X):
        """Predict the indicator matrix: a label is on above probability 0.5.

        Parameters
        ----------
        X : array-like, torch.Tensor or skorch Dataset
            Featurized rows (cast to float32).

        Returns
        -------
        ndarray of shape (n_samples, n_labels)
            0/1 in ``label_dtype``.
        """
        return (self.predict_proba(X) > 0.5).astype(self.label_dtype)


def target_stats(y2):
    """Compute the per-column mean and scale (std, 1 where constant) of targets.

    One definition for the regressor's training scale and the validation
    targets, which must be standardized the same way. Computed in float64
    whatever the input's dtype: float32 sums and squares of targets near
    float32's limit (1e37 and up) overflow. A column is constant when its
    std is within rounding of its magnitude (relative, so tiny targets such
    as 1e-15 still get their own scale).

    Parameters
    ----------
    y2 : array-like of shape (n_samples, n_outputs)
        The targets, 2-D.

    Returns
    -------
    mean : ndarray of shape (n_outputs,)
        Column means.
    scale : ndarray of shape (n_outputs,)
        Column standard deviations, 1 for constant columns.

    Examples
    --------
    >>> import numpy as np
    >>> from skautodl.training.net import target_stats
    >>> target_stats(np.array([[1.0, 5.0], [3.0, 5.0]]))
    (array([2., 5.]), array([1., 1.]))
    """
    y2 = np.asarray(y2, dtype=np.float64)
    mean = y2.mean(axis=0)
    scale = y2.std(axis=0)
    size = np.abs(y2).max(axis=0) if len(y2) else np.zeros_like(scale)
    constant = ~(scale > 16 * np.finfo(np.float64).eps * size)
    return mean, np.where(constant, 1.0, scale)


class AutoNetRegressor(MixedPrecisionMixin, NeuralNetRegressor):
    """A skorch regressor with internal target standardization and 1-D targets.

    ``fit`` learns the mean and scale of each target column and trains the
    network on standardized targets (the loss is computed on that scale, so
    learning rates transfer across data sets); ``predict`` maps outputs back
    to the user's units and returns a 1-D array when ``y`` was 1-D.

    Parameters
    ----------
    *args
        The arguments of skorch's ``NeuralNetRegressor`` (``module``,
        ``criterion``...); :func:`build_net` sets them.
    precision : {"auto", "fp32", "bf16", "fp16"}, default="auto"
        Mixed precision on CUDA (see :class:`MixedPrecisionMixin`).
    **kwargs
        More arguments of skorch's ``NeuralNetRegressor`` (``max_epochs``,
        ``callbacks``...).

    Attributes
    ----------
    target_mean_, target_scale_ : ndarray of shape (n_outputs,)
        The training targets' column means and scales
        (:func:`target_stats`).
    target_ndim_ : int
        Dimensions of the training ``y`` (1 or 2).
    """

    def fit(self, X, y=None, **fit_params):
        """Fit from scratch, learning new target statistics.

        Parameters
        ----------
        X : array-like, torch.Tensor or skorch Dataset
            Featurized rows (cast to float32).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The targets, in the user's units.
        **fit_params
            Passed on to skorch's ``fit``.

        Returns
        -------
        AutoNetRegressor
            The fitted net itself.
        """
        # a new fit learns new target statistics; partial_fit keeps them
        for name in ("target_mean_", "target_scale_", "target_ndim_"):
            self.__dict__.pop(name, None)
        return super().fit(X, y, **fit_params)

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Train for ``max_epochs`` more epochs on standardized targets.

        ``fit`` re-initializes the net and then calls this, so both paths
        cast the data here.

        Parameters
        ----------
        X : array-like, torch.Tensor or skorch Dataset
            Featurized rows (cast to float32).
        y : array-like or None, default=None
            The targets in the user's units, standardized with the statistics of
            the first fit.
        classes : array-like or None, default=None
            Passed on to skorch (unused by this net).
        **fit_params
            Passed on to skorch's ``partial_fit``.

        Returns
        -------
        object
            The net itself.
        """
        # standardized in float64, then cast: the network trains in float32
        y = np.asarray(y, dtype=np.float64)
        y2 = y.reshape(len(y), -1)
        if not hasattr(self, "target_mean_"):
            self.target_ndim_ = y.ndim
            self.target_mean_, self.target_scale_ = target_stats(y2)
        y_std = (y2 - self.target_mean_) / self.target_scale_
        return super().partial_fit(_float32(X),
                                   np.ascontiguousarray(y_std, dtype=np.float32),
                                   classes=classes, **fit_params)

    def predict_proba(self, X):
        """Return the network's raw outputs (standardized values).

        skorch's name for the forward pass; :meth:`predict` maps the
        outputs back to the user's units.

        Parameters
        ----------
        X : array-like, torch.Tensor or skorch Dataset
            Featurized rows (cast to float32).

        Returns
        -------
        ndarray of shape (n_samples, n_outputs)
            The outputs on the standardized scale, float64.
        """
        out = _forward64(self, X)
        if out is None:  # on a GPU: float32 through skorch
            return super().predict_proba(_float32(X)).astype(np.float64)
        return out.numpy()

    def predict(self, X):
        """Predict the targets in the user's units.

        Parameters
        ----------
        X : array-like, torch.Tensor or skorch Dataset
            Featurized rows (cast to float32).

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
            1-D when the training ``y`` was.
        """
        out = self.predict_proba(X) * self.target_scale_.astype(np.float64) + \
            self.target_mean_.astype(np.float64)
        return out.ravel() if self.target_ndim_ == 1 else out


@contextlib.contextmanager
def reuse_outputs(net, X):
    """Compute ``net``'s outputs on ``X`` once and reuse them inside the block.

    A trial scores its net (the scorer calls ``predict`` or
    ``predict_proba``) and keeps its validation predictions; both need the
    same forward pass, which for a CNN on a CPU is a noticeable share of a
    short trial. Only calls with this very ``X`` object are served from the
    cache; the instance is left as it was afterwards.

    Parameters
    ----------
    net : skorch.NeuralNet
        A fitted net.
    X : array-like
        The rows whose outputs are cached.

    Yields
    ------
    ndarray
        ``net.predict_proba(X)``.
    """
    outputs = net.predict_proba(X)
    method = type(net).predict_proba

    @functools.wraps(method)  # scikit-learn's scorers look up __name__
    def cached(X_other):
        return outputs if X_other is X else method(net, X_other)

    net.predict_proba = cached
    try:
        yield outputs
    finally:
        del net.predict_proba


def standardized_valid_dataset(net_cls, X_valid, y_valid, y_train):
    """Build the validation Dataset, its targets on the network's training scale.

    For a regressor the training targets are standardized inside ``fit``;
    the validation loss must use the same scale, computed from ``y_train``.

    Parameters
    ----------
    net_cls : type
        :class:`AutoNetClassifier`, :class:`AutoNetMultilabel` or
        :class:`AutoNetRegressor`.
    X_valid : array-like
        Featurized validation rows.
    y_valid : array-like
        Their targets (class indices, 0/1 labels or values).
    y_train : array-like
        The training targets (a regressor's scale comes from them).

    Returns
    -------
    skorch.dataset.Dataset
        The validation data, float32 rows.
    """
    X_valid = _float32(X_valid)
    if net_cls is AutoNetClassifier:
        return Dataset(X_valid, np.asarray(y_valid, dtype=np.int64))
    if net_cls is AutoNetMultilabel:  # 0/1 targets, as trained
        return Dataset(X_valid, np.asarray(y_valid, dtype=np.float32))
    mean, scale = target_stats(
        np.asarray(y_train, dtype=np.float64).reshape(len(y_train), -1))
    y_v = np.asarray(y_valid, dtype=np.float64).reshape(len(y_valid), -1)
    return Dataset(X_valid, np.ascontiguousarray((y_v - mean) / scale,
                                                 dtype=np.float32))


def restart_lr(net):
    """Reset the learning rate before a continued training (``partial_fit``).

    The cosine schedule ends near zero and torch's scheduler continues from
    the optimizer's current rate, so without this a promoted trial would
    train its new epochs at a rate near zero. Each stretch of training is
    one cosine cycle from the config's ``lr`` (a warm restart, as in SGDR).

    Parameters
    ----------
    net : skorch.NeuralNet
        A fitted net; nothing happens before it has an optimizer.
    """
    if getattr(net, "optimizer_", None) is None:
        return
    for group in net.optimizer_.param_groups:
        group["lr"] = group.get("initial_lr", net.lr)


def set_cycle_length(net, n_epochs):
    """Make the next (partial_)fit of ``net`` one schedule cycle of ``n_epochs``.

    Works for every schedule :func:`build_net` sets up (cosine: ``T_max``;
    one-cycle: ``epochs``; coslog: its :class:`CosLog`'s epochs).

    Parameters
    ----------
    net : skorch.NeuralNet
        A net built by :func:`build_net`.
    n_epochs : int
        The length of the cycle (at least 1).
    """
    n_epochs = max(1, int(n_epochs))
    sched = dict(net.callbacks)["lr_schedule"]
    if sched.policy is OneCycleLR:
        net.set_params(callbacks__lr_schedule__epochs=n_epochs)
    elif sched.policy is LambdaLR:
        net.set_params(callbacks__lr_schedule__lr_lambda=sched.lr_lambda.with_epochs(
            n_epochs))
    else:
        net.set_params(callbacks__lr_schedule__T_max=n_epochs)


class CosLog:
    """RealMLP-TD's ``coslog4`` learning-rate multiplier, per batch.

    ``0.5 * (1 - cos(2 pi log2(1 + (2**cycles - 1) t)))`` for the share
    ``t`` of the training's batches done (Holzmueller et al., NeurIPS 2024):
    ``cycles`` cosine cycles, each twice as long as the one before, from
    and back to zero. A picklable callable for ``LambdaLR``.

    Parameters
    ----------
    epochs : int
        Length of the schedule in epochs.
    steps_per_epoch : int
        Batches per epoch.
    cycles : int, default=4
        Cosine cycles over the schedule.

    Examples
    --------
    >>> from skautodl.training.net import CosLog
    >>> schedule = CosLog(epochs=10, steps_per_epoch=5)
    >>> schedule(0), round(schedule(50), 12)
    (0.0, 0.0)
    """

    def __init__(self, epochs, steps_per_epoch, cycles=4):
        self.epochs = max(1, int(epochs))
        self.steps_per_epoch = max(1, int(steps_per_epoch))
        self.cycles = int(cycles)

    def with_epochs(self, epochs):
        """Return the same schedule stretched over ``epochs``.

        Parameters
        ----------
        epochs : int
            The new length in epochs.

        Returns
        -------
        CosLog
            A new schedule.
        """
        return CosLog(epochs, self.steps_per_epoch, self.cycles)

    def __call__(self, step):
        t = min(1.0, step / (self.epochs * self.steps_per_epoch))
        return 0.5 * (1.0 - math.cos(
            2.0 * math.pi * math.log2(1.0 + (2 ** self.cycles - 1) * t)))

    def __eq__(self, other):
        return isinstance(other, CosLog) and vars(self) == vars(other)

    def __repr__(self):
        return (f"CosLog(epochs={self.epochs}, steps_per_epoch="
                f"{self.steps_per_epoch}, cycles={self.cycles})")


def _schedule(name, lr, t_max, steps_per_epoch):
    """The ``lr_schedule`` callback: a cosine, one-cycle or coslog schedule.

    One-cycle (Smith 2018) warms up from ``lr / 25`` to ``lr`` over the first
    30 % of the batches and anneals to near zero; it steps every batch, so
    its length is ``epochs * steps_per_epoch`` batches. ``coslog4`` is
    RealMLP-TD's schedule (:class:`CosLog`), also per batch. Under AdamW the
    weight decay is applied in proportion to the learning rate, so it
    follows the same schedule.
    """
    if name == "onecycle":
        return LRSchedule(policy=OneCycleLR, max_lr=float(lr), epochs=t_max,
                           steps_per_epoch=max(1, steps_per_epoch),
                           cycle_momentum=False, step_every="batch",
                           last_epoch=-1)
    if name == "coslog4":
        return LRSchedule(policy=LambdaLR, lr_lambda=CosLog(t_max, steps_per_epoch),
                           step_every="batch", last_epoch=-1)
    if name != "cosine":
        raise ValueError(f"lr_schedule must be one of ('cosine', 'onecycle', "
                         f"'coslog4'); got {name!r}.")
    # last_epoch=-1: every (partial_)fit is one full cosine cycle; skorch
    # would otherwise continue the old cycle from the history's length
    return LRSchedule(policy=CosineAnnealingLR, T_max=t_max, last_epoch=-1)


def copy_net(net):
    """Return an independent copy of a fitted net, to continue training on.

    Weights, optimizer state, history and callbacks are copied (through
    skorch's pickling, so it works on any device); the validation data
    the net holds (its ``train_split``) is shared, not copied. Training the
    copy never changes ``net``.

    Parameters
    ----------
    net : skorch.NeuralNet
        A fitted net.

    Returns
    -------
    skorch.NeuralNet
        The copy.
    """
    memo = {}
    split = getattr(net, "train_split", None)
    if split is not None:
        memo[id(split)] = split
    return copy.deepcopy(net, memo)


def release_training_state(net):
    """Free what only further training of ``net`` would use: its optimizer moments.

    AdamW (the optimizer of every trial) keeps two tensors the size of the
    weights for every parameter (``exp_avg`` and ``exp_avg_sq``): a net that
    will not train again would hold three times the memory its predictions
    need, and pickle at three times the size.
    The optimizer itself stays, with its parameter groups and learning
    rates; a later ``partial_fit`` starts from fresh moments, like a new
    AdamW on the trained weights.

    Parameters
    ----------
    net : skorch.NeuralNet or tree model
        A trial's model or an ensemble member (a tree model has no
        optimizer; nothing happens).

    Returns
    -------
    object
        ``net`` itself.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skorch import NeuralNetRegressor
    >>> from skautodl.training.net import release_training_state
    >>> net = NeuralNetRegressor(torch.nn.Linear(2, 1), optimizer=torch.optim.AdamW,
    ...                          max_epochs=1, verbose=0, train_split=None)
    >>> X = np.zeros((8, 2), dtype=np.float32)
    >>> _ = net.fit(X, np.zeros((8, 1), dtype=np.float32))
    >>> len(net.optimizer_.state) > 0
    True
    >>> len(release_training_state(net).optimizer_.state)
    0
    """
    optimizer = getattr(net, "optimizer_", None)
    if optimizer is not None and getattr(optimizer, "state", None):
        optimizer.state.clear()
    return net


def without_validation_data(net):
    """Drop ``net``'s reference to its validation data, before handing it back.

    A trial's net validates on the held-out split through its
    ``train_split``; a model given to the user (and pickled with the
    estimator) must not carry those rows.

    Parameters
    ----------
    net : skorch.NeuralNet or tree model
        A trial's model (a tree model holds no validation data).

    Returns
    -------
    object
        ``net`` itself, its ``train_split`` set to None.
    """
    if hasattr(net, "train_split"):  # a tree model holds no validation data
        net.train_split = None
    return net


def build_net(config, task, n_inputs, *, classes=None, device="cpu", valid=None,
              deadline=None, verbose=0, pruning=None, data_params=None,
              precision="auto"):
    """Return an unfitted skorch net for ``config``.

    Parameters
    ----------
    config : dict
        Trial config (skorch keys plus ``family``).
    task : skautodl.data.validation.TaskInfo
        The task: classification, multi-label or regression, and the
        outputs.
    n_inputs : int
        Featurized input width.
    classes : array-like, optional
        The user's class labels (classifier only).
    device : str, default="cpu"
        Where the net trains.
    valid : skorch Dataset, optional
        Validation data: enables early stopping on it. Without it the net
        trains for exactly ``max_epochs`` epochs (used by the final refit).
    deadline : float, optional
        ``time.time()`` value after which training stops between batches.
    verbose : int, default=0
        The per-epoch log of skorch is shown when it is 2 or more.
    pruning : dict, optional
        Per-epoch validation-loss thresholds for :class:`PruningReporter`.
    data_params : dict, optional
        Module arguments that come from the fitted featurizer (its
        ``module_params_``: the embed family's column layout); only those the
        family declares in ``Family.data_params`` are passed.
    precision : {"auto", "fp32", "bf16", "fp16"}, default="auto"
        Mixed precision on CUDA (bf16 where supported, else fp16 with a
        gradient scaler); "auto" trains in float32 on the CPU (see
        :mod:`skautodl.training.precision`). A config's ``precision`` key
        (``search_space={"precision": "bf16"}``) wins.

    Returns
    -------
    AutoNetClassifier, AutoNetMultilabel or AutoNetRegressor
        The unfitted net.

    Raises
    ------
    ValueError
        For an unknown family, learning-rate schedule or augmentation
        parameter.

    Notes
    -----
    The cosine schedule spans ``max_epochs`` unless the config sets
    ``callbacks__lr_schedule__T_max``; a resumed training (``partial_fit``
    for more epochs) restarts the cosine over the new segment.
    """
    from skorch.helper import predefined_split

    params = {**TRAINING_DEFAULTS, **config}
    family = get_family(params.pop("family", "mlp"))
    # featurizer choices were applied when the data was prepared
    for key in [k for k in params if k.startswith("featurize__")]:
        params.pop(key)
    augment = {k[len("augment__"):]: params.pop(k)
               for k in [k for k in params if k.startswith("augment__")]}
    schedule = params.pop("lr_schedule")
    patience = params.pop("callbacks__early_stopping__patience")
    n_outputs = task.n_outputs
    batch_size = int(params.pop("batch_size"))
    max_epochs = int(params.pop("max_epochs"))
    n_train = task.n_samples
    batch_size = max(1, min(batch_size, n_train)) if n_train else batch_size
    t_max = max(1, int(params.pop("callbacks__lr_schedule__T_max", max_epochs)))
    drop_last = bool(n_train and n_train % batch_size == 1)
    steps = (n_train // batch_size if drop_last
             else -(-n_train // batch_size)) if n_train else 1
    callbacks = [
        ("divergence_guard", DivergenceGuard()),
        ("time_limit", TimeLimit(deadline)),
        ("grad_clip", GradientNormClipping(gradient_clip_value=1.0)),
        ("cycle_fitter", CycleFitter(None)),  # set per trial (data-size fidelity)
        ("lr_schedule", _schedule(schedule, params.get("lr", 1e-3), t_max, steps)),
        ("pruning", PruningReporter(pruning)),
    ]
    if valid is not None:
        callbacks.append(("early_stopping", EarlyStopping(
            monitor="valid_loss", patience=int(patience), load_best=True,
            # its "Restoring best model" line, shown from verbose=2 (print
            # stays silent under the net's verbose=0)
            sink=write_line if verbose >= 2 else print)))
    common = {}
    # arguments the family takes from the data: the featurizer's layout and
    # the task's image shape
    available = dict(data_params or {})
    if task.image_shape is not None:
        available["image_shape"] = tuple(task.image_shape)
    for name in family.data_params:
        if name in available:
            common[f"module__{name}"] = available[name]
    aug = Augmentation(image_shape=None if task.image_shape is None
                       else tuple(task.image_shape))
    try:
        aug.set_params(**augment)
    except ValueError:
        raise ValueError(
            f"Unknown augmentation parameter in {sorted(augment)}; known: "
            f"{[p for p in Augmentation._PARAMS if p != 'image_shape']}."
        ) from None
    common |= {
        "module": family.module,
        "module__n_inputs": int(n_inputs),
        "module__n_outputs": int(n_outputs),
        "optimizer": OPTIMIZER,
        "max_epochs": max_epochs,
        "batch_size": batch_size,
        "iterator_train": TensorBatchLoader,
        "iterator_valid": TensorBatchLoader,
        # validation needs no small batches: on 80,000 validation rows a
        # batch of 4,096 rows halves a short trial's time (per-batch
        # overhead); images keep the training batch (activation memory)
        "iterator_valid__batch_size": (batch_size if task.input_kind == "image"
                                       else max(batch_size, VALID_BATCH_ROWS)),
        "iterator_train__shuffle": True,
        # BatchNorm cannot train on a last batch of one sample
        "iterator_train__drop_last": drop_last,
        "train_split": predefined_split(valid) if valid is not None else None,
        "callbacks": callbacks,
        "device": device,
        "precision": precision,
        "verbose": int(verbose >= 2),
        # skorch's PrintLog formats a table every epoch even when silent
        # (about 1 % of an epoch on small data): drop it unless shown; shown,
        # its lines go above the progress bar, coloured only on a terminal
        **({"callbacks__print_log__sink": write_line} if verbose >= 2
           else {"callbacks__print_log": None}),
    }
    if aug.enabled:
        # training batches only: validation and prediction use iterator_valid
        common |= {
            "iterator_train": AugmentedBatchLoader,
            "iterator_train__augmentation": aug,
            "iterator_train__n_classes": (len(classes) if task.is_classification
                                          else None),
        }
    common.update(params)
    if task.is_multilabel:
        return AutoNetMultilabel(criterion=torch.nn.BCEWithLogitsLoss,
                                 label_dtype=np.dtype(
                                     np.asarray(classes[0]).dtype).name,
                                 **common)
    if task.is_classification:
        return AutoNetClassifier(
            criterion=torch.nn.CrossEntropyLoss, classes=list(classes),
            # skorch's default valid_acc compares labels with indices: our own
            # scorer evaluates trials instead
            callbacks__valid_acc=None, **common
        )
    return AutoNetRegressor(criterion=torch.nn.MSELoss, **common)
