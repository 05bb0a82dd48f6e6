"""Tests of skautodl/training/refit.py: the guarded refit on all data."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification

from skautodl import AutoDLClassifier
from skautodl.data.featurize import FeatureStore
from skautodl.data.splits import make_splits
from skautodl.data.validation import TaskInfo
from skautodl.exceptions import RefitError, RefitFailedWarning, TrialDiverged
from skautodl.training import refit as refit_module
from skautodl.training.refit import refit
from skautodl.training.trial import run_trial

FAST = {"cv": None, "time_budget": None, "n_trials": 2, "verbose": 0, "random_state": 0,
        "device": "cpu", "families": ["mlp"], "fidelity": None,
        "search_space": {"max_epochs": 3}, "ensemble_size": 1}
CONFIG = {"family": "mlp", "max_epochs": 3, "lr": 1e-2, "batch_size": 16,
          "module__n_units": 16, "module__n_layers": 1, "module__dropout": 0.0}


@pytest.fixture(scope="module")
def data():
    return make_classification(n_samples=100, n_features=5, random_state=0)


@pytest.fixture
def search(data):
    """A finished trial (its result and nets) and the search's features."""
    from sklearn.metrics import get_scorer

    X, y = data
    task = TaskInfo("binary", 2, n_samples=len(y))
    splits = make_splits(X, y, cv=None, validation_fraction=0.25,
                         classification=True, seed=0)
    features = FeatureStore(X, y.astype(np.int64), y, splits, task)
    from skautodl.training.trial import feature_key

    result = run_trial(CONFIG, features.get(feature_key(task, CONFIG)), task,
                       scorer=get_scorer("accuracy"), classes=np.array([0, 1]),
                       seed=0)
    return result, features, task


def _failing(exc):
    def train_segment(*args, **kwargs):
        raise exc

    return train_segment


@pytest.mark.parametrize("exc", [
    TrialDiverged("training loss became nan in epoch 1"),
    MemoryError("no room"),
    torch.cuda.OutOfMemoryError("CUDA out of memory"),
    RuntimeError("anything else"),
], ids=["diverged", "memory", "cuda-oom", "other"])
def test_a_failed_refit_keeps_the_best_trials_model(data, monkeypatch, exc):
    X, y = data
    monkeypatch.setattr(refit_module, "train_segment", _failing(exc))
    clf = AutoDLClassifier(**FAST)
    with pytest.warns(RefitFailedWarning, match=f"refit on all data failed.*"
                      f"{type(exc).__name__}.*keeps the best trial's model"):
        clf.fit(X, y)
    net = clf.best_estimator_[-1]
    # the trial's own model: trained and scored on its validation split...
    assert "valid_loss" in net.history[-1]
    assert clf.score(X, y) > 0.6
    # ...handed back without a reference to the validation rows
    assert net.train_split is None
    assert np.isfinite(clf.predict_proba(X)).all()


def test_the_trial_model_holds_no_validation_data(search):
    result, features, task = search
    pipe = refit(result, result.nets, features.X, features.y_fit, task, features,
                 classes=np.array([0, 1]), quick=True)
    net = pipe[-1]
    assert net is result.nets[0] and net.train_split is None
    valid = features.get(next(iter(features.keys())))[0].X_valid
    # the pickle is the weights and settings, not the held-out rows
    assert valid.tobytes()[:64] not in pickle.dumps(pipe)


def test_without_a_trial_model_a_failed_refit_says_so(search, monkeypatch):
    result, features, task = search
    monkeypatch.setattr(refit_module, "train_segment",
                        _failing(MemoryError("no room")))
    with pytest.raises(RefitError, match="MemoryError: no room.*checkpoint is "
                       "kept"):
        refit(result, None, features.X, features.y_fit, task, features,
              classes=np.array([0, 1]))


def test_refit_replays_every_segment_of_the_best_trial(search, monkeypatch):
    from dataclasses import replace

    result, features, task = search
    promoted = replace(result, segments=[(3, 3), (5, 6), (2, 18)], epochs=10)
    calls = []
    real = refit_module.train_segment

    def spy(net, X, y, *, epochs, cycle_length, seed):
        calls.append((epochs, cycle_length, seed, len(X)))
        return real(net, X, y, epochs=epochs, cycle_length=cycle_length, seed=seed)

    monkeypatch.setattr(refit_module, "train_segment", spy)
    pipe = refit(promoted, result.nets, features.X, features.y_fit, task, features,
                 classes=np.array([0, 1]))
    n = len(features.X)
    # each stretch for the epochs it kept, as one whole cycle of that length
    assert calls == [(3, 3, result.seed, n), (5, 5, result.seed, n),
                     (2, 2, result.seed, n)]
    assert dict(pipe[-1].callbacks)["lr_schedule"].T_max == 2
    assert len(pipe[-1].history) == 10
    assert pipe[-1] is not result.nets[0]


def test_fit_leaves_the_global_torch_rng_alone(data):
    X, y = data
    torch.manual_seed(7)
    state = torch.get_rng_state()
    AutoDLClassifier(**FAST).fit(X, y)
    assert torch.equal(torch.get_rng_state(), state)
