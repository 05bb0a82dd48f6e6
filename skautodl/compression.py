"""Compression of a fitted estimator: magnitude pruning and int8 quantization.

:func:`compress` returns a new fitted estimator (the original is not
changed) whose networks are smaller on disk and, with quantization, faster
on the CPU:

* **pruning**: in every ``Linear`` and ``Conv1d/2d/3d`` layer the
  ``sparsity`` share of the weights with the smallest magnitude is set to
  zero (the magnitude rule of ``torch.nn.utils.prune.l1_unstructured``,
  applied layer by layer with ``prune.custom_from_mask``, so each layer
  reaches the requested sparsity). With data, a short fine-tune at a
  small learning rate then lets the remaining weights make up for the
  pruned ones; the pruning mask stays in place while it trains (torch's
  pruning reparametrization), and is made permanent afterwards;
* **quantization**: every ``Linear`` layer becomes torch's dynamically
  quantized linear layer (``torch.ao.quantization.quantize_dynamic``): int8
  weights with one scale per output unit (pruned zeros stay exactly zero),
  activations quantized on the fly, batch by batch. Convolutions, embeddings
  and normalization layers stay in float32.

Tree members (the opt-in ``hgb`` family) are not changed. The networks of
every ensemble member (and of ``best_estimator_``) are compressed in the
same way; a compressed net records what was done in ``compression_``, which
:mod:`skautodl.persistence` reads to store its int8 weights as plain tensors
(:func:`state_for_saving`) and rebuild its quantized layers at load
(:func:`restore`).
"""

from __future__ import annotations

import contextlib
import copy
import numbers
import os
import tempfile
import time
import warnings

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn.utils import prune

from skautodl.data.featurize import _take

#: the layers whose weights are pruned
PRUNABLE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
#: rows the latency is measured on (the passed rows, repeated)
LATENCY_ROWS = 1000
#: timed predictions per estimator; the median is reported
LATENCY_REPEATS = 3
#: the keys a compressed net's int8 layer is stored under (with its prefix)
_QUANT_KEYS = ("weight_int8", "weight_scales", "weight_zero_points", "bias")


