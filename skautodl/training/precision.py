"""Mixed-precision training for skorch nets (bf16 or fp16 autocast).

:class:`MixedPrecisionMixin` goes *before* the skorch base class::

    class AutoNetClassifier(MixedPrecisionMixin, NeuralNetClassifier): ...

and adds one constructor parameter, ``precision``:

========  ================================================================
``auto``  CUDA: bfloat16 autocast where the GPU supports it natively
          (compute capability >= 8, or ROCm), else float16 autocast with a
          :class:`torch.amp.GradScaler`. Any other device: plain float32.
``fp32``  skorch's own code path, untouched (bit-identical results).
``bf16``  bfloat16 autocast; also on the CPU (slow there, but it lets the
          autocast path be tested without a GPU). On a CUDA device without
          native bfloat16 it warns and uses ``fp16`` instead.
``fp16``  float16 autocast with a gradient scaler; CUDA only. On any other
          device it warns (:class:`PrecisionFallbackWarning`) and trains in
          float32, so a model configured for a GPU still trains and predicts
          after it is loaded on a CPU-only machine.
========  ================================================================

Only the module's forward pass runs under :func:`torch.autocast`; its
floating-point outputs are cast back to float32 before the loss, the
callbacks and the predictions see them. Gradients, optimizer state and
weights stay float32.

The gradient scaler (``grad_scaler_``) lives as long as the fitted net: a
continued training (``partial_fit``) keeps its scale, a new ``fit``
(re-initialization) starts a fresh one, and pickling stores its state as a
plain dict, so a net trained with fp16 on a GPU unpickles on a CPU.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from skorch.dataset import unpack_data
from skorch.utils import TeeGenerator

__all__ = [
    "PRECISIONS",
    "AmpPlan",
    "MixedPrecisionMixin",
    "PrecisionFallbackWarning",
    "resolve_precision",
]

#: allowed values of the ``precision`` parameter
PRECISIONS = ("auto", "fp32", "bf16", "fp16")

_HALF = (torch.float16, torch.bfloat16)


class PrecisionFallbackWarning(UserWarning):
    """The requested precision is not available on the net's device."""


@dataclass(frozen=True)
class AmpPlan:
    """How a net computes on its device, resolved from ``precision``.

    Its fields are also its attributes.

    Parameters
    ----------
    device_type : str
        ``torch.device(...).type`` of the net's device (``"cuda"``, ``"cpu"``).
    dtype : torch.dtype or None, default=None
        Autocast dtype; None means plain float32 (no autocast).
    use_scaler : bool, default=False
        Whether backward passes go through a :class:`torch.amp.GradScaler`.
    """

    device_type: str
    dtype: torch.dtype | None = None
    use_scaler: bool = False

    @property
    def name(self):
        """``"fp32"``, ``"bf16"`` or ``"fp16"``: what training really uses."""
        return {None: "fp32", torch.bfloat16: "bf16",
                torch.float16: "fp16"}[self.dtype]


def _cuda_bf16_native(device):
    """Whether ``device`` (a CUDA torch.device) runs bfloat16 natively.

    Emulated bfloat16 (``including_emulation=True``, the default of
    :func:`torch.cuda.is_bf16_supported`) is slower than fp16 with a scaler,
    so it does not count.
    """
    if device.index is None:
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    with torch.cuda.device(device.index):
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))


def _fallback(msg):
    warnings.warn(msg, PrecisionFallbackWarning, stacklevel=4)


