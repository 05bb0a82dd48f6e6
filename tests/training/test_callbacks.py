"""Tests of skautodl/training/callbacks.py: TimeLimit, DivergenceGuard,
PruningReporter and LRSchedule.

The callbacks' clocks are faked (the module's ``time`` is replaced), so no
test depends on how fast the machine is; a few tests train real tiny nets
built by ``build_net`` to check the callbacks inside skorch's loop.
"""

import io
import math
import pickle
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from skorch.callbacks import LRScheduler

from skautodl.data.validation import TaskInfo
from skautodl.exceptions import TrialDiverged
from skautodl.training import callbacks as callbacks_module
from skautodl.training.callbacks import (
    DivergenceGuard,
    LRSchedule,
    PruningReporter,
    TimeLimit,
)
from skautodl.training.net import (
    AutoNetRegressor,
    build_net,
    standardized_valid_dataset,
)

FAST = {"family": "mlp", "max_epochs": 4, "lr": 1e-2, "batch_size": 16,
        "module__n_units": 16, "module__dropout": 0.0}


# ---------------------------------------------------------------------- helpers
class FakeClock:
    """``time.time`` and ``time.perf_counter`` as settable numbers.

    With ``wall_tick`` / ``perf_tick`` set, each read of that clock advances
    it by the tick after returning its value.
    """

    def __init__(self, wall=0.0, perf=0.0, wall_tick=0.0, perf_tick=0.0):
        self.wall, self.perf = wall, perf
        self.wall_tick, self.perf_tick = wall_tick, perf_tick

    def time(self):
        value = self.wall
        self.wall += self.wall_tick
        return value

    def perf_counter(self):
        value = self.perf
        self.perf += self.perf_tick
        return value


@pytest.fixture
def clock(monkeypatch):
    """A FakeClock that the callbacks module reads instead of ``time``."""
    fake = FakeClock()
    monkeypatch.setattr(callbacks_module, "time",
                        SimpleNamespace(time=fake.time,
                                        perf_counter=fake.perf_counter))
    return fake


class FakeNet:
    """Just enough of a skorch net: a history of epochs."""

    def __init__(self, n_epochs=1, valid_losses=None):
        if valid_losses is not None:
            self.history = [{"valid_loss": v} for v in valid_losses]
        else:
            self.history = [{} for _ in range(n_epochs)]


