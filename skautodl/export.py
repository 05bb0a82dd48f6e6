"""Export a fitted estimator's whole prediction as one ONNX or TorchScript graph.

The graph computes what ``predict_proba`` (classifier) or ``predict``
(regressor) computes: every network of the ensemble (the fold models of a
bagged member included), each behind its featurizer, the weighted blend,
and the classifier's temperature. Featurizer steps that are elementwise are
part of the graph ("folded"): the median imputation and its missing-value
indicators, the power-of-two prescaling, standard, robust (with its smooth
clip) and quantile scaling, the bound of the scaled values and the cast to
float32 the networks see, and the per-channel normalization of images.
The input is then the raw numeric table (or the images).

Categorical columns cannot be folded (their levels are text, encoded
one-hot or as integer codes); a pipeline whose featurizer has any stays in
Python: the graph takes that pipeline's features (its featurizer's
``transform``) as an input of its own, ``features_<i>``.
:func:`graph_inputs` computes every input a graph takes from ``X``.

Networks run in float64 by default, as the estimator's own ``predict``
does, so the graph reproduces it to rounding. onnxruntime has no float64
convolution on the CPU, so an ONNX graph of an image model computes in
float32 (``dtype="float32"``; the differences this makes are in the user
guide). Tree members (the ``"hgb"`` family) cannot be exported.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import warnings

import numpy as np
import torch
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    QuantileTransformer,
    StandardScaler,
)
from sklearn.utils.validation import check_is_fitted
from torch import nn

from skautodl.data.featurize import (
    _BOUND,
    ImageFeaturizer,
    TabularFeaturizer,
    _Prescale,
    _RobustScaler,
    _smooth_clip,
)
from skautodl.data.validation import check_predict_input
from skautodl.ensemble import member_models
from skautodl.training.net import AutoNetClassifier, AutoNetMultilabel, AutoNetRegressor

#: the name of the raw input (table or images) of a graph
RAW_INPUT = "X"
#: the name of the output of a classifier's / a regressor's graph
OUTPUTS = {"classifier": "probabilities", "regressor": "predictions"}
#: example rows the graph is traced with (any number > 1: the batch is dynamic)
_EXAMPLE_ROWS = 3
_DTYPES = {"float32": torch.float32, "float64": torch.float64}


# ---------------------------------------------------------------------------
# the featurizers as torch modules


class _Impute(nn.Module):
    """``SimpleImputer`` of numbers: NaN -> the column's statistic, and its
    missing-value indicators (``add_indicator``) appended."""

    def __init__(self, statistics, indicator_columns):
        super().__init__()
        self.register_buffer("statistics", torch.as_tensor(statistics,
                                                           dtype=torch.float64))
        self.register_buffer("indicator", torch.as_tensor(indicator_columns,
                                                          dtype=torch.long))
        self.n_indicators = len(indicator_columns)

    def forward(self, x):
        out = torch.where(torch.isnan(x), self.statistics, x)
        if not self.n_indicators:
            return out
        return torch.cat([out, torch.isnan(x[:, self.indicator]).to(x.dtype)], 1)


class _Indicators(nn.Module):
    """``MissingIndicator(features="all")``: 1.0 where a value is NaN."""

    def forward(self, x):
        return torch.isnan(x).to(x.dtype)


class _Affine(nn.Module):
    """``(x - shift) / scale`` per column (what the scalers compute)."""

    def __init__(self, shift, scale):
        super().__init__()
        self.register_buffer("shift", torch.as_tensor(shift, dtype=torch.float64))
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float64))

    def forward(self, x):
        return (x - self.shift) / self.scale


class _SmoothClip(nn.Module):
    """:func:`skautodl.data.featurize._smooth_clip`, ``3 t / hypot(1, t)``,
    written without overflow for any ``t`` (ONNX has no ``hypot``)."""

    def forward(self, x):
        t = x / 3.0
        a = torch.abs(t)
        inv = 1.0 / a  # inf at 0: its branch is not taken there
        ratio = torch.where(a > 1.0, torch.rsqrt(1.0 + inv * inv),
                            a * torch.rsqrt(1.0 + a * a))
        return 3.0 * torch.sign(t) * ratio


def _interp(x, knots, values, right, steps):
    """``np.interp`` per column of ``x`` over sorted ``knots`` (K, d).

    ``right=True`` interpolates on the segment that starts at the last knot
    ``<= x`` (``np.interp(x, knots, values)``), ``right=False`` on the one
    that ends at the first knot ``>= x`` (``-np.interp(-x, -knots[::-1],
    -values[::-1])``); the two differ only at repeated knots. The segment
    is found by a binary search unrolled into ``steps`` (``ceil(log2(K +
    1))``) gathers.
    """
    n_knots, width = knots.shape
    flat_knots, flat_values = knots.T.reshape(-1), values.T.reshape(-1)
    base = torch.arange(width, device=x.device) * n_knots
    low = torch.zeros_like(x, dtype=torch.long)  # knots[low] <(=) x, or x low
    high = torch.full_like(low, n_knots)
    for _ in range(steps):
        mid = torch.div(low + high, 2, rounding_mode="floor")
        at = flat_knots[base + torch.clamp(mid, max=n_knots - 1)]
        go_up = ((at <= x) if right else (at < x)) & (low < high)
        low = torch.where(go_up, mid + 1, low)
        high = torch.where(go_up, high, mid)
    # low: how many knots are <= x (right) or < x (left); the segment ends
    # at knot ``low`` (strictly wider than 0 where x is inside the knots)
    end = torch.clamp(low, 1, n_knots - 1)
    k0, k1 = flat_knots[base + end - 1], flat_knots[base + end]
    v0, v1 = flat_values[base + end - 1], flat_values[base + end]
    span = k1 - k0
    span = torch.where(span > 0, span, torch.ones_like(span))
    out = v0 + (x - k0) * (v1 - v0) / span
    if right:
        out = torch.where(x < knots[0], values[0], out)
        return torch.where(x >= knots[-1], values[-1], out)
    out = torch.where(x > knots[-1], values[-1], out)
    return torch.where(x <= knots[0], values[0], out)


# Acklam's rational approximation of the normal quantile: within 6e-9 of
# scipy's on the transformer's range (+-5.2), far below the float32
# rounding of the features (2e-7 to 5e-7 there)
_ACKLAM_A = (-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
             1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00)
_ACKLAM_B = (-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
             6.680131188771972e+01, -1.328068155288572e+01)
_ACKLAM_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
             -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00)
_ACKLAM_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
             3.754408661907416e+00)


def _poly(coefficients, x):
    """Horner's scheme (no ``full_like``: its ONNX rounds the fill to float32)."""
    out = x * coefficients[0] + coefficients[1]
    for c in coefficients[2:]:
        out = out * x + c
    return out


