"""Tests of skautodl/training/trial.py: run_trial and TrialResult."""

import math
import time

import numpy as np
import pytest
import torch
from sklearn.metrics import get_scorer

from skautodl.data.featurize import prepare_splits
from skautodl.data.splits import make_splits
from skautodl.data.validation import TaskInfo
from skautodl.networks import registry
from skautodl.networks.registry import Family
from skautodl.training.trial import TrialResult, run_trial

FAST = {"family": "mlp", "max_epochs": 3, "lr": 1e-2, "batch_size": 16,
        "module__n_units": 16, "module__n_layers": 1, "module__dropout": 0.0}

ACCURACY = get_scorer("accuracy")
R2 = get_scorer("r2")


@pytest.fixture(scope="module")
def clf_data(tiny_classification):
    X, y_idx, labels = tiny_classification
    y = labels[y_idx]
    splits = make_splits(X, y, cv=None, validation_fraction=0.25,
                         classification=True, seed=0)
    task = TaskInfo("binary", 2, n_samples=len(y))
    return prepare_splits(X, y_idx, y, splits), task, labels


@pytest.fixture(scope="module")
def reg_data(tiny_regression):
    X, y = tiny_regression
    splits = make_splits(X, y, cv=2, validation_fraction=0.25, classification=False,
                         seed=0)
    return prepare_splits(X, y, y, splits), TaskInfo("regression", 1, n_samples=80)


def _run_clf(clf_data, config, **kwargs):
    data, task, labels = clf_data
    return run_trial(config, data, task, scorer=ACCURACY, classes=labels, **kwargs)


def test_ok_trial_on_tiny_classification(clf_data):
    result = _run_clf(clf_data, FAST, seed=0)
    assert isinstance(result, TrialResult)
    assert result.status == "ok" and result.ok
    assert result.error is None
    assert math.isfinite(result.score) and 0.6 <= result.score <= 1.0
    assert result.split_scores == [result.score]
    assert 1 <= result.epochs <= 3
    assert result.epochs_run == 3  # no early stop within 3 epochs at patience 10
    assert result.fit_time > 0 and result.score_time > 0
    assert not result.stopped_by_budget
    assert len(result.nets) == 1
    (proba,) = result.valid_predictions
    assert proba.shape == (20, 2)
    np.testing.assert_array_equal(result.nets[0].classes_, clf_data[2])
    assert result.config == FAST and result.config is not FAST


def test_ok_trial_on_two_folds_of_regression(reg_data):
    data, task = reg_data
    result = run_trial(FAST, data, task, scorer=R2, seed=0)
    assert result.ok
    assert len(result.split_scores) == 2 and len(result.nets) == 2
    assert result.score == pytest.approx(np.mean(result.split_scores))
    assert result.epochs_run == 6
    assert [p.shape for p in result.valid_predictions] == [(40,), (40,)]


def test_same_seed_same_result_other_seed_other_result(clf_data):
    a = _run_clf(clf_data, FAST, seed=3)
    b = _run_clf(clf_data, FAST, seed=3)
    c = _run_clf(clf_data, FAST, seed=4)
    np.testing.assert_array_equal(a.valid_predictions[0], b.valid_predictions[0])
    assert a.score == b.score and a.seed == 3
    assert not np.array_equal(a.valid_predictions[0], c.valid_predictions[0])


def test_config_that_raises_becomes_a_failed_result(clf_data):
    result = _run_clf(clf_data, {**FAST, "module__norm": "bogus"})
    assert result.status == "failed" and not result.ok
    assert math.isnan(result.score)
    assert result.error.startswith("ValueError: ")
    assert "norm must be one of" in result.error and "'bogus'" in result.error
    assert result.nets == [] and result.valid_predictions == []
    assert result.config["module__norm"] == "bogus"


def test_unknown_skorch_parameter_becomes_a_failed_result(clf_data):
    result = _run_clf(clf_data, {**FAST, "optimizer__momentumm": 0.9})
    assert result.status == "failed"
    assert "momentumm" in result.error


class _Exploding(torch.nn.Module):
    """A network whose outputs (and so its loss) are not finite."""

    def __init__(self, n_inputs, n_outputs, value=float("nan")):
        super().__init__()
        self.linear = torch.nn.Linear(n_inputs, n_outputs)
        self.value = value

    def forward(self, X):
        return self.linear(X) * self.value


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_diverging_trial_fails_with_trial_diverged(clf_data, reg_data, monkeypatch,
                                                   value):
    family = Family("exploding", _Exploding, lambda task: {}, lambda task: True, {})
    monkeypatch.setitem(registry.FAMILIES, "exploding", family)
    config = {"family": "exploding", "max_epochs": 5, "lr": 1e-3, "batch_size": 16,
              "module__value": value}
    for result in (_run_clf(clf_data, config),
                   run_trial(config, reg_data[0], reg_data[1], scorer=R2)):
        assert result.status == "failed"
        assert result.error.startswith("TrialDiverged: training loss became")
        assert "epoch 1" in result.error
        assert result.epochs_run == 0


