"""Tests of skautodl/training/device_data.py (device-resident splits, CUDA release).

Without a GPU the placement is forced onto the CPU (``force=True``), which
runs the same tensor path the GPU uses; the fit/no-fit decision and the
memory release are tested with CUDA's functions patched.
"""

import gc
import pickle
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from sklearn.metrics import get_scorer
from skorch import NeuralNetClassifier
from skorch.dataset import Dataset
from skorch.helper import predefined_split

from skautodl.data.featurize import prepare_splits
from skautodl.data.loaders import TensorBatchLoader
from skautodl.data.splits import make_splits
from skautodl.data.validation import TaskInfo
from skautodl.training import device_data
from skautodl.training.device_data import (
    DeviceSplitCache,
    MemoryRelease,
    fits_on_device,
    release_cuda_memory,
    split_nbytes,
)
from skautodl.training.trial import run_trial

FAST = {"family": "mlp", "max_epochs": 3, "lr": 1e-2, "batch_size": 16,
        "module__n_units": 16, "module__n_layers": 1, "module__dropout": 0.0}
MIB = 2 ** 20


@pytest.fixture(autouse=True)
def _empty_registry():
    device_data._RESIDENT.clear()
    yield
    device_data._RESIDENT.clear()


@pytest.fixture
def free_memory(monkeypatch):
    """Pretend CUDA reports ``state['free']`` bytes free; count the calls."""
    state = {"free": 100 * MIB, "calls": 0}

    def mem_get_info(device=None):
        state["calls"] += 1
        return state["free"], 1000 * MIB

    monkeypatch.setattr(torch.cuda, "mem_get_info", mem_get_info)
    return state


@pytest.fixture(scope="module")
def clf_data(tiny_classification):
    X, y_idx, labels = tiny_classification
    y = labels[y_idx]
    splits = make_splits(X, y, cv=2, validation_fraction=0.25,
                         classification=True, seed=0)
    task = TaskInfo("binary", 2, n_samples=len(y))
    return prepare_splits(X, y_idx, y, splits), task, labels


@pytest.fixture(scope="module")
def reg_data(tiny_regression):
    X, y = tiny_regression
    splits = make_splits(X, y, cv=None, validation_fraction=0.25,
                         classification=False, seed=0)
    return prepare_splits(X, y, y, splits), TaskInfo("regression", 1, n_samples=80)