def _ndtri(p):
    """The standard normal quantile of ``p`` in (0, 1) (``scipy.stats.norm.ppf``)."""
    q = p - 0.5
    r = q * q
    central = (q * _poly(_ACKLAM_A, r)) / (_poly(_ACKLAM_B, r) * r + 1.0)
    tail_p = torch.minimum(p, 1.0 - p)
    s = torch.sqrt(-2.0 * torch.log(torch.clamp(tail_p, min=1e-300)))
    tail = _poly(_ACKLAM_C, s) / (_poly(_ACKLAM_D, s) * s + 1.0)
    tail = torch.where(p < 0.5, tail, -tail)
    return torch.where(tail_p < 0.02425, tail, central)


class _Quantile(nn.Module):
    """``QuantileTransformer(output_distribution="normal").transform``."""

    def __init__(self, transformer):
        super().__init__()
        from scipy import stats
        from sklearn.preprocessing._data import BOUNDS_THRESHOLD

        self.bound = float(BOUNDS_THRESHOLD)
        self.clip_min = float(stats.norm.ppf(BOUNDS_THRESHOLD - np.spacing(1)))
        self.clip_max = float(stats.norm.ppf(1 - (BOUNDS_THRESHOLD - np.spacing(1))))
        quantiles = np.asarray(transformer.quantiles_, dtype=np.float64)
        references = np.repeat(np.asarray(transformer.references_, np.float64)[:, None],
                               quantiles.shape[1], axis=1)
        self.steps = math.ceil(math.log2(len(quantiles) + 1))
        self.register_buffer("quantiles", torch.as_tensor(quantiles))
        self.register_buffer("references", torch.as_tensor(references))

    def forward(self, x):
        q, r = self.quantiles, self.references
        p = 0.5 * (_interp(x, q, r, True, self.steps)
                   + _interp(x, q, r, False, self.steps))
        p = torch.where(x + self.bound > q[-1], torch.ones_like(p), p)
        p = torch.where(x - self.bound < q[0], torch.zeros_like(p), p)
        z = _ndtri(torch.clamp(p, 1e-300, 1.0 - 1e-16))
        z = torch.where(p <= 0.0, torch.full_like(z, -np.inf), z)
        z = torch.where(p >= 1.0, torch.full_like(z, np.inf), z)
        return torch.clamp(z, self.clip_min, self.clip_max)


