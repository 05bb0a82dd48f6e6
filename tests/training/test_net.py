"""Tests of skautodl/training/net.py: build_net, the skorch nets, the loader."""

import time

import numpy as np
import pytest
import torch
from skorch.callbacks import EarlyStopping
from skorch.dataset import Dataset

from skautodl.data.validation import TaskInfo
from skautodl.networks.mlp import MLP
from skautodl.search.space import TRAINING_DEFAULTS
from skautodl.training.net import (
    AutoNetClassifier,
    AutoNetRegressor,
    TensorBatchLoader,
    build_net,
    standardized_valid_dataset,
)

FAST = {"family": "mlp", "max_epochs": 4, "lr": 1e-2, "batch_size": 16,
        "module__n_units": 16, "module__dropout": 0.0}


def _callbacks(net):
    return dict(net.callbacks_)


# ---------------------------------------------------------------- build_net
def test_build_net_classifier(tiny_classification):
    X, _, labels = tiny_classification
    net = build_net(FAST, TaskInfo("binary", 2, n_samples=80), X.shape[1],
                    classes=labels)
    assert isinstance(net, AutoNetClassifier)
    assert net.module is MLP
    assert net.max_epochs == 4 and net.batch_size == 16 and net.lr == 1e-2
    assert net.module__n_inputs == 4 and net.module__n_outputs == 2
    assert net.module__n_units == 16
    assert net.optimizer is torch.optim.AdamW
    assert net.iterator_train is TensorBatchLoader


def test_build_net_regressor():
    task = TaskInfo("multioutput-regression", 3, n_samples=50)
    net = build_net(FAST, task, 5)
    assert isinstance(net, AutoNetRegressor)
    assert net.module__n_outputs == 3
    assert net.criterion is torch.nn.MSELoss


def test_build_net_applies_defaults_and_routes_keys():
    task = TaskInfo("regression", 1, n_samples=500)
    net = build_net({"family": "mlp", "optimizer__weight_decay": 0.05}, task, 3)
    # the one source of training defaults: the search space's
    assert net.max_epochs == TRAINING_DEFAULTS["max_epochs"] == 60
    assert net.batch_size == TRAINING_DEFAULTS["batch_size"] == 64
    assert net.lr == TRAINING_DEFAULTS["lr"]
    assert net.optimizer__weight_decay == 0.05
    net.initialize()
    assert net.optimizer_.param_groups[0]["weight_decay"] == 0.05


def test_batch_size_clipped_to_training_size():
    net = build_net({**FAST, "batch_size": 256}, TaskInfo("regression", 1,
                                                          n_samples=40), 3)
    assert net.batch_size == 40


def test_drop_last_avoids_a_batch_of_one():
    task = TaskInfo("regression", 1, n_samples=33)
    assert build_net({**FAST, "batch_size": 16}, task, 3).iterator_train__drop_last
    task = TaskInfo("regression", 1, n_samples=34)
    assert not build_net({**FAST, "batch_size": 16}, task, 3).iterator_train__drop_last


def test_early_stopping_only_with_validation_data(tiny_regression):
    X, y = tiny_regression
    task = TaskInfo("regression", 1, n_samples=80)
    valid = standardized_valid_dataset(AutoNetRegressor, X[:10], y[:10], y)
    with_valid = build_net({**FAST, "callbacks__early_stopping__patience": 3}, task,
                           3, valid=valid)
    with_valid.initialize()
    es = _callbacks(with_valid)["early_stopping"]
    assert isinstance(es, EarlyStopping) and es.patience == 3
    without = build_net(FAST, task, 3)
    without.initialize()
    assert "early_stopping" not in _callbacks(without)
    assert without.train_split is None


def test_unknown_family_raises():
    with pytest.raises(ValueError, match="Unknown network family 'nope'"):
        build_net({**FAST, "family": "nope"}, TaskInfo("regression", 1), 3)


