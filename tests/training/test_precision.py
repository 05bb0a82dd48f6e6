"""Tests of skautodl/training/precision.py (mixed precision for skorch nets).

Everything runs on the CPU: ``fp32`` must equal skorch's own path bit for
bit, ``bf16`` runs under CPU autocast, and the fp16 gradient-scaler path is
forced onto the CPU (torch has a CPU GradScaler) by patching the resolver.
"""

import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from skorch import NeuralNetClassifier, NeuralNetRegressor
from skorch.callbacks import Callback, GradientNormClipping

from skautodl.data.validation import TaskInfo
from skautodl.training import precision as precision_mod
from skautodl.training.net import AutoNetClassifier, AutoNetRegressor, build_net
from skautodl.training.precision import (
    AmpPlan,
    MixedPrecisionMixin,
    PrecisionFallbackWarning,
    resolve_precision,
)

FAST = {"family": "mlp", "max_epochs": 3, "lr": 1e-2, "batch_size": 16,
        "module__n_units": 16, "module__dropout": 0.0}



class AmpClassifier(MixedPrecisionMixin, NeuralNetClassifier):
    pass


class AmpRegressor(MixedPrecisionMixin, NeuralNetRegressor):
    pass


class Recorder(torch.nn.Module):
    """Two-layer MLP that records the dtype of its hidden activations."""

    def __init__(self, n_inputs=4, n_outputs=2):
        super().__init__()
        self.hidden = torch.nn.Linear(n_inputs, 16)
        self.out = torch.nn.Linear(16, n_outputs)
        self.seen = []

    def forward(self, X):
        h = self.hidden(X)
        self.seen.append(h.dtype)
        return self.out(torch.relu(h))


class GradNorms(Callback):
    """Records the total gradient norm each ``on_grad_computed`` sees."""

    def initialize(self):
        self.norms = []
        return self

    def on_grad_computed(self, net, named_parameters, **kwargs):
        grads = [p.grad for _, p in named_parameters if p.grad is not None]
        self.norms.append(float(torch.linalg.vector_norm(
            torch.stack([torch.linalg.vector_norm(g) for g in grads]))))


def _plain_kwargs(**extra):
    return {"module": Recorder, "max_epochs": 3, "lr": 0.05, "batch_size": 16,
            "train_split": None, "verbose": 0, "optimizer": torch.optim.AdamW,
            **extra}


def _clf(cls=AmpClassifier, **extra):
    return cls(criterion=torch.nn.CrossEntropyLoss, **_plain_kwargs(**extra))


@pytest.fixture
def forced_fp16(monkeypatch):
    """Resolve every precision to fp16 with a gradient scaler, on the CPU."""
    def resolve(precision, device, owner="MixedPrecisionMixin"):
        return AmpPlan("cpu", torch.float16, use_scaler=True)

    monkeypatch.setattr(precision_mod, "resolve_precision", resolve)


def _wired(net, cls, **params):
    """``net`` (from build_net) rebuilt as ``cls`` with the same parameters."""
    return cls(**{**net.get_params(deep=False), **params})


# ------------------------------------------------------------- resolution
@pytest.mark.parametrize("precision, name", [
    ("auto", "fp32"), ("fp32", "fp32"), ("bf16", "bf16")])
def test_resolve_on_cpu(precision, name):
    plan = resolve_precision(precision, "cpu")
    assert plan.device_type == "cpu" and plan.name == name
    assert not plan.use_scaler


def test_resolve_none_device_counts_as_cpu():
    assert resolve_precision("auto", None) == AmpPlan("cpu")


def test_fp16_on_cpu_falls_back_to_fp32_with_a_warning():
    with pytest.warns(PrecisionFallbackWarning, match="needs a CUDA device"):
        plan = resolve_precision("fp16", "cpu")
    assert plan == AmpPlan("cpu")


@pytest.mark.parametrize("bad", ["float16", "FP32", None, 16])
def test_resolve_rejects_unknown_values(bad):
    with pytest.raises(ValueError, match="'precision' parameter of Owner must be "
                                         "one of 'auto', 'fp32', 'bf16', 'fp16'"):
        resolve_precision(bad, "cpu", "Owner")


@pytest.mark.parametrize("native, precision, expected", [
    (True, "auto", AmpPlan("cuda", torch.bfloat16)),
    (False, "auto", AmpPlan("cuda", torch.float16, True)),
    (True, "bf16", AmpPlan("cuda", torch.bfloat16)),
    (True, "fp16", AmpPlan("cuda", torch.float16, True)),
    (True, "fp32", AmpPlan("cuda")),
])
def test_resolve_on_cuda(monkeypatch, native, precision, expected):
    calls = []

    def is_bf16_supported(including_emulation=True):
        calls.append(including_emulation)
        return native

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_precision(precision, "cuda") == expected
    # emulated bfloat16 (pre-Ampere) is slower than fp16: it does not count
    assert all(flag is False for flag in calls)