def resolve_precision(precision, device, owner="MixedPrecisionMixin"):
    """Resolve ``precision`` for ``device`` into an :class:`AmpPlan`.

    Parameters
    ----------
    precision : {"auto", "fp32", "bf16", "fp16"}
        The requested precision.
    device : str, torch.device or None
        The net's device; None (skorch: leave the module where it is) counts
        as the CPU.
    owner : str, default="MixedPrecisionMixin"
        Class name quoted in the error message.

    Returns
    -------
    AmpPlan
        What training really uses: ``"auto"`` is float32 off CUDA, and on
        CUDA bfloat16 where the GPU has it natively, else float16 with a
        gradient scaler.

    Raises
    ------
    ValueError
        If ``precision`` is not one of :data:`PRECISIONS`.

    Warns
    -----
    PrecisionFallbackWarning
        When the explicit precision cannot be used on ``device`` (``fp16``
        off CUDA, ``bf16`` on a GPU without native bfloat16, autocast not
        available for the device type).
    """
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise ValueError(
            f"The 'precision' parameter of {owner} must be one of "
            f"{', '.join(map(repr, PRECISIONS))}; got {precision!r}."
        )
    dev = torch.device("cpu" if device is None else device)
    kind = dev.type
    if precision == "fp32":
        return AmpPlan(kind)
    if kind == "cuda":
        if precision == "fp16":
            return AmpPlan(kind, torch.float16, use_scaler=True)
        if _cuda_bf16_native(dev):
            return AmpPlan(kind, torch.bfloat16)
        if precision == "bf16":
            _fallback(f"precision='bf16' was asked for, but {dev} has no native "
                      "bfloat16 support; training in float16 with a gradient "
                      "scaler instead.")
        return AmpPlan(kind, torch.float16, use_scaler=True)
    if precision == "auto":
        return AmpPlan(kind)
    if precision == "fp16":
        _fallback(f"precision='fp16' needs a CUDA device (gradient scaling); the "
                  f"net's device is {dev}, so it trains in float32. Use "
                  "precision='bf16' for reduced precision on the CPU.")
        return AmpPlan(kind)
    if not torch.amp.is_autocast_available(kind):
        _fallback(f"precision='bf16': torch has no autocast for device type "
                  f"{kind!r}; training in float32.")
        return AmpPlan(kind)
    return AmpPlan(kind, torch.bfloat16)


def _to_float32(out):
    """Cast half-precision tensors in a module's output back to float32."""
    if isinstance(out, torch.Tensor):
        return out.float() if out.dtype in _HALF else out
    if isinstance(out, tuple | list):
        return type(out)(_to_float32(o) for o in out)
    if isinstance(out, dict):
        return {k: _to_float32(v) for k, v in out.items()}
    return out