# ---------------------------------------------------------------- classifier
@pytest.mark.parametrize("order", ["sorted", "reversed"])
def test_classifier_predicts_user_labels(tiny_classification, order):
    X, y_idx, labels = tiny_classification
    if order == "reversed":  # index 0 now means "pos": columns follow classes
        labels = labels[::-1]
    y_true = labels[y_idx]
    net = build_net(FAST, TaskInfo("binary", 2, n_samples=80), 4, classes=labels)
    net.fit(X, y_idx)
    pred = net.predict(X)
    assert pred.dtype.kind == "U"
    assert set(pred) <= set(labels)
    assert np.mean(pred == y_true) > 0.8
    proba = net.predict_proba(X)
    assert proba.shape == (80, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(pred, labels[proba.argmax(axis=1)])
    np.testing.assert_array_equal(net.classes_, labels)
    # the column of the true label gets the higher probability on most rows
    assert np.mean(proba[np.arange(80), y_idx] > 0.5) > 0.8


def test_classifier_accepts_float64_and_int_labels(tiny_classification):
    X, y_idx, _ = tiny_classification
    net = build_net({**FAST, "max_epochs": 1}, TaskInfo("binary", 2, n_samples=80),
                    4, classes=[10, 20])
    net.fit(X.astype(np.float64), y_idx.astype(np.int32))
    assert set(net.predict(X.astype(np.float64))) <= {10, 20}


def test_multiclass_probabilities(tiny_classification):
    X, _, _ = tiny_classification
    y_idx = np.digitize(X[:, 0], [-0.5, 0.5]).astype(np.int64)
    labels = np.array(["lo", "mid", "hi"])
    net = build_net(FAST, TaskInfo("multiclass", 3, n_samples=80), 4, classes=labels)
    net.fit(X, y_idx)
    proba = net.predict_proba(X)
    assert proba.shape == (80, 3) and (proba >= 0).all()
    assert set(net.predict(X)) <= set(labels)


# ---------------------------------------------------------------- regressor
def test_regressor_standardizes_targets_internally(tiny_regression):
    X, y = tiny_regression
    net = build_net({**FAST, "max_epochs": 3}, TaskInfo("regression", 1,
                                                        n_samples=80), 3)
    net.fit(X, y)
    np.testing.assert_allclose(net.target_mean_, [y.mean()], rtol=1e-5)
    np.testing.assert_allclose(net.target_scale_, [y.std()], rtol=1e-4)
    # the loss is computed on the standardized scale: about 1 for a poor
    # model, where the raw targets (std ~ 50) would give a loss in the 1000s
    assert net.history[-1, "train_loss"] < 5
    pred = net.predict(X)
    assert pred.shape == (80,) and pred.dtype == np.float64
    # predictions come back in the user's units
    assert abs(pred.mean() - y.mean()) < 0.5 * y.std()
    raw = net.predict_proba(X)  # the network's own (standardized) outputs
    np.testing.assert_allclose(pred, raw.ravel() * net.target_scale_[0]
                               + net.target_mean_[0], rtol=1e-5)


def test_regressor_output_dimensions(tiny_regression):
    X, y = tiny_regression
    y2 = np.column_stack([y, -3 * y])
    cfg = {**FAST, "max_epochs": 1}
    net = build_net(cfg, TaskInfo("multioutput-regression", 2, n_samples=80), 3)
    net.fit(X, y2)
    assert net.predict(X).shape == (80, 2)
    assert net.target_mean_.shape == (2,)
    column = build_net(cfg, TaskInfo("regression", 1, n_samples=80), 3)
    column.fit(X, y.reshape(-1, 1))
    assert column.predict(X).shape == (80, 1)
    flat = build_net(cfg, TaskInfo("regression", 1, n_samples=80), 3)
    flat.fit(X, y)
    assert flat.predict(X).shape == (80,)


def test_regressor_constant_target_does_not_divide_by_zero(tiny_regression):
    X, _ = tiny_regression
    net = build_net({**FAST, "max_epochs": 1}, TaskInfo("regression", 1,
                                                        n_samples=80), 3)
    net.fit(X, np.full(80, 7.0))
    assert net.target_scale_[0] == 1.0
    assert np.isfinite(net.predict(X)).all()


def test_refit_learns_new_target_statistics(tiny_regression):
    X, y = tiny_regression
    net = build_net({**FAST, "max_epochs": 1}, TaskInfo("regression", 1,
                                                        n_samples=80), 3)
    net.fit(X, y)
    net.fit(X, y + 1000.0)
    np.testing.assert_allclose(net.target_mean_, [y.mean() + 1000.0], rtol=1e-5)


def test_standardized_valid_dataset_uses_training_statistics():
    y_train = np.array([0.0, 10.0, 20.0])
    X_valid = np.zeros((2, 1))
    ds = standardized_valid_dataset(AutoNetRegressor, X_valid, np.array([10.0, 30.0]),
                                    y_train)
    scale = y_train.std()
    np.testing.assert_allclose(ds.y.ravel(), [0.0, 20.0 / scale], rtol=1e-6)
    assert ds.X.dtype == np.float32 and ds.y.dtype == np.float32
    cls_ds = standardized_valid_dataset(AutoNetClassifier, X_valid, np.array([1, 0]),
                                        None)
    assert cls_ds.y.dtype == np.int64


# ---------------------------------------------------------------- loader
def _loader(n=10, batch_size=4, **kwargs):
    X = torch.arange(n, dtype=torch.float32).reshape(n, 1)
    y = torch.arange(n)
    return TensorBatchLoader(Dataset(X, y), batch_size=batch_size, **kwargs)


def test_loader_batches_in_order():
    loader = _loader()
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert [len(xb) for xb, _ in batches] == [4, 4, 2]
    np.testing.assert_array_equal(torch.cat([yb for _, yb in batches]), np.arange(10))
    for xb, yb in batches:
        np.testing.assert_array_equal(xb.ravel().long(), yb)


def test_loader_drop_last():
    loader = _loader(drop_last=True)
    batches = list(loader)
    assert len(loader) == len(batches) == 2
    assert all(len(xb) == 4 for xb, _ in batches)


def test_loader_shuffle_is_a_permutation_seeded_by_torch():
    torch.manual_seed(1)
    first = torch.cat([yb for _, yb in _loader(shuffle=True)])
    torch.manual_seed(1)
    again = torch.cat([yb for _, yb in _loader(shuffle=True)])
    np.testing.assert_array_equal(np.sort(first.numpy()), np.arange(10))
    assert not np.array_equal(first.numpy(), np.arange(10))
    np.testing.assert_array_equal(first, again)


def test_loader_without_targets_and_from_numpy():
    loader = TensorBatchLoader(Dataset(np.ones((5, 2), dtype=np.float32), None),
                               batch_size=2)
    batches = list(loader)
    assert [xb.shape[0] for xb, _ in batches] == [2, 2, 1]
    assert all(yb is None for _, yb in batches)
    assert isinstance(batches[0][0], torch.Tensor)


# ---------------------------------------------------------------- callbacks
def test_deadline_in_the_past_stops_after_one_batch(tiny_regression):
    X, y = tiny_regression
    net = build_net({**FAST, "max_epochs": 50}, TaskInfo("regression", 1,
                                                         n_samples=80), 3,
                    deadline=time.time() - 1)
    net.fit(X, y)
    assert len(net.history) == 1
    assert len(net.history[-1, "batches"]) == 1
    assert _callbacks(net)["time_limit"].stopped_


def test_restart_lr_gives_continued_training_a_full_cosine_cycle():
    from skautodl.data.validation import TaskInfo
    from skautodl.training.net import build_net, restart_lr

    rng = np.random.RandomState(0)
    X = rng.normal(size=(64, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    task = TaskInfo("binary", 2, n_samples=64)
    net = build_net({"family": "mlp", "lr": 0.01, "max_epochs": 3,
                     "module__n_units": 8}, task, 3, classes=[0, 1])
    net.fit(X, y)
    assert net.optimizer_.param_groups[0]["lr"] < 1e-6  # end of the cosine
    net.set_params(max_epochs=4, callbacks__lr_schedule__T_max=4)
    restart_lr(net)
    assert net.optimizer_.param_groups[0]["lr"] == pytest.approx(0.01)
    net.partial_fit(X, y)
    lrs = net.history[-4:, "event_lr"]  # the rates of the continued epochs
    # one new cosine cycle from lr over the 4 new epochs (a warm restart)
    expected = [0.005 * (1 + np.cos(np.pi * e / 4)) for e in range(4)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-6)


def test_reuse_outputs_runs_one_forward_pass():
    from skautodl.data.validation import TaskInfo
    from skautodl.training.net import build_net, reuse_outputs

    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    net = build_net({"family": "mlp", "max_epochs": 2, "module__n_units": 8},
                    TaskInfo("binary", 2, n_samples=40), 3, classes=["a", "b"])
    net.fit(X, y)
    calls = []
    net.module_.register_forward_hook(lambda *args: calls.append(1))
    expected = net.predict_proba(X)
    calls.clear()
    with reuse_outputs(net, X) as out:
        np.testing.assert_array_equal(out, expected)
        np.testing.assert_array_equal(net.predict_proba(X), expected)
        assert list(net.predict(X)) == list(np.array(["a", "b"])[out.argmax(1)])
        net.predict_proba(X[:5])  # another array: computed, not cached
    assert len(calls) == 2  # one pass for X (batch 40 <= batch_size), one for X[:5]
    assert "predict_proba" not in net.__dict__


# ---------------------------------------------------------- regularization
def _xy(n=64, d=3, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(np.int64)


def _scheduled_net(schedule, epochs):
    """A small net trained ``epochs`` epochs of 4 batches under ``schedule``,
    and the learning rate of each batch."""
    X, y = _xy()
    task = TaskInfo("binary", 2, n_samples=64)
    net = build_net({"family": "mlp", "lr": 0.01, "max_epochs": epochs,
                     "batch_size": 16, "lr_schedule": schedule,
                     "module__n_units": 8}, task, 3, classes=[0, 1])
    net.fit(X, y)
    return net, [b["event_lr"] for epoch in net.history for b in epoch["batches"]]


def _continued_lrs(net, epochs):
    """The per-batch learning rates of a continued training (a promotion)."""
    from skautodl.training.net import restart_lr, set_cycle_length

    X, y = _xy()
    net.set_params(max_epochs=epochs)
    set_cycle_length(net, epochs)
    restart_lr(net)
    net.partial_fit(X, y)
    return [b["event_lr"] for epoch in net.history[-epochs:] for b in epoch["batches"]]


def test_onecycle_schedule_warms_up_then_anneals_per_batch():
    net, lrs = _scheduled_net("onecycle", 3)
    assert len(lrs) == 12  # 3 epochs x 4 batches, one step per batch
    peak = int(np.argmax(lrs))
    assert 0 < peak < 11 and 0.0095 < max(lrs) <= 0.01
    assert lrs[0] == pytest.approx(0.01 / 25)  # warm-up start
    assert lrs[-1] < 1e-5  # the last batch trains at the annealed rate
    # a continued training is one new cycle of its own length
    more = _continued_lrs(net, 2)
    assert len(more) == 8 and more[0] == pytest.approx(0.01 / 25)
    assert 0.0095 < max(more) <= 0.01


def test_coslog_schedule_runs_four_growing_cycles_per_batch():
    import math
    import pickle

    from skautodl.training.net import CosLog

    net, lrs = _scheduled_net("coslog4", 15)
    lrs = np.array(lrs)
    assert len(lrs) == 60  # 15 epochs x 4 batches, one step per batch
    expected = [0.01 * 0.5 * (1 - math.cos(2 * math.pi * math.log2(1 + 15 * s / 60)))
                for s in range(60)]
    np.testing.assert_allclose(lrs, expected, atol=1e-9)
    # four cycles: back to zero after 4, 12 and 28 of the 60 batches
    assert [s for s in range(1, 59) if lrs[s] < lrs[s - 1] and lrs[s] < lrs[s + 1]] \
        == [4, 12, 28]
    assert lrs.max() > 0.0099
    # a continued training is one new schedule of its own length
    more = _continued_lrs(net, 2)
    assert len(more) == 8 and more[0] == 0.0 and max(more) > 0.005
    # the schedule pickles with the net (checkpoints, worker processes)
    assert pickle.loads(pickle.dumps(CosLog(3, 4))) == CosLog(3, 4)
    pickle.loads(pickle.dumps(net))


def test_unknown_schedule_and_augmentation_names_raise():
    task = TaskInfo("binary", 2, n_samples=64)
    with pytest.raises(ValueError, match="lr_schedule must be one of"):
        build_net({"family": "mlp", "lr_schedule": "step"}, task, 3, classes=[0, 1])
    with pytest.raises(ValueError, match="augmentation parameter.*mixup_alpha"):
        build_net({"family": "mlp", "augment__mixup": 0.2}, task, 3, classes=[0, 1])


def test_label_smoothing_reaches_the_criterion():
    X, y = _xy()
    task = TaskInfo("binary", 2, n_samples=64)
    net = build_net({**FAST, "criterion__label_smoothing": 0.1}, task, 3,
                    classes=[0, 1]).initialize()
    assert net.criterion_.label_smoothing == pytest.approx(0.1)


def test_patience_from_config_sets_early_stopping():
    X, y = _xy()
    task = TaskInfo("binary", 2, n_samples=64)
    valid = standardized_valid_dataset(AutoNetClassifier, X, y, y)
    net = build_net({**FAST, "callbacks__early_stopping__patience": 17}, task, 3,
                    classes=[0, 1], valid=valid)
    assert _callbacks(net.initialize())["early_stopping"].patience == 17


def test_augmentation_applies_to_training_batches_only():
    from skautodl.data.augment import AugmentedBatchLoader

    X, y = _xy()
    task = TaskInfo("binary", 2, n_samples=64)
    plain = build_net(FAST, task, 3, classes=[0, 1])
    assert plain.iterator_train is TensorBatchLoader
    net = build_net({**FAST, "augment__mixup_alpha": 0.4}, task, 3, classes=[0, 1])
    assert net.iterator_train is AugmentedBatchLoader
    assert net.iterator_valid is TensorBatchLoader
    assert net.iterator_train__augmentation.mixup_alpha == 0.4
    assert net.iterator_train__n_classes == 2
    seen = []
    net.initialize()
    net.module_.register_forward_hook(lambda m, inp, out: seen.append(inp[0]))
    torch.manual_seed(0)
    net.partial_fit(X, y)  # keeps the hooked module (fit would rebuild it)
    rows = {tuple(np.round(r, 5)) for r in X.tolist()}
    trained = torch.cat(seen[:4]).detach().numpy()  # first epoch's batches
    # mixed rows are not rows of X (mixup draws a weight strictly in (0, 1))
    assert sum(tuple(np.round(r, 5)) in rows for r in trained.tolist()) < len(trained)
    seen.clear()
    proba = net.predict_proba(X)
    assert proba.shape == (64, 2)
    # predictions see the data untouched: the same as the module on X
    with torch.no_grad():
        direct = torch.softmax(net.module_(torch.as_tensor(X)), dim=1).numpy()
    np.testing.assert_allclose(proba, direct, atol=1e-5)


def test_image_augmentation_uses_the_image_shape():
    X = np.random.RandomState(0).rand(32, 64).astype(np.float32)
    y = np.arange(32) % 2
    task = TaskInfo("binary", 2, input_kind="image", n_samples=32,
                    image_shape=(1, 8, 8))
    net = build_net({"family": "cnn", "max_epochs": 1, "batch_size": 16,
                     "module__width": 8, "module__n_stages": 1,
                     "augment__shift": 1, "augment__rotation": 10.0,
                     "augment__cutout": 2}, task, 64, classes=[0, 1])
    aug = net.iterator_train__augmentation
    assert aug.image_shape == (1, 8, 8) and aug.uses_images
    net.fit(X, y)
    assert np.isfinite(net.history[-1, "train_loss"])


def test_data_params_reach_only_families_that_declare_them():
    task = TaskInfo("binary", 2, n_samples=64)
    net = build_net(FAST, task, 3, classes=[0, 1],
                    data_params={"n_numeric": 3, "cardinalities": [4]})
    assert "module__n_numeric" not in net.get_params()


# ------------------------- targets near float32's limit (hardening issue, 4)
def test_target_stats_are_float64_and_do_not_overflow():
    from skautodl.training.net import target_stats

    y = (np.arange(80, dtype=np.float64).reshape(-1, 1) + 100.0) * 1e36
    mean, scale = target_stats(y.astype(np.float32))
    assert mean.dtype == np.float64 and scale.dtype == np.float64
    np.testing.assert_allclose(mean, y.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(scale, y.std(axis=0), rtol=1e-6)
    # float64 input keeps its precision: a large offset with a unit spread
    offset = np.array([[1e10], [1e10 + 1.0], [1e10 + 2.0]])
    mean, scale = target_stats(offset)
    assert mean[0] == 1e10 + 1.0
    np.testing.assert_allclose(scale, [np.sqrt(2 / 3)], rtol=1e-12)


def test_regressor_trains_on_targets_near_the_float32_limit(tiny_regression):
    X, y = tiny_regression
    big = (y * 1e36).astype(np.float32)  # up to ~3e38: finite in float32
    assert np.isfinite(big).all()
    net = build_net({**FAST, "max_epochs": 2}, TaskInfo("regression", 1,
                                                        n_samples=80), 3)
    net.fit(X, big)
    assert np.isfinite(net.history[:, "train_loss"]).all()
    pred = net.predict(X)
    assert np.isfinite(pred).all()
    assert abs(pred.mean() - y.mean() * 1e36) < y.std() * 1e36
    valid = standardized_valid_dataset(AutoNetRegressor, X[:10], big[:10], big)
    assert valid.y.dtype == np.float32 and np.isfinite(valid.y).all()
    np.testing.assert_allclose(valid.y.ravel(),
                               (y[:10] - y.mean()) / y.std(), rtol=1e-4)


def test_target_stats_give_tiny_targets_their_own_scale():
    from skautodl.training.net import target_stats

    y = np.array([[1.0], [2.0], [4.0]]) * 1e-15
    _, scale = target_stats(y)
    np.testing.assert_allclose(scale, y.std(axis=0), rtol=1e-12)
    _, scale = target_stats(np.full((4, 1), 7.0, dtype=np.float32))
    assert scale[0] == 1.0