@pytest.fixture
def one_torch_thread():
    """Tiny nets train fastest on one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def reg_split(tiny_regression):
    """60 training rows and a 20-row validation set on the training scale."""
    X, y = tiny_regression
    valid = standardized_valid_dataset(AutoNetRegressor, X[:20], y[:20], y[20:])
    return X[20:], y[20:], valid


def _callback(net, name):
    return dict(net.callbacks_)[name]


def _train_batches(epoch):
    return [b for b in epoch["batches"] if "train_loss" in b]


def _stops(hook, *args, **kwargs):
    """Call a callback hook; whether it stopped training (KeyboardInterrupt)."""
    try:
        hook(*args, **kwargs)
    except KeyboardInterrupt:
        return True
    return False


def _valid_pass(cb, net, clock, start, end, n_batches=2):
    """Run the validation part of an epoch from perf time start to end."""
    clock.perf = start
    for _ in range(n_batches):
        cb.on_batch_begin(net, training=False)
        assert not _stops(cb.on_batch_end, net, training=False)
    clock.perf = end
    assert not _stops(cb.on_epoch_end, net)


# -------------------------------------------------------------------- TimeLimit
def test_time_limit_fires_between_training_batches_past_the_deadline(clock):
    cb = TimeLimit(deadline=100.0).initialize()
    net = FakeNet()
    assert cb.stopped_ is False and cb.valid_seconds_ == 0.0
    for now in (50.0, 99.0, 100.0):  # reaching the deadline exactly is allowed
        clock.wall = now
        cb.on_batch_begin(net, training=True)
        assert not _stops(cb.on_batch_end, net, training=True)
    assert cb.stopped_ is False
    clock.wall = 100.5
    assert _stops(cb.on_batch_end, net, training=True)
    assert cb.stopped_ is True


def test_time_limit_never_fires_on_validation_batches(clock):
    cb = TimeLimit(deadline=10.0).initialize()
    clock.wall = 1e6
    for _ in range(3):
        cb.on_batch_begin(FakeNet(), training=False)
        assert not _stops(cb.on_batch_end, FakeNet(), training=False)
    assert cb.stopped_ is False
    # the next training batch does stop
    assert _stops(cb.on_batch_end, FakeNet(), training=True)
    assert cb.stopped_ is True


def test_time_limit_without_deadline_never_fires(clock):
    cb = TimeLimit(deadline=None).initialize()
    _valid_pass(cb, FakeNet(), clock, 0.0, 1e6)
    clock.wall = 1e12
    for _ in range(3):
        assert not _stops(cb.on_batch_end, FakeNet(), training=True)
    assert cb.stopped_ is False


def test_valid_seconds_time_the_whole_validation_pass(clock):
    cb = TimeLimit(deadline=None).initialize()
    net = FakeNet()
    # training batches do not start the clock
    clock.perf = 1.0
    cb.on_batch_begin(net, training=True)
    assert not _stops(cb.on_batch_end, net, training=True)
    # the first validation batch starts it, later ones do not restart it
    clock.perf = 10.0
    cb.on_batch_begin(net, training=False)
    clock.perf = 11.0
    cb.on_batch_begin(net, training=False)
    clock.perf = 13.0
    assert not _stops(cb.on_epoch_end, net)
    assert cb.valid_seconds_ == pytest.approx(3.0)
    # the next epoch's pass replaces it
    _valid_pass(cb, net, clock, 20.0, 20.5)
    assert cb.valid_seconds_ == pytest.approx(0.5)
    # an epoch without validation batches keeps the last complete pass
    clock.perf = 99.0
    assert not _stops(cb.on_epoch_end, net)
    assert cb.valid_seconds_ == pytest.approx(0.5)


@pytest.mark.parametrize("factor, wall_ok, wall_stop", [
    (3.0, 93.5, 94.5),  # keeps 3 * 2 s: stops once now + 6 > 100
    (1.0, 97.5, 98.5),  # keeps 2 s
    (0.0, 99.5, 100.5),  # keeps nothing
])
def test_time_limit_keeps_scoring_factor_times_the_validation_pass(
        clock, factor, wall_ok, wall_stop):
    cb = TimeLimit(deadline=100.0, scoring_factor=factor).initialize()
    net = FakeNet()
    _valid_pass(cb, net, clock, 5.0, 7.0)
    assert cb.valid_seconds_ == pytest.approx(2.0)
    clock.wall = wall_ok
    assert not _stops(cb.on_batch_end, net, training=True)
    assert cb.stopped_ is False
    clock.wall = wall_stop
    assert _stops(cb.on_batch_end, net, training=True)
    assert cb.stopped_ is True


def test_default_scoring_factor_is_three(clock):
    cb = TimeLimit(deadline=100.0).initialize()
    assert cb.scoring_factor == 3.0
    _valid_pass(cb, FakeNet(), clock, 0.0, 1.0)
    clock.wall = 96.5  # 96.5 + 3 * 1 s is before the deadline
    assert not _stops(cb.on_batch_end, FakeNet(), training=True)
    clock.wall = 97.5  # 97.5 + 3 * 1 s is past it
    assert _stops(cb.on_batch_end, FakeNet(), training=True)


def test_time_limit_initialize_resets_the_stop_but_keeps_the_measurement(clock):
    cb = TimeLimit(deadline=100.0).initialize()
    net = FakeNet()
    _valid_pass(cb, net, clock, 0.0, 4.0)
    clock.wall = 99.0
    assert _stops(cb.on_batch_end, net, training=True)
    assert cb.stopped_ and cb.valid_seconds_ == pytest.approx(4.0)
    # a validation pass in progress when initialize() runs is forgotten...
    clock.perf = 50.0
    cb.on_batch_begin(net, training=False)
    assert cb.initialize() is cb
    assert cb.stopped_ is False
    clock.perf = 60.0
    assert not _stops(cb.on_epoch_end, net)
    # ...but the last complete one stays: skorch re-initializes callbacks on
    # set_params(callbacks__...), as a continued trial does, and its first
    # epoch must still keep time for scoring
    assert cb.valid_seconds_ == pytest.approx(4.0)
    cb.set_params(deadline=200.0)
    clock.wall = 190.0  # 190 + 3 * 4 s is past 200
    assert _stops(cb.on_batch_end, net, training=True)


@pytest.mark.parametrize("factor, n_epochs, stopped", [(3.0, 2, True),
                                                       (2.0, 4, False)])
def test_time_limit_in_a_real_net(reg_split, clock, one_torch_thread, factor,
                                  n_epochs, stopped):
    """Each validation pass takes 1 fake second; the wall clock stands at 0.

    With a deadline of 2.5, keeping 3 s for scoring stops the net at the first
    training batch after the first validation pass; keeping 2 s never does.
    """
    X, y, valid = reg_split
    clock.perf_tick = 1.0  # two reads per epoch: first valid batch, epoch end
    net = build_net({**FAST, "callbacks__early_stopping__patience": 100},
                    TaskInfo("regression", 1, n_samples=len(X)), X.shape[1],
                    valid=valid, deadline=2.5)
    net.set_params(callbacks__time_limit__scoring_factor=factor)
    net.fit(X, y)
    cb = _callback(net, "time_limit")
    assert cb.stopped_ is stopped
    assert cb.valid_seconds_ == pytest.approx(1.0)
    assert len(net.history) == n_epochs
    assert "valid_loss" in net.history[0]
    if stopped:  # cut short after one training batch, before validation
        assert len(_train_batches(net.history[-1])) == 1
        assert len(net.history[-1]["batches"]) == 1
        assert "valid_loss" not in net.history[-1]
    else:
        assert all(len(_train_batches(e)) == 4 for e in net.history)
    assert np.all(np.isfinite(net.predict(X)))


def test_time_limit_stops_a_real_net_between_training_batches(
        tiny_regression, clock, one_torch_thread):
    X, y = tiny_regression
    clock.wall, clock.wall_tick = 1.0, 1.0  # reads 1, 2, 3, ...
    net = build_net({**FAST, "max_epochs": 50},
                    TaskInfo("regression", 1, n_samples=len(X)), X.shape[1],
                    deadline=7.5)
    net.fit(X, y)  # 5 training batches per epoch: the 8th read is past 7.5
    assert _callback(net, "time_limit").stopped_
    assert len(net.history) == 2
    assert [len(_train_batches(e)) for e in net.history] == [5, 3]


# -------------------------------------------------------------- DivergenceGuard
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("as_tensor", [True, False])
def test_divergence_guard_raises_on_a_non_finite_training_loss(value, as_tensor):
    loss = torch.tensor(value, requires_grad=True) * 1.0 if as_tensor else value
    with pytest.raises(TrialDiverged) as info:
        DivergenceGuard().on_batch_end(FakeNet(n_epochs=3), batch=None,
                                       training=True, loss=loss)
    assert isinstance(info.value, FloatingPointError)
    message = str(info.value)
    assert f"training loss became {value}" in message
    assert "in epoch 3" in message


@pytest.mark.parametrize("loss", [torch.tensor(0.25), 1e30, 0.0, -3.0])
def test_divergence_guard_lets_finite_losses_pass(loss):
    DivergenceGuard().on_batch_end(FakeNet(), training=True, loss=loss)


def test_divergence_guard_ignores_validation_batches_and_missing_losses():
    guard = DivergenceGuard()
    for loss in (torch.tensor(float("nan")), float("inf")):
        guard.on_batch_end(FakeNet(), training=False, loss=loss)
    guard.on_batch_end(FakeNet(), training=True, loss=None)
    guard.on_batch_end(FakeNet(), training=True)


def test_divergence_guard_stops_a_real_net_after_one_batch(tiny_classification,
                                                           one_torch_thread):
    X, y_idx, labels = tiny_classification
    X_bad = np.full_like(X, np.nan)
    net = build_net({**FAST, "max_epochs": 20},
                    TaskInfo("binary", 2, n_samples=len(X)), X.shape[1],
                    classes=labels)
    with pytest.raises(TrialDiverged, match="in epoch 1"):
        net.fit(X_bad, y_idx)
    assert len(net.history) == 1
    assert len(net.history[-1]["batches"]) == 1
    assert math.isnan(net.history[-1]["batches"][0]["train_loss"])


# -------------------------------------------------------------- PruningReporter
# (the basic stop / no-stop / reset cases are in tests/search/test_fidelity.py)
def test_pruning_needs_a_validation_loss():
    """An epoch without valid_loss (no validation data, or one cut short by the
    time limit) is never pruned, however low the threshold."""
    cb = PruningReporter({1: -1.0, 2: -1.0}).initialize()
    assert not _stops(cb.on_epoch_end, FakeNet(n_epochs=1))
    net = FakeNet(valid_losses=[5.0])
    net.history.append({"train_loss": 9.0})
    assert not _stops(cb.on_epoch_end, net)
    assert cb.pruned_ is False


def test_pruning_keeps_better_losses_and_other_epochs():
    cb = PruningReporter({2: 0.5}).initialize()
    for losses in ([9.0],  # epoch 1: no threshold
                   [9.0, 0.49],  # better than the threshold
                   [9.0, 0.49, 9.0]):  # epoch 3: no threshold
        assert not _stops(cb.on_epoch_end, FakeNet(valid_losses=losses))
    assert cb.pruned_ is False
    empty = PruningReporter({}).initialize()
    assert not _stops(empty.on_epoch_end, FakeNet(valid_losses=[9.0, 9.0]))
    assert empty.pruned_ is False


def test_pruning_counts_epochs_over_the_whole_history():
    """A continued net is compared at its total epoch count, not the count of
    the current training."""
    cb = PruningReporter({7: 1.0}).initialize()
    assert not _stops(cb.on_epoch_end, FakeNet(valid_losses=[2.0] * 6))
    assert cb.pruned_ is False
    assert _stops(cb.on_epoch_end, FakeNet(valid_losses=[2.0] * 7))
    assert cb.pruned_ is True


def test_pruning_thresholds_are_a_settable_parameter():
    """run_trial hands continued nets new thresholds through set_params."""
    cb = PruningReporter()
    assert cb.get_params() == {"thresholds": None}
    cb.set_params(thresholds={3: 0.1})
    cb.initialize()
    assert _stops(cb.on_epoch_end, FakeNet(valid_losses=[1.0, 1.0, 1.0]))


# ----------------------------------------------------------------- LRSchedule
def _pickled_types(obj):
    """Pickle ``obj`` and return every object the pickle itself serialized.

    Whatever a skorch net hands to ``torch.save``/its own inner pickle (its
    module, optimizer and criterion) travels as bytes and is not seen here.
    """
    seen = []

    class Recorder(pickle.Pickler):
        def reducer_override(self, o):
            seen.append(o)
            return NotImplemented

    Recorder(io.BytesIO(), protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return seen


def _torch_state(objects):
    return [o for o in objects
            if isinstance(o, torch.optim.lr_scheduler.LRScheduler
                          | torch.optim.Optimizer)]


@pytest.fixture(scope="module", params=["cosine", "onecycle"])
def fitted(request, tiny_regression):
    X, y = tiny_regression
    torch.manual_seed(0)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    net = build_net({**FAST, "lr_schedule": request.param},
                    TaskInfo("regression", 1, n_samples=len(X)), X.shape[1])
    net.fit(X, y)
    torch.set_num_threads(before)
    return net, X, y


def test_lr_schedule_is_skorchs_lr_scheduler(fitted):
    net, _, _ = fitted
    cb = _callback(net, "lr_schedule")
    assert isinstance(cb, LRSchedule) and isinstance(cb, LRScheduler)
    # the live callback keeps its scheduler, bound to the net's optimizer
    assert isinstance(cb.lr_scheduler_, torch.optim.lr_scheduler.LRScheduler)
    assert cb.lr_scheduler_.optimizer is net.optimizer_


def test_pickled_net_holds_no_scheduler(fitted):
    net, X, _ = fitted
    cb = _callback(net, "lr_schedule")
    live_scheduler = cb.lr_scheduler_
    loaded = pickle.loads(pickle.dumps(net))
    # pickling leaves the live callback as it was
    assert cb.lr_scheduler_ is live_scheduler
    loaded_cb = _callback(loaded, "lr_schedule")
    assert isinstance(loaded_cb, LRSchedule)
    assert loaded_cb.lr_scheduler_ is None
    assert loaded_cb.policy_ is cb.policy_
    assert loaded_cb.batch_idx_ == cb.batch_idx_
    assert loaded_cb.get_params() == cb.get_params()
    # the callback in net.callbacks and in callbacks_ is still one object
    assert dict(loaded.callbacks)["lr_schedule"] is loaded_cb
    np.testing.assert_array_equal(loaded.predict(X), net.predict(X))


def test_pickle_of_a_net_carries_no_torch_scheduler_or_optimizer(fitted):
    net, _, _ = fitted
    assert _torch_state(_pickled_types(net)) == []
    # the check does see them where skorch's own LRScheduler keeps them
    plain = LRScheduler.__new__(LRScheduler)
    plain.__dict__.update(_callback(net, "lr_schedule").__dict__)
    found = _torch_state(_pickled_types(plain))
    assert any(isinstance(o, torch.optim.lr_scheduler.LRScheduler) for o in found)
    assert any(isinstance(o, torch.optim.Optimizer) for o in found)


def test_unpickled_net_continues_training(fitted, one_torch_thread):
    net, X, y = fitted
    loaded = pickle.loads(pickle.dumps(net))
    n_before = len(loaded.history)
    loaded.partial_fit(X, y)
    assert len(loaded.history) == n_before + net.max_epochs
    cb = _callback(loaded, "lr_schedule")
    # a new scheduler, on the unpickled net's own optimizer
    assert isinstance(cb.lr_scheduler_, torch.optim.lr_scheduler.LRScheduler)
    assert cb.lr_scheduler_.optimizer is loaded.optimizer_
    assert np.all(np.isfinite(loaded.predict(X)))
    # the original is untouched by its copy's training
    assert len(net.history) == n_before
    assert _callback(net, "lr_schedule").lr_scheduler_.optimizer is net.optimizer_


def test_cycle_fitter_shortens_a_cosine_cycle_that_would_not_end_in_time():
    import time as time_module

    import numpy as np
    import torch
    from skorch import NeuralNetRegressor
    from skorch.callbacks import Callback

    from skautodl.training.callbacks import CycleFitter, LRSchedule, TimeLimit

    class SlowEpoch(Callback):
        """Each epoch takes 0.2 s."""

        def on_epoch_end(self, net, **kwargs):
            time_module.sleep(0.2)

    X = np.random.RandomState(0).randn(64, 3).astype(np.float32)
    y = X[:, :1].copy()

    def make(deadline):
        return NeuralNetRegressor(
            torch.nn.Linear, module__in_features=3, module__out_features=1,
            max_epochs=10, lr=0.1, train_split=None, verbose=0,
            callbacks=[("slow", SlowEpoch()), ("time_limit", TimeLimit(deadline)),
                       ("cycle_fitter", CycleFitter(deadline)),
                       ("lr_schedule", LRSchedule(
                           policy=torch.optim.lr_scheduler.CosineAnnealingLR,
                           T_max=10))])

    # without a deadline the cycle runs as planned (and torch is warmed up)
    plain = make(None).fit(X, y)
    assert len(plain.history) == 10
    assert not dict(plain.callbacks_)["cycle_fitter"].shortened_
    # about 1.5 s for 10 epochs of 0.2 s: the cycle shrinks to what fits
    net = make(time_module.time() + 1.5).fit(X, y)
    fitter = dict(net.callbacks_)["cycle_fitter"]
    assert fitter.shortened_ and 2 <= len(net.history) <= 7
    assert not dict(net.callbacks_)["time_limit"].stopped_  # ended on an epoch
    # the schedule annealed over the epochs that ran: the last one's lr is low
    sched = dict(net.callbacks_)["lr_schedule"].lr_scheduler_
    assert sched.T_max == len(net.history)
    assert net.optimizer_.param_groups[0]["lr"] < 0.02


def test_cycle_fitter_anneals_per_batch_while_active():
    import time as time_module

    import numpy as np
    import torch
    from skorch import NeuralNetRegressor
    from skorch.callbacks import Callback

    from skautodl.training.callbacks import CycleFitter, LRSchedule

    class Recorder(Callback):
        def initialize(self):
            self.lrs = []
            return self

        def on_batch_begin(self, net, training=False, **kwargs):
            if training:
                self.lrs.append(net.optimizer_.param_groups[0]["lr"])

    X = np.random.RandomState(0).randn(64, 3).astype(np.float32)
    y = X[:, :1].copy()

    def lrs(deadline):
        net = NeuralNetRegressor(
            torch.nn.Linear, module__in_features=3, module__out_features=1,
            max_epochs=2, lr=0.1, batch_size=16, train_split=None, verbose=0,
            callbacks=[("cycle_fitter", CycleFitter(deadline)),
                       ("lr_schedule", LRSchedule(
                           policy=torch.optim.lr_scheduler.CosineAnnealingLR,
                           T_max=2)),
                       ("recorder", Recorder())]).fit(X, y)
        return dict(net.callbacks_)["recorder"].lrs

    active = lrs(time_module.time() + 3600)
    assert len(active) == 8 and active[0] == 0.1
    assert all(b < a for a, b in zip(active, active[1:], strict=False))
    # 8 batches of a 2-epoch cosine: batch k at 0.1 * (1 + cos(pi k / 8)) / 2
    np.testing.assert_allclose(
        active, [0.05 * (1 + np.cos(np.pi * k / 8)) for k in range(8)])
    # inactive (no deadline): the epoch-level cosine, constant within an epoch
    assert lrs(None) == [0.1] * 4 + [0.05] * 4