def _step_module(step):
    """The torch module of one fitted step of a numeric pipeline, or None."""
    if isinstance(step, SimpleImputer):
        if step.strategy not in ("median", "mean") or not np.isnan(step.missing_values):
            return None
        indicator = step.indicator_.features_ if step.add_indicator else []
        return _Impute(np.asarray(step.statistics_, dtype=np.float64), indicator)
    if isinstance(step, _Prescale):
        return _Affine(np.zeros_like(step.scale_), step.scale_)
    if isinstance(step, StandardScaler | _RobustScaler):
        centre = step.mean_ if isinstance(step, StandardScaler) else step.center_
        scale = step.scale_
        shift = centre if centre is not None and getattr(
            step, "with_mean", getattr(step, "with_centering", True)) else 0.0
        return _Affine(np.broadcast_to(shift, np.shape(scale)).copy(),
                       np.ones(len(centre)) if scale is None else scale)
    if isinstance(step, FunctionTransformer) and step.func is _smooth_clip:
        return _SmoothClip()
    if (isinstance(step, QuantileTransformer)
            and step.output_distribution == "normal"):
        return _Quantile(step)
    return None


def _block_module(transformer):
    """The torch module of one fitted block of the column transformer, or None."""
    if isinstance(transformer, MissingIndicator):
        return _Indicators()
    steps = (transformer.steps if isinstance(transformer, Pipeline)
             else [(None, transformer)])
    modules = [_step_module(step) for _, step in steps]
    return None if any(m is None for m in modules) else nn.Sequential(*modules)


class _TabularFeatures(nn.Module):
    """A numeric :class:`TabularFeaturizer`'s ``transform``: every block of its
    column transformer, the numeric block held to +-``_BOUND``, as float32."""

    def __init__(self, blocks, bounded):
        super().__init__()
        self.blocks = nn.ModuleList(module for module, _ in blocks)
        for i, (_, columns) in enumerate(blocks):
            self.register_buffer(f"columns_{i}", torch.as_tensor(columns,
                                                                 dtype=torch.long))
        self.bounded = bounded  # (start, stop) of the numeric block, or None

    def forward(self, x):
        x = x.to(torch.float64)
        parts = [block(x[:, getattr(self, f"columns_{i}")])
                 for i, block in enumerate(self.blocks)]
        out = torch.cat(parts, 1)
        if self.bounded is not None:
            start, stop = self.bounded
            out = torch.cat([out[:, :start],
                             torch.clamp(out[:, start:stop], -_BOUND, _BOUND),
                             out[:, stop:]], 1)
        return out.to(torch.float32)


class _ImageFeatures(nn.Module):
    """:class:`ImageFeaturizer`'s ``transform`` (in float32, as it computes)."""

    def __init__(self, featurizer):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(featurizer.mean_).reshape(
            1, -1, 1, 1).to(torch.float32))
        self.register_buffer("scale", torch.as_tensor(featurizer.scale_).reshape(
            1, -1, 1, 1).to(torch.float32))

    def forward(self, x):
        return ((x.to(torch.float32) - self.mean) / self.scale).flatten(1)