def test_non_finite_score_fails(clf_data):
    data, task, labels = clf_data
    result = run_trial(FAST, data, task, scorer=lambda net, X, y: float("nan"),
                       classes=labels)
    assert result.status == "failed"
    assert "FloatingPointError" in result.error


def test_deadline_in_the_past_stops_training_early(clf_data):
    result = _run_clf(clf_data, {**FAST, "max_epochs": 50}, deadline=time.time() - 1)
    assert result.stopped_by_budget
    assert result.epochs_run == 1
    # the trial still scores the model it has
    assert result.status == "ok" and math.isfinite(result.score)


def test_memory_error_becomes_a_failed_result(clf_data, monkeypatch):
    from skautodl.training import trial

    def boom(*args, **kwargs):
        raise MemoryError("out of memory")

    monkeypatch.setattr(trial, "build_net", boom)
    result = _run_clf(clf_data, FAST)
    assert result.status == "failed"
    assert result.error == "MemoryError: out of memory"


def test_without_models_drops_nets_and_predictions(clf_data):
    result = _run_clf(clf_data, FAST)
    light = result.without_models()
    assert light.nets == [] and light.valid_predictions == []
    assert light.score == result.score and light.config == result.config
    assert len(result.nets) == 1  # the original is untouched


def test_record_round_trip():
    result = TrialResult(config={"family": "mlp", "lr": 0.01}, status="failed",
                         score=float("nan"), error="boom", segments=[(3, 5)])
    record = result.to_record()
    assert record["score"] is None
    back = TrialResult.from_record(record)
    assert back.status == "failed" and math.isnan(back.score)
    assert back.error == "boom" and back.config == result.config
    assert back.segments == [(3, 5)]


def test_evaluator_trains_on_the_jobs_data_and_releases_memory(clf_data,
                                                              monkeypatch):
    from skautodl.training import trial as trial_module
    from skautodl.training.device_data import DeviceSplitCache, MemoryRelease
    from skautodl.training.trial import Evaluator, Job

    data, task, labels = clf_data
    marked = [type(s)(**{**s.__dict__, "X_train": s.X_train * 0.0}) for s in data]
    released = []
    monkeypatch.setattr(trial_module, "release_cuda_memory",
                        lambda: released.append(1) or MemoryRelease(0, 0))
    evaluator = Evaluator(task, ACCURACY, classes=labels,
                          device_cache=DeviceSplitCache())
    ok = evaluator(Job(0, dict(FAST), seed=0, data=data, data_key="std"))
    zeros = evaluator(Job(1, dict(FAST), seed=0, data=marked, data_key="zeros"))
    # all-zero training features: the net can only learn the class prior
    assert ok.ok and zeros.ok and zeros.score < ok.score
    assert (ok.trial_id, zeros.trial_id) == (0, 1)
    failed = evaluator(Job(2, {**FAST, "module__norm": "bogus"}, seed=0, data=data))
    assert failed.status == "failed"
    assert len(released) == 3  # after every trial, failed ones included
    with pytest.raises(ValueError, match="carries no data"):
        evaluator(Job(3, dict(FAST), seed=0))


def test_a_diverging_promotion_leaves_the_parent_bit_identical(clf_data):
    from dataclasses import replace

    data, task, labels = clf_data
    parent = _run_clf(clf_data, FAST, seed=0)
    net = parent.nets[0]
    X_valid = data[0].X_valid
    before = net.predict_proba(X_valid).copy()
    weights = {k: v.clone() for k, v in net.module_.state_dict().items()}
    history = len(net.history)
    # the child continues the parent's weights on data that blows the loss up
    poisoned = [replace(s, X_train=np.full_like(s.X_train, 3e38)) for s in data]
    child = run_trial({**FAST, "max_epochs": 2}, poisoned, task, scorer=ACCURACY,
                      classes=labels, seed=1, warm_nets=parent.nets,
                      prior_segments=parent.segments)
    assert child.status == "failed" and "diverged" in child.error
    assert child.nets == []
    np.testing.assert_array_equal(net.predict_proba(X_valid), before)
    for k, v in net.module_.state_dict().items():
        assert torch.equal(v, weights[k]), k
    assert len(net.history) == history


def test_a_promotion_trains_a_copy_and_keeps_the_parents_device(clf_data):
    data, task, labels = clf_data
    parent = _run_clf(clf_data, FAST, seed=0)
    child = run_trial({**FAST, "max_epochs": 2}, data, task, scorer=ACCURACY,
                      classes=labels, seed=1, warm_nets=parent.nets,
                      prior_segments=parent.segments, device="cuda:7")
    assert child.ok
    assert child.nets[0] is not parent.nets[0]
    # the child's net continued the parent's history; the parent's did not move
    assert len(child.nets[0].history) == len(parent.nets[0].history) + 2
    # a continued net trains where its weights are, whatever device is asked
    assert child.device == str(parent.nets[0].device) == "cpu"
    # the copy shares the validation data instead of copying it
    assert child.nets[0].train_split is parent.nets[0].train_split


def test_run_trial_leaves_the_global_torch_rng_alone(clf_data):
    torch.manual_seed(123)
    state = torch.get_rng_state()
    _run_clf(clf_data, FAST, seed=0)
    assert torch.equal(torch.get_rng_state(), state)