class MixedPrecisionMixin:
    """Mixed-precision training for a skorch net; put it before the skorch base.

    Adds the constructor parameter ``precision`` (``"auto"``, ``"fp32"``,
    ``"bf16"`` or ``"fp16"``, see :mod:`skautodl.training.precision`). It is a
    real ``__init__`` parameter, so ``get_params``, ``set_params``,
    ``clone`` and searches see it; skorch's check of unknown arguments never
    sees it (skorch rejects an unknown ``__init__`` keyword at
    ``initialize()`` unless the subclass handles it, which this mixin does).

    Parameters
    ----------
    *args
        Passed on to the skorch net.
    precision : {"auto", "fp32", "bf16", "fp16"}, default="auto"
        Keyword only. Resolved against the net's ``device`` at every step (a
        cached lookup), so ``set_params(device=...)`` or unpickling on a
        CPU-only machine changes it accordingly; ``"auto"`` on the CPU is
        plain float32.
    **kwargs
        Passed on to the skorch net.

    Attributes
    ----------
    grad_scaler_ : torch.amp.GradScaler, dict or None
        The fp16 gradient scaler once fp16 training has run; a state dict
        after unpickling until the next fp16 step rebuilds it; None after
        ``initialize()``.

    Notes
    -----
    * ``infer`` runs the module under :func:`torch.autocast` and casts
      half-precision outputs to float32, so the loss is computed in float32
      and ``train_step_single``, ``validation_step`` and ``evaluation_step``
      (hence ``predict_proba``) all get the precision without overrides.
    * With a gradient scaler, ``train_step`` does forward, scaled backward,
      ``unscale_``, the ``on_grad_computed`` notification (so
      ``GradientNormClipping`` clips true gradients), ``scaler.step`` and
      ``scaler.update`` itself: a scaler cannot step an optimizer with a
      closure, so optimizers that need one (LBFGS) do not work with fp16.
    * With ``"fp32"`` (and with ``"auto"`` off CUDA) every method defers to
      skorch unchanged.
    """

    def __init__(self, *args, precision="auto", **kwargs):
        super().__init__(*args, **kwargs)
        self.precision = precision

    # ---------------------------------------------------------------- plan
    def amp_plan(self):
        """Return the :class:`AmpPlan` for the current ``precision`` and ``device``.

        Returns
        -------
        AmpPlan
            The plan, cached until ``precision`` or ``device`` changes.
        """
        precision = getattr(self, "precision", "fp32")
        key = (precision, str(self.device))
        cached = getattr(self, "_amp_plan_", None)
        if cached is None or cached[0] != key:
            plan = resolve_precision(precision, self.device, type(self).__name__)
            self._amp_plan_ = cached = (key, plan)
        return cached[1]

    def _grad_scaler(self, plan):
        scaler = getattr(self, "grad_scaler_", None)
        if isinstance(scaler, torch.amp.GradScaler):
            if getattr(scaler, "_device", plan.device_type) == plan.device_type:
                return scaler
            scaler = scaler.state_dict()
        new = torch.amp.GradScaler(plan.device_type)
        if scaler:  # a state dict: continue with the saved scale
            new.load_state_dict(scaler)
        self.grad_scaler_ = new
        return new

    # ------------------------------------------------------ skorch overrides
    def initialize(self):
        """Check ``precision`` and start without a gradient scaler.

        Returns
        -------
        object
            The initialized net itself (skorch's ``initialize``).
        """
        self._amp_plan_ = None
        self.amp_plan()  # a bad value fails before any work
        self.grad_scaler_ = None
        return super().initialize()

    def infer(self, x, **fit_params):
        """Run the module, under autocast when the plan says so.

        Parameters
        ----------
        x : torch.Tensor or dict
            A batch of inputs.
        **fit_params
            Passed on to the module.

        Returns
        -------
        torch.Tensor
            The module's output, half-precision tensors cast to float32.
        """
        plan = self.amp_plan()
        if plan.dtype is None:
            return super().infer(x, **fit_params)
        with torch.autocast(plan.device_type, dtype=plan.dtype):
            out = super().infer(x, **fit_params)
        return _to_float32(out)

    def train_step_single(self, batch, **fit_params):
        """Compute the loss of a batch and its (scaled, with fp16) gradients.

        Parameters
        ----------
        batch : tuple
            ``(X, y)`` of the batch.
        **fit_params
            Passed on to the module.

        Returns
        -------
        dict
            ``{"loss": loss, "y_pred": y_pred}``, as skorch's.
        """
        plan = self.amp_plan()
        if not plan.use_scaler:
            return super().train_step_single(batch, **fit_params)
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        y_pred = self.infer(Xi, **fit_params)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        self._grad_scaler(plan).scale(loss).backward()
        return {"loss": loss, "y_pred": y_pred}

    def train_step(self, batch, **fit_params):
        """Train on one batch; with fp16, through the gradient scaler.

        Parameters
        ----------
        batch : tuple
            ``(X, y)`` of the batch.
        **fit_params
            Passed on to the module.

        Returns
        -------
        dict
            ``{"loss": loss, "y_pred": y_pred}``, as skorch's.
        """
        plan = self.amp_plan()
        if not plan.use_scaler:
            return super().train_step(batch, **fit_params)
        scaler = self._grad_scaler(plan)
        optimizers = [getattr(self, name + "_") for name in self._optimizers]
        self._zero_grad_optimizer()
        step = self.train_step_single(batch, **fit_params)
        for optimizer in optimizers:
            scaler.unscale_(optimizer)
        self.notify(
            "on_grad_computed",
            named_parameters=TeeGenerator(self.get_all_learnable_params()),
            batch=batch,
            training=True,
        )
        for optimizer in optimizers:
            scaler.step(optimizer)  # skipped when the gradients hold inf/nan
        scaler.update()
        return step

    # ------------------------------------------------------------ pickling
    def __getstate__(self):
        state = super().__getstate__()
        scaler = state.get("grad_scaler_")
        if isinstance(scaler, torch.amp.GradScaler):
            # plain floats: no device, loads anywhere
            state["grad_scaler_"] = scaler.state_dict()
        state.pop("_amp_plan_", None)  # device dependent; recomputed on use
        return state