def _featurizer_module(featurizer):
    """The featurizer as a torch module, or None when it cannot be folded."""
    if isinstance(featurizer, ImageFeaturizer):
        return _ImageFeatures(featurizer)
    if not isinstance(featurizer, TabularFeaturizer) or featurizer.categorical_columns_:
        return None
    blocks = []
    transformer = featurizer.column_transformer_
    for _, block, columns in transformer.transformers_:
        if isinstance(block, str) or not len(columns):  # "drop", empty remainder
            continue
        module = _block_module(block)
        if module is None:
            return None
        blocks.append((module, columns))
    numeric = transformer.output_indices_.get("numeric")
    bounded = None if numeric is None else (numeric.start, numeric.stop)
    return _TabularFeatures(blocks, bounded)


# ---------------------------------------------------------------------------
# the whole prediction


def _pipelines(estimator):
    """``(pipeline, weight)`` per fitted network of the ensemble: a bagged
    member's fold models share its weight."""
    out = []
    for i, (member, weight) in enumerate(estimator.ensemble_):
        models = member_models(member)
        for pipeline in models:
            net = pipeline[-1]
            if isinstance(net, AutoNetMultilabel):
                raise NotImplementedError(
                    f"{type(estimator).__name__} was fitted on a multi-label "
                    "target; exporting multi-label models is not supported in "
                    "this release (save it with skautodl.save).")
            if not isinstance(net, AutoNetClassifier | AutoNetRegressor):
                raise NotImplementedError(
                    f"Member {i} of {type(estimator).__name__}'s ensemble is a "
                    f"{type(net).__name__} (a tree model, family 'hgb'), which "
                    "cannot be exported to ONNX or TorchScript: only neural "
                    "networks can. Fit without 'hgb' in families to export, or "
                    "save the estimator with skautodl.save."
                )
            out.append((pipeline, float(weight) / len(models)))
    return out


class _Prediction(nn.Module):
    """Featurizers, networks, blend and temperature (or target scaling)."""

    def __init__(self, estimator, pipelines, featurizers, dtype):
        super().__init__()
        self.dtype = dtype
        self.classifier = hasattr(estimator, "classes_")
        self.temperature = float(getattr(estimator, "temperature_", 1.0))
        self.weights = [w for _, w in pipelines]
        # the input of each pipeline: the raw X (first) or its own features
        raw = any(m is not None for m in featurizers)
        self.sources, k = [], 0 if raw else -1
        for module in featurizers:
            k += module is None
            self.sources.append(0 if module is not None else k)
        self.featurizers = nn.ModuleList(m if m is not None else nn.Identity()
                                         for m in featurizers)
        self.nets = nn.ModuleList()
        self.target_stats = []
        for i, (pipeline, _) in enumerate(pipelines):
            net = pipeline[-1]
            module = copy.deepcopy(net.module_).to("cpu", dtype).eval()
            for p in module.parameters():
                p.requires_grad_(False)
            self.nets.append(module)
            if not self.classifier:
                self.register_buffer(f"mean_{i}", torch.as_tensor(
                    net.target_mean_, dtype=dtype))
                self.register_buffer(f"scale_{i}", torch.as_tensor(
                    net.target_scale_, dtype=dtype))
        self.flat = not self.classifier and int(pipelines[0][0][-1].target_ndim_) == 1

    def forward(self, *inputs):
        out = None
        for i, (featurize, net) in enumerate(zip(self.featurizers, self.nets,
                                                 strict=True)):
            features = featurize(inputs[self.sources[i]])
            y = net(features.to(torch.float32).to(self.dtype))
            if self.classifier:
                y = torch.softmax(y, dim=1)
            else:
                y = y * getattr(self, f"scale_{i}") + getattr(self, f"mean_{i}")
            y = y * self.weights[i]
            out = y if out is None else out + y
        if self.classifier and self.temperature != 1.0:
            logp = torch.log(out) / self.temperature
            logp = logp - logp.max(dim=1, keepdim=True).values
            out = torch.exp(logp)
            out = out / out.sum(dim=1, keepdim=True)
        return out.reshape(-1) if self.flat else out