def test_fold_deadline_gives_each_split_an_equal_share_of_the_time_left():
    from skautodl.training.trial import fold_deadline

    assert fold_deadline(None, 0, 5) is None
    assert fold_deadline(100.0, 0, 5, now=50.0) == pytest.approx(60.0)
    assert fold_deadline(100.0, 3, 5, now=70.0) == pytest.approx(85.0)
    assert fold_deadline(100.0, 4, 5, now=90.0) == pytest.approx(100.0)  # the rest
    assert fold_deadline(100.0, 1, 5, now=120.0) == pytest.approx(120.0)  # past


def test_cv_folds_do_not_share_one_deadline(reg_data, monkeypatch):
    # with one deadline for all, the first fold could use all the time and
    # the later ones train one epoch (their bag members were then useless)
    from skautodl.training import trial

    data, task = reg_data
    seen = []
    build = trial.build_net

    def spy(*args, **kwargs):
        seen.append(kwargs["deadline"])
        return build(*args, **kwargs)

    monkeypatch.setattr(trial, "build_net", spy)
    deadline = time.time() + 60.0
    result = run_trial(FAST, data, task, scorer=R2, deadline=deadline)
    assert result.ok and len(seen) == len(data) == 2
    assert seen[0] < deadline - 20.0  # the first fold gets about half
    assert seen[1] == pytest.approx(deadline, abs=1.0)  # the last, the rest


def test_large_validation_splits_are_watched_on_a_sample_but_scored_whole(
        clf_data, monkeypatch):
    from skautodl.training import trial

    data, _, labels = clf_data  # 20 validation rows
    full = _run_clf(clf_data, FAST, seed=0)
    monkeypatch.setattr(trial, "MONITOR_ROWS", 8)
    watched = _run_clf(clf_data, FAST, seed=0)
    net = watched.nets[0]
    # per-epoch validation (loss curve, early stopping) on 8 seeded rows
    valid = net.train_split.keywords["valid_ds"]
    rows = trial.monitor_rows(20)
    assert len(valid) == 8 and len(rows) == 8
    np.testing.assert_array_equal(valid.X, data[0].X_valid[rows])
    assert len(full.nets[0].train_split.keywords["valid_ds"]) == 20
    # the score and the kept predictions cover the whole validation split
    (proba,) = watched.valid_predictions
    assert proba.shape == (20, 2)
    expected = np.mean(labels[proba.argmax(axis=1)] == data[0].y_valid)
    assert watched.score == pytest.approx(expected)
    # scoring all 20 rows takes 20/8 times the watched pass: more time kept
    assert dict(net.callbacks)["time_limit"].scoring_factor == pytest.approx(
        dict(full.nets[0].callbacks)["time_limit"].scoring_factor * 20 / 8)


def test_monitor_rows_is_all_rows_up_to_the_limit_and_seeded_above():
    from skautodl.training.trial import MONITOR_ROWS, monitor_rows

    assert monitor_rows(MONITOR_ROWS) is None
    rows = monitor_rows(MONITOR_ROWS + 1000)
    assert len(rows) == MONITOR_ROWS and len(set(rows.tolist())) == MONITOR_ROWS
    np.testing.assert_array_equal(rows, monitor_rows(MONITOR_ROWS + 1000))
    assert rows.max() < MONITOR_ROWS + 1000


def test_large_validation_splits_are_scored_in_float32(clf_data, monkeypatch):
    import torch

    from skautodl.training import net as net_module
    from skautodl.training import trial

    seen = []
    forward = net_module._forward64

    def spy(net, X):
        seen.append((len(X), net_module._FLOAT32_INFERENCE.get()))
        return forward(net, X)

    monkeypatch.setattr(net_module, "_forward64", spy)
    small = _run_clf(clf_data, FAST, seed=0)
    assert seen == [(20, False)]  # 20 validation rows: float64
    seen.clear()
    monkeypatch.setattr(trial, "MONITOR_ROWS", 8)
    large = _run_clf(clf_data, FAST, seed=0)
    assert seen == [(20, True)]  # one float32 pass over all 20 rows
    # the same net's predictions as a user gets them (float64) differ by
    # float32 rounding only, and the net itself is left in float32
    net = large.nets[0]
    np.testing.assert_allclose(large.valid_predictions[0],
                               net.predict_proba(clf_data[0][0].X_valid), atol=1e-5)
    assert next(net.module_.parameters()).dtype == torch.float32
    assert small.ok


def test_trial_nets_keep_no_inference_copy(clf_data):
    # a trial's scoring pass makes an inference copy of each net; the nets
    # then wait for a promotion or the ensemble without it
    from skautodl.training import net as net_module

    result = _run_clf(clf_data, FAST, seed=0)
    net = result.nets[0]
    assert net.module_ not in net_module._INFERENCE
    before = result.valid_predictions[0]
    # predicting again makes it again, with the same outputs
    np.testing.assert_array_equal(net.predict_proba(clf_data[0][0].X_valid), before)
    assert net.module_ in net_module._INFERENCE