def _split(n=10, d=3, dtype=np.float64):
    rng = np.random.RandomState(0)
    return SimpleNamespace(
        X_train=rng.randn(n, d).astype(dtype), y_train=np.arange(n) % 2,
        X_valid=rng.randn(n // 2, d).astype(dtype), y_valid_fit=np.arange(n // 2) % 2,
        y_valid=np.array(["a"] * (n // 2)),
        featurizer=object(),
    )


# ----------------------------------------------------------- fits_on_device
def test_fits_on_device_never_on_cpu(free_memory):
    assert not fits_on_device(1, "cpu")
    assert not fits_on_device(0, torch.device("cpu"), fraction=1.0)
    assert free_memory["calls"] == 0


def test_fits_on_device_compares_with_free_memory(free_memory):
    assert fits_on_device(50 * MIB, "cuda")
    assert not fits_on_device(50 * MIB + 1, "cuda")
    assert fits_on_device(90 * MIB, "cuda:0", fraction=0.9)
    free_memory["free"] = 10 * MIB
    assert not fits_on_device(50 * MIB, "cuda")


def test_fits_on_device_false_when_memory_unreadable(monkeypatch):
    def broken(device=None):
        raise RuntimeError("no driver")

    monkeypatch.setattr(torch.cuda, "mem_get_info", broken)
    assert not fits_on_device(1, "cuda")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CPU-only build behaviour")
def test_fits_on_device_without_cuda_build():
    assert not fits_on_device(1, "cuda")


@pytest.mark.parametrize("fraction", [0, -0.1, 1.5])
def test_fits_on_device_rejects_bad_fraction(fraction):
    with pytest.raises(ValueError, match="fraction must be in"):
        fits_on_device(1, "cuda", fraction=fraction)


def test_split_nbytes_counts_features_as_float32():
    s = _split(n=10, d=3)
    assert split_nbytes([s]) == (10 * 3 + 5 * 3) * 4
    assert split_nbytes([s], targets=True) == (10 * 3 + 5 * 3) * 4 + (10 + 5) * 8
    assert split_nbytes([s, s]) == 2 * split_nbytes([s])


# --------------------------------------------------------- DeviceSplitCache
def test_cpu_keeps_the_host_splits(free_memory):
    splits = [_split()]
    cache = DeviceSplitCache()
    out = cache.get(splits, "cpu")
    assert out[0] is splits[0]
    assert cache.on_device("cpu") is False
    assert free_memory["calls"] == 0


def test_forced_placement_gives_float32_tensors():
    s = _split()
    (placed,) = DeviceSplitCache(force=True).get([s], "cpu")
    assert placed is not s
    for name in ("X_train", "X_valid"):
        t = getattr(placed, name)
        assert isinstance(t, torch.Tensor) and t.dtype == torch.float32
        np.testing.assert_array_equal(t.numpy(), getattr(s, name).astype(np.float32))
    # targets stay numpy by default; other fields are shared
    assert placed.y_train is s.y_train and placed.y_valid_fit is s.y_valid_fit
    assert placed.y_valid is s.y_valid and placed.featurizer is s.featurizer
    # the host split is untouched
    assert isinstance(s.X_train, np.ndarray) and s.X_train.dtype == np.float64


def test_forced_placement_with_targets_and_dataclass_splits(clf_data):
    data, _, _ = clf_data
    placed = DeviceSplitCache(force=True, targets=True).get(data, "cpu")
    assert type(placed[0]) is type(data[0])
    assert placed[0].y_train.dtype == torch.int64
    np.testing.assert_array_equal(placed[0].y_valid_fit.numpy(), data[0].y_valid_fit)
    assert placed[0].y_valid is data[0].y_valid  # the scorer's labels stay host


def test_none_fields_stay_none():
    s = SimpleNamespace(X_train=np.ones((4, 2), np.float32), y_train=np.zeros(4),
                        X_valid=None, y_valid_fit=None)
    (placed,) = DeviceSplitCache(force=True, targets=True).get([s], "cpu")
    assert placed.X_valid is None and placed.y_valid_fit is None


def test_dataclass_replace_keeps_indices(clf_data):
    data, _, _ = clf_data
    (placed,) = DeviceSplitCache(force=True).get(data[:1], "cpu")
    assert placed.train_index is data[0].train_index
    assert replace(placed, X_train=None).X_train is None


def test_cuda_decision_no_fit_keeps_host_and_is_taken_once(free_memory):
    free_memory["free"] = 100  # bytes
    splits = [_split()]
    cache = DeviceSplitCache()
    assert cache.on_device("cuda") is None
    assert cache.get(splits, "cuda")[0] is splits[0]
    assert cache.get(splits, "cuda")[0] is splits[0]
    assert cache.on_device("cuda") is False
    assert free_memory["calls"] == 1


def test_cuda_decision_fit_places_once(free_memory, monkeypatch):
    moved = []

    def fake_to_device(a, device, feature):
        moved.append(device)
        return None if a is None else torch.as_tensor(np.asarray(a))

    monkeypatch.setattr(device_data, "_to_device", fake_to_device)
    splits = [_split(), _split()]
    cache = DeviceSplitCache()
    first = cache.get(splits, "cuda")
    assert cache.get(splits, "cuda") is first
    assert cache.on_device("cuda") is True
    assert moved == ["cuda"] * 4  # 2 splits x (X_train, X_valid), one time
    assert free_memory["calls"] == 1


def test_out_of_memory_while_placing_falls_back(free_memory, monkeypatch):
    def oom(a, device, feature):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(device_data, "_to_device", oom)
    splits = [_split()]
    cache = DeviceSplitCache()
    assert cache.get(splits, "cuda")[0] is splits[0]
    assert cache.on_device("cuda") is False


def test_pickled_copies_share_the_process_entry():
    splits = [_split()]
    cache = DeviceSplitCache(force=True)
    placed = cache.get(splits, "cpu")
    copy = pickle.loads(pickle.dumps(cache))  # what a joblib job receives
    assert copy.token == cache.token and copy.force
    assert copy.get(splits, "cpu") is placed
    assert len(pickle.dumps(cache)) < 500  # no data travels with it


def test_one_search_per_process_and_clear():
    splits = [_split()]
    first = DeviceSplitCache(force=True)
    first.get(splits, "cpu")
    second = DeviceSplitCache(force=True)
    second.get(splits, "cpu")
    assert first.on_device("cpu") is None  # evicted
    second.clear("cpu")
    assert second.on_device("cpu") is None
    second.get(splits, "cpu")
    second.clear()
    assert not device_data._RESIDENT


def test_feature_sets_are_kept_apart_by_key():
    onehot, codes = [_split(d=3)], [_split(d=5)]
    cache = DeviceSplitCache(force=True)
    a = cache.get(onehot, "cpu", key=("onehot",))
    b = cache.get(codes, "cpu", key=("codes",))
    assert a[0].X_train.shape[1] == 3 and b[0].X_train.shape[1] == 5
    copy = pickle.loads(pickle.dumps(cache))
    assert copy.get(codes, "cpu", key=("codes",)) is b
    assert cache.on_device("cpu", ("onehot",)) is True
    assert cache.on_device("cpu") is None  # no list under the default key
    cache.clear("cpu")
    assert cache.on_device("cpu", ("codes",)) is None


def test_to_host_swaps_device_tensors_for_their_host_arrays():
    s = _split(dtype=np.float32)
    cache = DeviceSplitCache(force=True)
    (placed,) = cache.get([s], "meta")  # a non-CPU device without a GPU
    assert placed.X_valid.device.type == "meta"
    net = SimpleNamespace(train_split=predefined_split(
        Dataset(placed.X_valid, s.y_valid_fit)))
    assert cache.to_host(net) is net
    ds = net.train_split.keywords["valid_ds"]
    assert ds.X is s.X_valid and ds.y is s.y_valid_fit  # no copy
    assert isinstance(ds, Dataset) and len(ds) == len(s.X_valid)
    assert pickle.loads(pickle.dumps(net.train_split)).keywords["valid_ds"].X.shape \
        == s.X_valid.shape


def test_to_host_leaves_host_data_and_other_splits_alone():
    cache = DeviceSplitCache(force=True)
    (placed,) = cache.get([_split()], "cpu")
    split = predefined_split(Dataset(placed.X_valid, None))
    net = SimpleNamespace(train_split=split)
    cache.to_host(net)
    assert net.train_split is split  # CPU tensors: nothing to do
    for train_split in (None, SimpleNamespace()):
        net = SimpleNamespace(train_split=train_split)
        assert cache.to_host(net).train_split is train_split


def test_repr():
    assert repr(DeviceSplitCache(0.25)) == (
        "DeviceSplitCache(fraction=0.25, force=False, targets=False)")


# ------------------------------------------ training on the placed tensors
def _same_trials(a, b):
    assert a.status == b.status == "ok", (a.error, b.error)
    assert a.split_scores == b.split_scores
    assert a.curve == b.curve
    for pa, pb in zip(a.valid_predictions, b.valid_predictions, strict=True):
        np.testing.assert_array_equal(pa, pb)
    for na, nb in zip(a.nets, b.nets, strict=True):
        for va, vb in zip(na.module_.state_dict().values(),
                          nb.module_.state_dict().values(), strict=True):
            assert torch.equal(va, vb)


@pytest.mark.parametrize("targets", [False, True])
def test_run_trial_on_placed_splits_equals_host(clf_data, targets):
    data, task, labels = clf_data
    scorer = get_scorer("accuracy")
    host = run_trial(FAST, data, task, scorer=scorer, classes=labels, seed=3)
    placed = DeviceSplitCache(force=True, targets=targets).get(data, "cpu")
    assert isinstance(placed[0].X_train, torch.Tensor)
    dev = run_trial(FAST, placed, task, scorer=scorer, classes=labels, seed=3)
    _same_trials(host, dev)


def test_run_trial_regression_on_placed_splits_equals_host(reg_data):
    data, task = reg_data
    scorer = get_scorer("r2")
    host = run_trial(FAST, data, task, scorer=scorer, seed=1)
    placed = DeviceSplitCache(force=True).get(data, "cpu")
    _same_trials(host, run_trial(FAST, placed, task, scorer=scorer, seed=1))


def test_plain_skorch_net_consumes_placed_tensors(clf_data):
    data, _, _ = clf_data
    (s,) = data[:1]
    (p,) = DeviceSplitCache(force=True, targets=True).get([s], "cpu")

    def fit(X, y):
        torch.manual_seed(0)
        return NeuralNetClassifier(
            torch.nn.Sequential(torch.nn.Linear(X.shape[1], 8), torch.nn.ReLU(),
                                torch.nn.Linear(8, 2)),
            criterion=torch.nn.CrossEntropyLoss, max_epochs=2, batch_size=16,
            train_split=None, verbose=0, iterator_train=TensorBatchLoader,
            iterator_train__shuffle=True, iterator_valid=TensorBatchLoader,
        ).fit(X, y)

    a = fit(s.X_train, s.y_train)
    b = fit(p.X_train, p.y_train)
    assert a.history[:, "train_loss"] == b.history[:, "train_loss"]
    np.testing.assert_array_equal(a.predict_proba(s.X_valid),
                                  b.predict_proba(p.X_valid))


# ------------------------------------------------------ release_cuda_memory
def test_release_is_a_no_op_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)

    def no_gc(*args):
        raise AssertionError("gc.collect must not run without CUDA")

    monkeypatch.setattr(gc, "collect", no_gc)
    assert release_cuda_memory() == MemoryRelease(0, 0)


def test_release_empties_the_cache_and_reports(monkeypatch):
    reserved = {0: 300, 1: 200}
    calls = []

    def empty_cache():
        calls.append("empty")
        reserved.update({0: 100, 1: 0})

    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda i: reserved[i])
    monkeypatch.setattr(torch.cuda, "empty_cache", empty_cache)
    monkeypatch.setattr(gc, "collect", lambda *a: calls.append("gc") or 0)
    out = release_cuda_memory()
    assert out == MemoryRelease(reserved_before=500, reserved_after=100)
    assert calls == ["gc", "empty"]


# --------------------------------------------------------------------- GPU
@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_placement_and_training(clf_data):
    data, task, labels = clf_data
    cache = DeviceSplitCache()
    placed = cache.get(data, "cuda")
    assert cache.on_device("cuda") is True
    assert placed[0].X_train.is_cuda and placed[0].X_valid.is_cuda
    scorer = get_scorer("accuracy")
    host = run_trial(FAST, data, task, scorer=scorer, classes=labels, seed=3,
                     device="cuda")
    dev = run_trial(FAST, placed, task, scorer=scorer, classes=labels, seed=3,
                    device="cuda")
    assert dev.status == "ok", dev.error
    np.testing.assert_allclose(dev.split_scores, host.split_scores, atol=0.05)
    # the kept nets hold no device-resident data once handed back to the host
    for net in dev.nets:
        assert net.train_split.keywords["valid_ds"].X.is_cuda
        cache.to_host(net)
        assert isinstance(net.train_split.keywords["valid_ds"].X, np.ndarray)
        pickle.loads(pickle.dumps(net))
    cache.clear()
    del placed, host, dev
    before, after = release_cuda_memory()
    assert after <= before