def _build(estimator, fold, dtype):
    """The graph's module, its inputs' descriptions and example tensors."""
    check_is_fitted(estimator)
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of {sorted(_DTYPES)}; got {dtype!r}.")
    pipelines = _pipelines(estimator)
    featurizers = [_featurizer_module(p[0]) if fold else None for p, _ in pipelines]
    image_shape = getattr(estimator, "image_shape_", None)
    inputs = []
    if any(m is not None for m in featurizers):
        if image_shape is not None:
            shape, raw_dtype = ["batch", *image_shape], "float32"
        else:
            shape, raw_dtype = ["batch", int(estimator.n_features_in_)], "float64"
        inputs.append({"name": RAW_INPUT, "dtype": raw_dtype, "shape": shape,
                       "pipelines": [i for i, m in enumerate(featurizers)
                                     if m is not None]})
    for i, module in enumerate(featurizers):
        if module is None:
            width = int(pipelines[i][0][0].n_features_out_)
            inputs.append({"name": f"features_{i}", "dtype": "float32",
                           "shape": ["batch", width], "pipelines": [i]})
    module = _Prediction(estimator, pipelines, featurizers, _DTYPES[dtype]).eval()
    examples = tuple(torch.zeros(_EXAMPLE_ROWS, *spec["shape"][1:],
                                 dtype=_DTYPES[spec["dtype"]]) for spec in inputs)
    return module, inputs, examples


def _metadata(estimator, inputs, dtype):
    from skautodl.persistence import describe

    kind = "classifier" if hasattr(estimator, "classes_") else "regressor"
    n_out = (len(estimator.classes_) if kind == "classifier"
             else int(getattr(estimator, "n_outputs_", 1) or 1))
    flat = kind == "regressor" and _pipelines(estimator)[0][0][-1].target_ndim_ == 1
    out = {"name": OUTPUTS[kind], "dtype": dtype,
           "shape": ["batch"] if flat else ["batch", n_out]}
    return {**describe(estimator), "inputs": inputs, "output": out, "dtype": dtype}


@contextlib.contextmanager
def _quiet():
    """Silence torch.jit's deprecation and the exporters' chatter."""
    with warnings.catch_warnings(), torch.no_grad():
        warnings.filterwarnings("ignore", category=DeprecationWarning,
                                message=r"`torch\.jit\.")
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        # torch.export's own: internal deprecations, shared batch axes
        warnings.filterwarnings("ignore", category=FutureWarning,
                                message=r".*treespec")
        warnings.filterwarnings("ignore", category=UserWarning,
                                message=r"# The axis name")
        yield


def _scalar_tensor(s, dtype=-1, layout="", device="", pin_memory=False):
    """ONNX of ``aten.scalar_tensor`` keeping a number's full precision.

    The Python numbers of a graph (``2 * math.pi * x``, a weight) become
    ``scalar_tensor`` nodes; the exporter's own translation makes a float32
    constant first and casts it, so a float64 graph would compute with
    float32-rounded constants (1e-300 even becomes 0).
    """
    import onnx_ir as ir
    from onnxscript import opset18 as op

    dtype = ir.DataType.FLOAT if dtype == -1 else ir.DataType(dtype)
    if isinstance(s, int | float):
        return op.Constant(value=ir.tensor(np.array(s, dtype=dtype.numpy())))
    return op.Cast(s, to=dtype)