def test_bf16_on_cuda_without_native_support_warns_and_uses_fp16(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda **kw: False)
    with pytest.warns(PrecisionFallbackWarning, match="no native bfloat16"):
        plan = resolve_precision("bf16", "cuda")
    assert plan == AmpPlan("cuda", torch.float16, use_scaler=True)


# --------------------------------------------------- the parameter itself
def test_precision_is_a_searchable_init_parameter():
    net = _clf(precision="bf16")
    assert net.precision == "bf16"
    assert net.get_params()["precision"] == "bf16"
    assert clone(net).precision == "bf16"
    assert net.set_params(precision="fp32").precision == "fp32"
    assert _clf().precision == "auto"
    net.initialize()  # skorch's check of unknown arguments accepts it


def test_bad_precision_fails_at_initialize():
    with pytest.raises(ValueError, match="AmpClassifier must be one of"):
        _clf(precision="half").initialize()


def test_warns_once_not_every_batch(tiny_classification):
    X, y, _ = tiny_classification
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        _clf(precision="fp16", max_epochs=2).fit(X, y)
    fallbacks = [w for w in record if w.category is PrecisionFallbackWarning]
    assert len(fallbacks) == 1


def test_plan_follows_the_device(monkeypatch):
    net = _clf(precision="auto")
    assert net.amp_plan().name == "fp32"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda **kw: True)
    net.set_params(device="cuda")
    assert net.amp_plan() == AmpPlan("cuda", torch.bfloat16)


# ------------------------------------------------------------------- fp32
def _assert_same_fit(a, b, X):
    for (ka, va), (kb, vb) in zip(a.module_.state_dict().items(),
                                  b.module_.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb), ka
    assert a.history[:, "train_loss"] == b.history[:, "train_loss"]
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


@pytest.mark.parametrize("precision", ["fp32", "auto"])
def test_fp32_is_bit_identical_to_skorch(tiny_classification, precision):
    X, y, _ = tiny_classification
    cbs = [("clip", GradientNormClipping(gradient_clip_value=0.5))]
    torch.manual_seed(0)
    plain = _clf(NeuralNetClassifier, callbacks=cbs).fit(X, y)
    torch.manual_seed(0)
    amp = _clf(callbacks=cbs, precision=precision).fit(X, y)
    _assert_same_fit(plain, amp, X)
    assert set(amp.module_.seen) == {torch.float32}


def test_autonets_auto_precision_on_cpu_is_exactly_fp32(tiny_classification,
                                                    tiny_regression):
    X, y, labels = tiny_classification
    task = TaskInfo("binary", 2, n_samples=len(X))
    ref = build_net(FAST, task, X.shape[1], classes=labels)
    torch.manual_seed(0)
    ref.fit(X, y)
    torch.manual_seed(0)
    wired = _wired(build_net(FAST, task, X.shape[1], classes=labels),
                   AutoNetClassifier, precision="fp32").fit(X, y)
    _assert_same_fit(ref, wired, X)
    np.testing.assert_array_equal(ref.predict(X), wired.predict(X))

    Xr, yr = tiny_regression
    task = TaskInfo("regression", 1, n_samples=len(Xr))
    ref = build_net(FAST, task, Xr.shape[1])
    torch.manual_seed(0)
    ref.fit(Xr, yr)
    torch.manual_seed(0)
    wired = _wired(build_net(FAST, task, Xr.shape[1]), AutoNetRegressor,
                   precision="auto").fit(Xr, yr)
    _assert_same_fit(ref, wired, Xr)