@contextlib.contextmanager
def _quantization_api():
    """torch's eager quantization API, with its deprecation notices silenced.

    torch 2.10+ announces that ``torch.ao.quantization`` moves to torchao
    and that quantized tensors will be removed; both still work in the
    torch this release supports. Only those two messages are silenced.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="torch.ao.quantization is deprecated",
                                category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=r"torch\.quantize_per_tensor, "
                                "torch.quantize_per_channel and other quantized",
                                category=UserWarning)
        try:
            from torch.ao.quantization import (
                per_channel_dynamic_qconfig,
                quantize_dynamic,
            )
        except ImportError as exc:  # pragma: no cover - a future torch
            raise ImportError(
                f"quantize=True needs torch's eager quantization API "
                f"(torch.ao.quantization), which this torch ({torch.__version__}) "
                "lacks; compress with quantize=False.") from exc
        yield quantize_dynamic, per_channel_dynamic_qconfig


def _quantized_linears(module):
    """``(name, layer)`` of the dynamically quantized linear layers of ``module``."""
    return [(name, m) for name, m in module.named_modules()
            if type(m).__module__.startswith("torch.ao.nn.quantized.dynamic")]


def quantize_module(module):
    """Replace the ``Linear`` layers of ``module`` (in place) by int8 ones.

    Per-channel symmetric int8 weights (a zero weight stays exactly zero),
    activations quantized dynamically (``torch.ao.quantization``'s dynamic
    quantization; CPU only).

    Parameters
    ----------
    module : torch.nn.Module
        A float network on the CPU.

    Returns
    -------
    torch.nn.Module
        ``module`` itself, changed in place.

    Examples
    --------
    >>> import torch
    >>> from skautodl.compression import quantize_module
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(),
    ...                           torch.nn.Linear(8, 2))
    >>> net = quantize_module(net)
    >>> type(net[0]).__name__, net(torch.zeros(3, 4)).shape
    ('Linear', torch.Size([3, 2]))
    >>> type(net[0]).__module__
    'torch.ao.nn.quantized.dynamic.modules.linear'
    """
    with _quantization_api() as (quantize_dynamic, qconfig):
        return quantize_dynamic(module, {nn.Linear: qconfig}, dtype=torch.qint8,
                                inplace=True)


def state_for_saving(module):
    """Return the state of a compressed ``module`` as plain tensors.

    Plain tensors are what safetensors stores. A quantized layer's packed
    parameters become its int8 weights (``<layer>.weight_int8``), their
    per-channel scales and zero points, and its float bias; every other
    entry of the state dict is kept as it is. :func:`restore` is the
    inverse.

    Parameters
    ----------
    module : torch.nn.Module
        A network, possibly with layers quantized by :func:`quantize_module`.

    Returns
    -------
    dict of str to torch.Tensor
        The state, every value a plain tensor.

    Raises
    ------
    ValueError
        If a quantized layer is not quantized per channel (not by
        :func:`quantize_module`).

    See Also
    --------
    restore : Load this state into a new network.
    """
    quantized = _quantized_linears(module)
    prefixes = tuple(f"{name}." for name, _ in quantized)
    state = {k: v for k, v in module.state_dict().items()
             if isinstance(v, torch.Tensor) and not k.startswith(prefixes)}
    with _quantization_api():
        for name, layer in quantized:
            weight, bias = layer.weight(), layer.bias()
            if weight.qscheme() != torch.per_channel_affine:
                raise ValueError(f"Layer {name!r} is not quantized per channel; only "
                                 "skautodl's own compression can be saved.")
            values = {"weight_int8": weight.int_repr(),
                      "weight_scales": weight.q_per_channel_scales(),
                      "weight_zero_points": weight.q_per_channel_zero_points(),
                      "bias": bias}
            for k in _QUANT_KEYS:
                if values[k] is not None:
                    state[f"{name}.{k}"] = values[k].detach().contiguous().clone()
    return state


def restore(module, state, info):
    """Load ``state`` (from :func:`state_for_saving`) into a new ``module``.

    When the saved net's linear layers were quantized, they are loaded with
    their dequantized weights (so that ``load_state_dict`` checks every
    entry), quantized, and given back their exact int8 weights.

    Parameters
    ----------
    module : torch.nn.Module
        A freshly built float network of the saved net's class and
        arguments.
    state : dict of str to torch.Tensor
        What :func:`state_for_saving` returned for the saved net.
    info : dict
        The saved net's ``compression_`` record (``{"sparsity",
        "quantized"}``).

    Returns
    -------
    torch.nn.Module
        ``module``, loaded (and quantized when ``info`` says so) in place.

    Raises
    ------
    RuntimeError
        If ``info`` is not a dict, or an entry of ``state`` is missing,
        extra, misshapen or malformed.

    See Also
    --------
    state_for_saving : The inverse.
    """
    if not isinstance(info, dict):
        raise RuntimeError(f"its compression record is not a dict ({info!r})")
    if not info.get("quantized"):
        module.load_state_dict(state, strict=True)
        return module
    state, exact = dict(state), {}
    with _quantization_api():
        for name, layer in module.named_modules():
            if type(layer) is not nn.Linear:
                continue
            parts = {k: state.pop(f"{name}.{k}", None) for k in _QUANT_KEYS}
            try:
                weight = torch._make_per_channel_quantized_tensor(
                    parts["weight_int8"], parts["weight_scales"],
                    parts["weight_zero_points"], 0)
            except (TypeError, RuntimeError) as exc:
                raise RuntimeError(f"the int8 weights of layer {name!r} are missing "
                                   f"or malformed ({exc})") from exc
            exact[name] = (weight, parts["bias"])
            state[f"{name}.weight"] = weight.dequantize()
            if parts["bias"] is not None:
                state[f"{name}.bias"] = parts["bias"]
        module.load_state_dict(state, strict=True)
        quantize_module(module)
        for name, layer in _quantized_linears(module):
            layer.set_weight_bias(*exact[name])
    return module


def _pipelines(estimator):
    """Every distinct ``Pipeline(featurizer, model)`` of a fitted estimator.

    The members of ``ensemble_`` (a bag's fold models one by one) and
    ``best_estimator_``; a model shared by both counts once.
    """
    from skautodl.ensemble import member_models

    members = [m for m, _ in estimator.ensemble_] + [estimator.best_estimator_]
    found = {}
    for member in members:
        for pipeline in member_models(member):
            found.setdefault(id(pipeline[-1]), pipeline)
    return list(found.values())


def _nets(estimator):
    """``(featurizer, net)`` of every distinct network (tree members left out)."""
    from skorch import NeuralNet

    return [(p[0], p[-1]) for p in _pipelines(estimator)
            if isinstance(p[-1], NeuralNet)]


def _layer_weights(module):
    """The weights of ``module``'s prunable and quantized layers, as float tensors."""
    out = [m.weight.detach() for m in module.modules() if isinstance(m, PRUNABLE)]
    with _quantization_api():
        out += [layer.weight().dequantize() for _, layer in _quantized_linears(module)]
    return out


def count_parameters(module):
    """Count the parameters of ``module``, and the zeros pruning set.

    Quantized layers' int8 weights and biases count as parameters.

    Parameters
    ----------
    module : torch.nn.Module
        A network, compressed or not.

    Returns
    -------
    total : int
        All parameters.
    nonzero : int
        The parameters that are not zero.
    layer_weights : int
        The weights of the linear and convolution layers (what pruning
        acts on).
    layer_zeros : int
        The zeros among ``layer_weights``.

    Examples
    --------
    >>> import torch
    >>> from skautodl.compression import count_parameters
    >>> layer = torch.nn.Linear(4, 2)
    >>> with torch.no_grad():
    ...     _ = layer.weight.zero_()
    >>> count_parameters(layer)[0], count_parameters(layer)[2:]
    (10, (8, 8))
    """
    tensors = [p.detach() for p in module.parameters()]
    with _quantization_api():
        for _, layer in _quantized_linears(module):
            tensors.append(layer.weight().dequantize())
            if layer.bias() is not None:
                tensors.append(layer.bias().detach())
    weights = _layer_weights(module)
    n_weights = sum(w.numel() for w in weights)
    return (sum(t.numel() for t in tensors),
            sum(int(torch.count_nonzero(t)) for t in tensors),
            n_weights, n_weights - sum(int(torch.count_nonzero(w)) for w in weights))


def _fine_tune(module, X, y, *, classifier, epochs, lr, batch_size, seed):
    """Train ``module`` for ``epochs`` epochs of AdamW on featurized rows.

    Pruned weights stay zero: the pruning reparametrization multiplies them
    by their mask in every forward pass. Gradients are clipped as in the
    search's training. Returns False (and leaves the weights as they were)
    when the loss diverges.
    """
    from skautodl.utils._seeding import torch_seeded

    device = next(module.parameters()).device
    X = torch.as_tensor(np.ascontiguousarray(X, dtype=np.float32))
    y = torch.as_tensor(y)
    loss_fn = nn.CrossEntropyLoss() if classifier else nn.MSELoss()
    params = [p for p in module.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    saved = copy.deepcopy(module.state_dict())
    was_training = module.training
    n = len(X)
    batch_size = max(1, min(int(batch_size), n))
    module.train()
    try:
        with torch_seeded(seed, device):
            for _ in range(int(epochs)):
                order = torch.randperm(n)
                for start in range(0, n, batch_size):
                    rows = order[start:start + batch_size]
                    if len(rows) < 2 <= n:  # BatchNorm cannot train on one row
                        continue
                    optimizer.zero_grad()
                    loss = loss_fn(module(X[rows].to(device)), y[rows].to(device))
                    if not torch.isfinite(loss):
                        module.load_state_dict(saved)
                        return False
                    loss.backward()
                    nn.utils.clip_grad_norm_(params, 1.0)
                    optimizer.step()
    finally:
        module.train(was_training)
    return True


def _magnitude_mask(weight, sparsity):
    """0 for the ``sparsity`` share of ``weight``'s entries of smallest
    magnitude, 1 elsewhere.

    What ``prune.l1_unstructured`` computes (the same count, rounded), for
    weights in any memory layout: torch's own needs a contiguous weight, and
    the CNN keeps its convolutions' weights channels-last. The mask has the
    weight's layout, so the pruned weight keeps it too.
    """
    flat = weight.detach().abs().reshape(-1)
    mask = torch.ones_like(flat)
    n_pruned = round(sparsity * flat.numel())
    if n_pruned:
        mask[torch.topk(flat, n_pruned, largest=False).indices] = 0
    return torch.empty_like(weight).copy_(mask.view(weight.shape))


def _restride(weight, stride):
    """Give ``weight`` back the strides it had before pruning.

    A pruned weight comes out of ``weight_orig * mask``, whose strides may
    differ where a dimension has size 1; float32 convolutions pick their
    algorithm by the strides, and a network rebuilt by
    :func:`skautodl.load` has the original ones: without this its outputs
    would differ in the 8th digit.
    """
    if weight.stride() != stride:
        weight.data = torch.empty_strided(weight.shape, stride, dtype=weight.dtype,
                                          device=weight.device).copy_(weight.data)


def _targets(estimator, net, y):
    """``y`` as ``net`` trains on it: class indices, or standardized values."""
    if hasattr(estimator, "classes_"):
        classes = np.asarray(estimator.classes_)
        unknown = ~np.isin(y, classes)
        if unknown.any():
            raise ValueError(
                f"y holds labels {np.unique(y[unknown])[:5].tolist()} that "
                f"{type(estimator).__name__} was not fitted on (its classes_ are "
                f"{classes.tolist()[:10]}).")
        return np.searchsorted(classes, y).astype(np.int64)
    y2 = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    return np.ascontiguousarray((y2 - net.target_mean_) / net.target_scale_,
                                dtype=np.float32)


def compress_net(net, featurizer=None, X=None, y=None, *, estimator, sparsity=0.5,
                 quantize=True, fine_tune_epochs=3, fine_tune_lr=None, seed=0):
    """Prune, fine-tune and quantize one fitted skorch ``net`` in place.

    The net is trimmed for prediction afterwards (no optimizer or history:
    its training state no longer matches its weights) and records what was
    done in ``net.compression_``. :func:`compress` calls it for every
    network of an estimator.

    Parameters
    ----------
    net : skorch.NeuralNet
        A fitted network of an estimator's ensemble.
    featurizer : transformer or None, default=None
        The fitted featurizer in front of ``net``, which turns ``X`` into
        the net's inputs.
    X : array-like or pandas.DataFrame or None, default=None
        Raw rows for the fine-tune; without them (or with
        ``fine_tune_epochs=0``) the net is not fine-tuned.
    y : array-like or None, default=None
        Targets of ``X``, as the estimator takes them.
    estimator : AutoDLClassifier or AutoDLRegressor
        The estimator ``net`` belongs to (its ``classes_`` encode ``y``).
    sparsity : float, default=0.5
        Share of each linear and convolution layer's weights set to zero.
    quantize : bool, default=True
        Make the linear layers int8 (and move the net to the CPU).
    fine_tune_epochs : int, default=3
        Epochs of fine-tuning after pruning.
    fine_tune_lr : float or None, default=None
        The fine-tune's learning rate; None: a tenth of the net's.
    seed : int, default=0
        Seeds the fine-tune's batch order.

    Returns
    -------
    bool
        Whether the fine-tune ran: False when it diverged (and was undone)
        or did not run.

    Raises
    ------
    ValueError
        If ``y`` holds labels a classifier was not fitted on.
    """
    module = net.module_
    layers = [m for m in module.modules() if isinstance(m, PRUNABLE)]
    strides = [layer.weight.stride() for layer in layers]
    if sparsity > 0:
        for layer in layers:
            prune.custom_from_mask(layer, "weight", _magnitude_mask(layer.weight,
                                                                    sparsity))
    tuned = False
    if sparsity > 0 and X is not None and fine_tune_epochs > 0:
        lr = 0.1 * float(net.lr) if fine_tune_lr is None else float(fine_tune_lr)
        tuned = _fine_tune(module, featurizer.transform(X), _targets(estimator, net, y),
                           classifier=hasattr(estimator, "classes_"),
                           epochs=fine_tune_epochs, lr=lr,
                           batch_size=net.batch_size, seed=seed)
    for layer, stride in zip(layers, strides, strict=True):
        if prune.is_pruned(layer):
            prune.remove(layer, "weight")
            _restride(layer.weight, stride)
    net.trim_for_prediction()
    if quantize:
        if not str(net.device).startswith("cpu"):
            # torch's int8 layers run on the CPU only
            module.to("cpu")
            net.device = "cpu"
        quantize_module(module)
    net.compression_ = {"sparsity": float(sparsity), "quantized": bool(quantize)}
    return tuned


def _check_arguments(estimator, X, y, sparsity, quantize, fine_tune_epochs,
                     fine_tune_lr, validation_fraction):
    from sklearn.utils.validation import check_is_fitted

    name = type(estimator).__name__
    check_is_fitted(estimator)
    if not hasattr(estimator, "ensemble_"):
        raise TypeError(f"compress takes a fitted AutoDLClassifier or "
                        f"AutoDLRegressor; got {name}.")
    if (not isinstance(sparsity, numbers.Real) or isinstance(sparsity, bool)
            or not 0 <= sparsity < 1):
        raise ValueError(f"sparsity must be a float in [0, 1) (the share of each "
                         f"layer's weights set to zero); got {sparsity!r}.")
    if not isinstance(quantize, (bool, np.bool_)):
        raise TypeError(f"quantize must be True or False; got {quantize!r}.")
    if (not isinstance(fine_tune_epochs, numbers.Integral)
            or isinstance(fine_tune_epochs, bool) or fine_tune_epochs < 0):
        raise ValueError(f"fine_tune_epochs must be an int >= 0; got "
                         f"{fine_tune_epochs!r}.")
    if fine_tune_lr is not None and (not isinstance(fine_tune_lr, numbers.Real)
                                     or not fine_tune_lr > 0):
        raise ValueError(f"fine_tune_lr must be a positive float or None (a tenth "
                         f"of each net's learning rate); got {fine_tune_lr!r}.")
    if (not isinstance(validation_fraction, numbers.Real)
            or not 0 <= validation_fraction < 1):
        raise ValueError(f"validation_fraction must be a float in [0, 1); got "
                         f"{validation_fraction!r}.")
    if y is not None and X is None:
        raise ValueError("compress got y without X; pass both (or X alone to "
                         "measure the latency only).")
    if X is not None and y is not None and len(X) != len(y):
        raise ValueError(f"X and y have different lengths ({len(X)} and {len(y)}).")
    if any(getattr(net, "compression_", {}).get("quantized")
           for _, net in _nets(estimator)):
        raise ValueError(f"{name} is already quantized; compress the original "
                         "(uncompressed) estimator instead.")
    if not 0 < sparsity and not quantize:
        warnings.warn(f"compress({name}, sparsity=0, quantize=False) changes "
                      "nothing; the copy it returns is the same model.",
                      UserWarning, stacklevel=3)


def _split(estimator, X, y, validation_fraction, seed):
    """``(X_tune, y_tune, X_valid, y_valid)``, stratified for a classifier."""
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(y))
    if validation_fraction == 0:
        return X, y, None, None
    stratify = y if hasattr(estimator, "classes_") else None
    try:
        tune, valid = train_test_split(rows, test_size=validation_fraction,
                                       stratify=stratify, random_state=seed)
    except ValueError:  # a class too small to stratify: a plain split
        tune, valid = train_test_split(rows, test_size=validation_fraction,
                                       random_state=seed)
    return _take(X, tune), y[tune], _take(X, valid), y[valid]


def _file_bytes(estimator, directory, name):
    from skautodl.exceptions import ModelFileError
    from skautodl.persistence import save

    path = os.path.join(directory, name)
    try:
        save(estimator, path)
    except ModelFileError:
        return None
    return os.path.getsize(path)


def _latencies(estimators, X):
    """Median milliseconds per 1,000 rows of each estimator's ``predict``.

    The estimators are timed in turns (one prediction each per round) on
    :data:`LATENCY_ROWS` rows, so a slower or busier moment of the machine
    affects them alike; a first, untimed prediction builds their inference
    copies.
    """
    rows = _take(X, np.resize(np.arange(len(X)), LATENCY_ROWS))
    times = [[] for _ in estimators]
    for est in estimators:
        est.predict(rows)
    for _ in range(LATENCY_REPEATS):
        for est, found in zip(estimators, times, strict=True):
            start = time.perf_counter()
            est.predict(rows)
            found.append(time.perf_counter() - start)
    return [1000.0 * float(np.median(t)) * 1000 / LATENCY_ROWS for t in times]


def _measure(estimator, nets, scorer, X_valid, y_valid):
    counts = np.sum([count_parameters(net.module_) for _, net in nets], axis=0,
                    dtype=np.int64).reshape(-1)
    total, nonzero, weights, zeros = (counts.tolist() if len(counts) == 4
                                      else (0, 0, 0, 0))
    return {
        "n_parameters": int(total),
        "n_nonzero": int(nonzero),
        "weight_sparsity": float(zeros / weights) if weights else 0.0,
        "validation_score": (None if X_valid is None
                             else float(scorer(estimator, X_valid, y_valid))),
    }


def compress(estimator, X=None, y=None, *, sparsity=0.5, quantize=True,
             fine_tune_epochs=3, fine_tune_lr=None, validation_fraction=0.2,
             random_state=None):
    """Return a pruned and int8-quantized copy of a fitted estimator.

    Parameters
    ----------
    estimator : AutoDLClassifier or AutoDLRegressor
        Fitted; it is not changed.
    X : array-like or pandas.DataFrame, optional
        Rows for the fine-tune, the validation score and the latency (the
        training data, or other labelled data). With ``X`` alone only the
        latency is measured; without it the nets are pruned and quantized
        without a fine-tune and the report has no score or latency.
    y : array-like, optional
        Targets of ``X``.
    sparsity : float in [0, 1), default=0.5
        Share of the weights of each linear and convolution layer set to
        zero (those of smallest magnitude). 0 prunes nothing.
    quantize : bool, default=True
        Replace linear layers by int8 ones (dynamic quantization: CPU only).
    fine_tune_epochs : int, default=3
        Epochs of training after pruning, at a small learning rate, on the
        fine-tune part of ``X, y`` (0: none).
    fine_tune_lr : float, optional
        Learning rate of the fine-tune; by default a tenth of each net's
        own.
    validation_fraction : float in [0, 1), default=0.2
        Share of ``X, y`` held out of the fine-tune to score the estimator
        before and after compression (0: fine-tune on all rows, no score).
    random_state : int, RandomState or None, default=None
        Seeds the split and the fine-tune.

    Returns
    -------
    AutoDLClassifier or AutoDLRegressor
        A fitted estimator of the same class as ``estimator``, with
        ``compression_report_``, a dict: the settings (``sparsity``,
        ``quantize``, ``fine_tune_epochs`` run, ``fine_tune_rows``,
        ``validation_rows``, ``scoring``), ``before`` and ``after`` (each
        ``file_bytes``: size written by :func:`skautodl.save`, ``n_parameters``
        and ``n_nonzero`` over the networks, ``weight_sparsity`` of their
        linear and convolution weights, ``latency_ms``: ``predict`` on 1,000
        rows, ``validation_score``), ``file_ratio`` (before / after) and
        ``notes``. Values that could not be measured are None.

    Raises
    ------
    TypeError
        If ``estimator`` is not a skautodl estimator or ``quantize`` is not
        a bool.
    ValueError
        For an argument out of its range, ``y`` without ``X``, ``X`` and
        ``y`` of different lengths, or an estimator that is already
        quantized.
    sklearn.exceptions.NotFittedError
        If ``estimator`` is not fitted.

    See Also
    --------
    AutoDLClassifier.compress, AutoDLRegressor.compress : The same, as a
        method.

    Notes
    -----
    A quantized network's activations are quantized per prediction batch
    (up to 1,024 table rows), so a row's outputs depend slightly on the
    other rows predicted with it; the same rows always give the same
    predictions, and :func:`skautodl.load` restores them exactly.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from skautodl import AutoDLClassifier
    >>> from skautodl.compression import compress
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = AutoDLClassifier(time_budget=None, n_trials=1, families=["mlp"],
    ...                        cv=None, search_space={"max_epochs": 5},
    ...                        verbose=0, random_state=0).fit(X, y)
    >>> small = compress(clf, X, y, sparsity=0.5, random_state=0)
    >>> report = small.compression_report_
    >>> report["after"]["weight_sparsity"], report["file_ratio"] > 2
    (0.5, True)
    """
    from sklearn.metrics import check_scoring
    from sklearn.utils import check_random_state

    _check_arguments(estimator, X, y, sparsity, quantize, fine_tune_epochs,
                     fine_tune_lr, validation_fraction)
    if X is not None and not isinstance(X, pd.DataFrame):
        X = np.asarray(X)  # rows are taken by position (lists too)
    rng = check_random_state(random_state)
    notes = []
    X_tune = y_tune = X_valid = y_valid = None
    if y is not None:
        y = np.asarray(y)
        X_tune, y_tune, X_valid, y_valid = _split(
            estimator, X, y, validation_fraction, int(rng.randint(2 ** 31 - 1)))
    elif X is not None:
        notes.append("X without y: no fine-tune and no validation score.")
    else:
        notes.append("No X, y: no fine-tune, no validation score, no latency.")
    scoring = estimator.scoring
    if scoring is None:
        scoring = estimator._default_scoring  # what the search ranked trials by
    scorer = check_scoring(estimator, scoring=scoring)
    compressed = copy.deepcopy(estimator)
    nets = _nets(compressed)
    before = _measure(estimator, _nets(estimator), scorer, X_valid, y_valid)
    tuned = []
    for featurizer, net in nets:
        tuned.append(compress_net(
            net, featurizer, X_tune, y_tune, estimator=estimator, sparsity=sparsity,
            quantize=quantize, fine_tune_epochs=fine_tune_epochs,
            fine_tune_lr=fine_tune_lr, seed=int(rng.randint(2 ** 31 - 1))))
    if X_tune is not None and sparsity > 0 and fine_tune_epochs > 0 and not all(tuned):
        notes.append(f"The fine-tune diverged for {tuned.count(False)} of "
                     f"{len(tuned)} networks; they keep their pruned weights "
                     "untuned.")
    if len(nets) < len(_pipelines(compressed)):
        notes.append("Tree members are not compressed (and not counted).")
    after = _measure(compressed, nets, scorer, X_valid, y_valid)
    with tempfile.TemporaryDirectory() as tmp:
        before["file_bytes"] = _file_bytes(estimator, tmp, "before.skautodl")
        after["file_bytes"] = _file_bytes(compressed, tmp, "after.skautodl")
    if after["file_bytes"] is None:
        notes.append("The estimator cannot be saved with skautodl.save (see its "
                     "error): no file sizes.")
    if X is not None:
        before["latency_ms"], after["latency_ms"] = _latencies(
            [estimator, compressed], X)
    else:
        before["latency_ms"] = after["latency_ms"] = None
    compressed.compression_report_ = {
        "sparsity": float(sparsity),
        "quantize": bool(quantize),
        "fine_tune_epochs": int(fine_tune_epochs if any(tuned) else 0),
        "fine_tune_rows": 0 if X_tune is None else len(y_tune),
        "validation_rows": 0 if X_valid is None else len(y_valid),
        "scoring": scoring if isinstance(scoring, str) else "custom",
        "before": before,
        "after": after,
        "file_ratio": (before["file_bytes"] / after["file_bytes"]
                       if before["file_bytes"] and after["file_bytes"] else None),
        "notes": notes,
    }
    return compressed


__all__ = ["compress", "compress_net", "count_parameters", "quantize_module",
           "restore", "state_for_saving"]