def graph_inputs(estimator, X, *, fold=True):
    """Compute the inputs of ``estimator``'s exported graph for the rows ``X``.

    Parameters
    ----------
    estimator : AutoDLClassifier or AutoDLRegressor
        A fitted estimator.
    X : array-like or pandas.DataFrame
        Rows as ``estimator.predict`` takes them.
    fold : bool, default=True
        As passed to :func:`export_onnx` / :func:`export_torchscript`.

    Returns
    -------
    dict of str to ndarray
        In the graph's input order: ``"X"`` (the validated raw rows, float64,
        or images ``(n, C, H, W)`` as float32) when any featurizer is folded,
        then ``"features_<i>"`` (float32) for each pipeline whose featurizer
        stays in Python. Feed it to ``InferenceSession.run(None, inputs)``, or
        its values in order to a TorchScript module.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``estimator`` is not fitted.
    NotImplementedError
        For a model that cannot be exported (multi-label, or with ``"hgb"``
        tree members).

    See Also
    --------
    export_onnx, export_torchscript : Write the graph these inputs feed.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skautodl import AutoDLClassifier
    >>> from skautodl.export import graph_inputs
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = AutoDLClassifier(time_budget=None, n_trials=1, families=["mlp"],
    ...                        cv=None, search_space={"max_epochs": 5},
    ...                        verbose=0, random_state=0).fit(X, y)
    >>> {name: array.shape for name, array in graph_inputs(clf, X[:5]).items()}
    {'X': (5, 4)}
    """
    check_is_fitted(estimator)
    pipelines = _pipelines(estimator)
    rows = check_predict_input(estimator, X)
    folded = [fold and _featurizer_module(p[0]) is not None for p, _ in pipelines]
    out = {}
    if any(folded):
        shape = getattr(estimator, "image_shape_", None)
        out[RAW_INPUT] = (np.asarray(rows, dtype=np.float64) if shape is None
                          else np.asarray(rows, dtype=np.float32).reshape(
                              len(rows), *shape))
    for i, ((pipeline, _), done) in enumerate(zip(pipelines, folded, strict=True)):
        if not done:
            out[f"features_{i}"] = np.asarray(pipeline[0].transform(rows),
                                              dtype=np.float32)
    return out


def _uses_erf(estimator):
    """Whether a network computes GELU (``erf``), which onnxruntime runs in
    float32 only on the CPU."""
    return any(isinstance(layer, nn.GELU)
               for pipeline, _ in _pipelines(estimator)
               for layer in pipeline[-1].module_.modules())


def _default_dtype(estimator, dtype, onnx):
    if dtype is not None:
        return dtype
    images = getattr(estimator, "image_shape_", None) is not None
    return "float32" if onnx and (images or _uses_erf(estimator)) else "float64"


def export_onnx(estimator, path, *, fold=True, dtype=None, opset_version=None):
    """Write ``estimator``'s prediction as one ONNX graph.

    The graph's inputs are described by :func:`graph_inputs`; its output is
    named ``"probabilities"`` (classifier, what ``predict_proba`` returns)
    or ``"predictions"`` (regressor). A description of the model, its
    inputs and its output (JSON) is stored in the file's metadata under
    the key ``"skautodl"``.

    Parameters
    ----------
    estimator : AutoDLClassifier or AutoDLRegressor
        A fitted estimator.
    path : str or path-like
        The ``.onnx`` file to write.
    fold : bool, default=True
        Fold the featurizers into the graph where they can be (numeric
        tables, images). False: every pipeline takes its features as an
        input (see :func:`graph_inputs`).
    dtype : {"float64", "float32"} or None, default=None
        The networks' arithmetic. None: float64 (as ``predict`` computes),
        but float32 for image models and networks with GELU activations
        (onnxruntime has no float64 convolution or ``Erf`` on the CPU).
    opset_version : int or None, default=None
        The ONNX opset (None: the exporter's default).

    Returns
    -------
    str
        The path written.

    Raises
    ------
    ImportError
        If onnx or onnxscript is not installed (the ``onnx`` extra).
    ValueError
        For an unknown ``dtype``.
    NotImplementedError
        For a model that cannot be exported (multi-label, or with ``"hgb"``
        tree members).

    See Also
    --------
    export_torchscript : The same graph as a TorchScript module.
    graph_inputs : The inputs to feed the graph.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import onnxruntime
    >>> from sklearn.datasets import load_iris
    >>> from skautodl import AutoDLClassifier
    >>> from skautodl.export import export_onnx, graph_inputs
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = AutoDLClassifier(time_budget=None, n_trials=1, families=["mlp"],
    ...                        cv=None, search_space={"max_epochs": 5},
    ...                        verbose=0, random_state=0).fit(X, y)
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = export_onnx(clf, os.path.join(tmp.name, "iris.onnx"))
    >>> session = onnxruntime.InferenceSession(path)
    >>> (proba,) = session.run(None, graph_inputs(clf, X))
    >>> bool(np.allclose(proba, clf.predict_proba(X), atol=1e-6))
    True
    >>> tmp.cleanup()
    """
    try:
        import onnx
        import onnxscript  # noqa: F401  (the exporter needs it)
    except ImportError as exc:
        raise ImportError(
            "export_onnx needs onnx and onnxscript: pip install 'skautodl[onnx]'."
        ) from exc
    dtype = _default_dtype(estimator, dtype, onnx=True)
    module, inputs, examples = _build(estimator, fold, dtype)
    batch = torch.export.Dim("batch")
    path = os.fspath(path)
    with _quiet():
        torch.onnx.export(
            module, examples, path, dynamo=True, verbose=False,
            input_names=[spec["name"] for spec in inputs],
            output_names=[OUTPUTS["classifier" if module.classifier
                                  else "regressor"]],
            dynamic_shapes=(tuple({0: batch} for _ in inputs),),  # *inputs
            opset_version=opset_version, external_data=False,
            custom_translation_table={
                torch.ops.aten.scalar_tensor.default: _scalar_tensor})
    model = onnx.load(path)
    meta = _metadata(estimator, inputs, dtype)
    onnx.helper.set_model_props(model, {"skautodl": json.dumps(meta)})
    onnx.save(model, path)
    return path