# ------------------------------------------------------------ bf16 on CPU
def test_bf16_runs_the_forward_pass_under_autocast(tiny_classification):
    X, y, _ = tiny_classification
    net = _clf(precision="bf16", max_epochs=8).fit(X, y)
    assert set(net.module_.seen) == {torch.bfloat16}
    assert all(p.dtype == torch.float32 for p in net.module_.parameters())
    losses = net.history[:, "train_loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]
    # outputs come back as float32: skorch's predict_proba converts to numpy
    proba = net.predict_proba(X)
    assert proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert (net.predict(X) == y).mean() > 0.8


def test_bf16_loss_is_computed_in_float32(tiny_classification):
    X, y, _ = tiny_classification
    seen = []

    class Spy(AmpClassifier):
        def get_loss(self, y_pred, y_true, *args, **kwargs):
            seen.append(y_pred.dtype)
            loss = super().get_loss(y_pred, y_true, *args, **kwargs)
            seen.append(loss.dtype)
            return loss

    Spy(criterion=torch.nn.CrossEntropyLoss,
        **_plain_kwargs(precision="bf16", max_epochs=1)).fit(X, y)
    assert seen and set(seen) == {torch.float32}


def test_bf16_regressor(tiny_regression):
    X, y = tiny_regression
    y2 = ((y - y.mean()) / y.std()).astype(np.float32).reshape(-1, 1)
    net = AmpRegressor(criterion=torch.nn.MSELoss,
                       **_plain_kwargs(module__n_inputs=3, module__n_outputs=1,
                                       precision="bf16", max_epochs=10)).fit(X, y2)
    assert net.predict(X).dtype == np.float32
    losses = net.history[:, "train_loss"]
    assert losses[-1] < 0.5 * losses[0]


def test_bf16_wired_autonet_classifier(tiny_classification):
    X, y, labels = tiny_classification
    task = TaskInfo("binary", 2, n_samples=len(X))
    net = _wired(build_net(FAST, task, X.shape[1], classes=labels),
                 AutoNetClassifier, precision="bf16").fit(X, y)
    assert np.isfinite(net.history[-1, "train_loss"])
    assert set(net.predict(X)) <= set(labels)


# --------------------------------------------- fp16 + GradScaler (forced)
def test_scaler_path_trains_and_clips_unscaled_gradients(tiny_classification,
                                                         forced_fp16):
    X, y, _ = tiny_classification
    norms = GradNorms()
    net = _clf(precision="fp16", max_epochs=6, callbacks=[
        ("clip", GradientNormClipping(gradient_clip_value=0.5)),
        ("norms", norms),  # after the clipping: sees what the optimizer gets
    ]).fit(X, y)
    assert set(net.module_.seen) == {torch.float16}
    assert isinstance(net.grad_scaler_, torch.amp.GradScaler)
    assert net.grad_scaler_.is_enabled()
    finite = [n for n in norms.norms if np.isfinite(n)]
    # unscaled and clipped: at most the clip value, not x65536
    assert finite and max(finite) <= 0.5 + 1e-3
    losses = net.history[:, "train_loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]


def test_scaler_step_matches_unscaled_gradients(tiny_classification, forced_fp16):
    """The optimizer gets gradients on the float32 scale, not scaled ones."""
    X, y, _ = tiny_classification
    norms = GradNorms()
    torch.manual_seed(0)
    _clf(precision="fp16", max_epochs=1, callbacks=[("norms", norms)]).fit(X, y)
    scaled = [n for n in norms.norms if np.isfinite(n)]
    ref = GradNorms()
    torch.manual_seed(0)
    _clf(NeuralNetClassifier, max_epochs=1, callbacks=[("norms", ref)]).fit(X, y)
    # same order of magnitude as float32 gradients (fp16 forward, first step)
    assert scaled and 0.5 < scaled[0] / ref.norms[0] < 2.0


def test_scaler_survives_partial_fit_and_resets_on_fit(tiny_classification,
                                                       forced_fp16):
    X, y, _ = tiny_classification
    net = _clf(precision="fp16", max_epochs=2).fit(X, y)
    scaler = net.grad_scaler_
    tracker = scaler.state_dict()["_growth_tracker"]
    scale = scaler.get_scale()
    net.partial_fit(X, y)
    assert net.grad_scaler_ is scaler
    state = scaler.state_dict()
    # 10 more steps: either the tracker grew or an overflow lowered the scale
    assert state["_growth_tracker"] > tracker or state["scale"] < scale
    net.fit(X, y)
    assert net.grad_scaler_ is not scaler


def test_pickle_round_trip_after_fp16_fit(tiny_classification, forced_fp16):
    X, y, _ = tiny_classification
    net = _clf(precision="fp16", max_epochs=2).fit(X, y)
    net.grad_scaler_.update(1024.0)  # a recognizable scale
    loaded = pickle.loads(pickle.dumps(net))
    assert isinstance(loaded.grad_scaler_, dict)  # device-free state
    assert loaded.grad_scaler_["scale"] == 1024.0
    np.testing.assert_array_equal(loaded.predict_proba(X), net.predict_proba(X))
    loaded.partial_fit(X, y)  # rebuilds the scaler from the saved state
    assert isinstance(loaded.grad_scaler_, torch.amp.GradScaler)
    assert loaded.grad_scaler_.get_scale() <= 1024.0 * 2
    assert len(loaded.history) == 4  # 2 + max_epochs more


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_pickle_round_trip_without_scaler(tiny_classification, precision):
    X, y, _ = tiny_classification
    net = _clf(precision=precision, max_epochs=2).fit(X, y)
    assert net.grad_scaler_ is None
    loaded = pickle.loads(pickle.dumps(net))
    assert loaded.precision == precision
    np.testing.assert_array_equal(loaded.predict_proba(X), net.predict_proba(X))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("precision", ["auto", "fp16", "bf16"])
def test_cuda_mixed_precision_fit(tiny_classification, precision):
    X, y, _ = tiny_classification
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrecisionFallbackWarning)
        net = _clf(precision=precision, device="cuda", max_epochs=4).fit(X, y)
    plan = net.amp_plan()
    assert plan.name in ("bf16", "fp16")
    assert set(net.module_.seen) == {plan.dtype}
    assert np.all(np.isfinite(net.history[:, "train_loss"]))
    loaded = pickle.loads(pickle.dumps(net))
    np.testing.assert_allclose(loaded.predict_proba(X), net.predict_proba(X))