def export_torchscript(estimator, path, *, fold=True, dtype="float64"):
    """Write ``estimator``'s prediction as one TorchScript module.

    The module is traced (``torch.jit.trace``) and saved with
    ``torch.jit.save``; ``torch.jit.load(path)`` reads it back, and calling
    it with the inputs of :func:`graph_inputs` (in order) returns the
    probabilities or the predictions. The description of the inputs and
    output is saved in the file as the extra file ``skautodl.json``.

    Parameters
    ----------
    estimator : AutoDLClassifier or AutoDLRegressor
        A fitted estimator.
    path : str or path-like
        The file to write (by convention ``*.pt``).
    fold : bool, default=True
        As for :func:`export_onnx`.
    dtype : {"float64", "float32"}, default="float64"
        The networks' arithmetic.

    Returns
    -------
    str
        The path written.

    Raises
    ------
    ValueError
        For an unknown ``dtype``.
    NotImplementedError
        For a model that cannot be exported (multi-label, or with ``"hgb"``
        tree members).

    See Also
    --------
    export_onnx : The same graph in ONNX.
    graph_inputs : The inputs to feed the module.

    Examples
    --------
    >>> import os, tempfile, warnings
    >>> import numpy as np
    >>> import torch
    >>> from sklearn.datasets import load_iris
    >>> from skautodl import AutoDLClassifier
    >>> from skautodl.export import export_torchscript, graph_inputs
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = AutoDLClassifier(time_budget=None, n_trials=1, families=["mlp"],
    ...                        cv=None, search_space={"max_epochs": 5},
    ...                        verbose=0, random_state=0).fit(X, y)
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = export_torchscript(clf, os.path.join(tmp.name, "iris.pt"))
    >>> with warnings.catch_warnings():  # torch.jit is deprecated in torch 2.13
    ...     warnings.simplefilter("ignore", DeprecationWarning)
    ...     module = torch.jit.load(path)
    >>> inputs = [torch.from_numpy(a) for a in graph_inputs(clf, X).values()]
    >>> proba = module(*inputs).numpy()
    >>> bool(np.allclose(proba, clf.predict_proba(X)))
    True
    >>> tmp.cleanup()
    """
    dtype = _default_dtype(estimator, dtype, onnx=False)
    module, inputs, examples = _build(estimator, fold, dtype)
    path = os.fspath(path)
    with _quiet():
        traced = torch.jit.trace(module, examples, check_trace=False)
        meta = json.dumps(_metadata(estimator, inputs, dtype))
        torch.jit.save(traced, path, _extra_files={"skautodl.json": meta})
    return path


__all__ = ["export_onnx", "export_torchscript", "graph_inputs"]
