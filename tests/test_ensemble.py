"""Tests of skautodl/ensemble.py and of the ensembles the estimators build."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.metrics import get_scorer
from sklearn.pipeline import Pipeline

from skautodl import AutoDLClassifier, AutoDLRegressor
from skautodl.data.validation import TaskInfo
from skautodl.ensemble import (
    BaggedModel,
    Ensemble,
    PredictionPool,
    blend,
    blend_scorer,
    blend_tiebreak,
    fit_temperature,
    member_floor,
    member_models,
    select,
)
from skautodl.exceptions import BudgetWarning
from skautodl.training.trial import TrialResult

REG = TaskInfo("regression", 1)
BIN = TaskInfo("binary", 2)


def _result(trial_id, score, predictions):
    return TrialResult(config={"family": "mlp"}, status="ok", score=score,
                       split_scores=[score], trial_id=trial_id,
                       valid_predictions=[np.asarray(predictions)])


def _pool(*predictions, scores=None, size=10):
    pool = PredictionPool(size)
    for i, p in enumerate(predictions):
        pool.add(_result(i, (scores or [0.0] * len(predictions))[i], p))
    return pool


def neg_mse(output, y):
    return -float(np.mean((np.asarray(output) - y) ** 2))


# ---------------------------------------------------------------------- pool
def test_pool_keeps_the_best_within_its_size_and_round_trips():
    pool = PredictionPool(2)
    for trial_id, score in [(0, 0.5), (1, 0.9), (2, 0.7), (3, 0.9)]:
        pool.add(_result(trial_id, score, [float(trial_id)] * 3))
    pool.add(TrialResult(config={}, status="failed", score=float("nan"),
                         trial_id=4))
    assert pool.ranked() == [1, 3]  # ties: the lower trial id first
    assert pool.predictions[1].dtype == np.float32
    restored = PredictionPool(2).load_state(json.loads(json.dumps(pool.state())))
    assert restored.ranked() == [1, 3]
    for t in (1, 3):
        np.testing.assert_array_equal(restored.predictions[t], pool.predictions[t])


# ---------------------------------------------------------------------- selection
def test_greedy_selection_arithmetic_on_a_hand_made_example():
    y = np.array([0.0, 0.0, 0.0, 0.0])
    # A is off by +1, B by -1, C by +3: A and B cancel; C never helps
    pool = _pool([1.0] * 4, [-1.0] * 4, [3.0] * 4)
    weights, history = select(pool, y, neg_mse, rounds=4)
    # round 1: A (mse 1, tied with B: the lower id); round 2: (A+B)/2 = 0;
    # rounds 3-4 cannot beat 0, and the best round wins (the last of ties)
    assert history[:2] == [-1.0, 0.0]
    assert max(history) == 0.0
    assert weights[0] == pytest.approx(weights[1])
    assert 2 not in weights
    assert sum(weights.values()) == pytest.approx(1.0)


def test_selection_with_one_round_is_the_best_single_trial():
    y = np.zeros(4)
    pool = _pool([2.0] * 4, [0.5] * 4, [0.5] * 4, [-1.0] * 4)
    weights, history = select(pool, y, neg_mse, rounds=1)
    assert weights == {1: 1.0}  # tied with trial 2: the lower id wins
    assert history == [-0.25]


def test_selection_is_deterministic():
    rng = np.random.RandomState(0)
    y = rng.rand(50)
    preds = [y + rng.normal(0, 0.3, 50) for _ in range(8)]
    a = select(_pool(*preds), y, neg_mse, rounds=10)
    b = select(_pool(*preds), y, neg_mse, rounds=10)
    assert a == b
    assert len(a[0]) > 1  # noisy copies of y: averaging helps


def test_blend_scorer_uses_the_estimators_scoring_on_probabilities():
    y = np.array(["a", "b", "b", "a"])
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3]])
    accuracy = blend_scorer(get_scorer("accuracy"), BIN, np.array(["a", "b"]),
                            "accuracy")
    assert accuracy(proba, y) == pytest.approx(0.75)
    log_loss = blend_scorer(get_scorer("neg_log_loss"), BIN, np.array(["a", "b"]),
                            "accuracy")
    expected = np.mean(np.log([0.9, 0.8, 0.4, 0.7]))  # minus the log loss
    assert log_loss(proba, y) == pytest.approx(expected)


def test_a_callable_that_needs_a_net_falls_back_to_the_default_metric():
    def needs_net(est, X, y):
        return est.lr  # a blend has no learning rate

    score = blend_scorer(needs_net, REG, None, "r2")
    with pytest.warns(UserWarning, match="selected by 'r2' instead"):
        value = score(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]))
    assert value == pytest.approx(1.0)


# ---------------------------------------------------------------------- calibration
def _log_loss(proba, rows):
    return -np.mean(np.log(proba[np.arange(len(rows)), rows]))


def test_temperature_sharpens_an_under_confident_blend():
    rng = np.random.RandomState(0)
    rows = rng.randint(0, 3, 300)
    # 90 % right, but the blend says 0.5 for its argmax
    pred = np.where(rng.rand(300) < 0.9, rows, (rows + 1) % 3)
    proba = np.full((300, 3), 0.25)
    proba[np.arange(300), pred] = 0.5
    t = fit_temperature(proba, rows)
    assert t < 0.7
    ens = Ensemble([(Fixed(proba=proba), 1.0)], np.array([0, 1, 2]), temperature=t)
    scaled = ens.predict_proba(None)
    np.testing.assert_allclose(scaled.sum(axis=1), 1.0)
    assert _log_loss(scaled, rows) < _log_loss(proba, rows) - 0.1
    # the labels do not move
    np.testing.assert_array_equal(scaled.argmax(axis=1), proba.argmax(axis=1))


def test_temperature_softens_an_over_confident_blend_and_keeps_a_calibrated_one():
    rng = np.random.RandomState(1)
    rows = rng.randint(0, 2, 400)
    right = rng.rand(400) < 0.7
    pred = np.where(right, rows, 1 - rows)
    sure = np.full((400, 2), 0.01)
    sure[np.arange(400), pred] = 0.99  # 99 % sure, 70 % right
    assert fit_temperature(sure, rows) > 2.0
    calibrated = np.full((400, 2), 0.3)
    calibrated[np.arange(400), pred] = 0.7
    assert fit_temperature(calibrated, rows) == pytest.approx(1.0, abs=0.1)


def test_members_bound_the_sharpening_of_a_perfect_blend():
    rng = np.random.RandomState(2)
    rows = rng.randint(0, 3, 300)
    # two members, each 80 % sure of the right class on every row: on rows
    # the blend always gets right, the log loss asks for unbounded confidence
    a = np.full((300, 3), 0.1)
    a[np.arange(300), rows] = 0.8
    b = np.roll(a, 1, axis=1) * 0.25 + a * 0.75
    blend_ = (a + b) / 2
    assert fit_temperature(blend_, rows) == pytest.approx(0.05, rel=0.05)
    t = fit_temperature(blend_, rows, members=[a, b])
    assert 0.05 < t < 1.0 and t == pytest.approx(member_floor(blend_, [a, b]))
    scaled = Ensemble([(Fixed(proba=blend_), 1.0)], np.array([0, 1, 2]),
                      temperature=t).predict_proba(None)
    # as confident as the most confident member, and no more
    assert scaled.max(axis=1).mean() == pytest.approx(0.8, abs=1e-3)
    # a blend already as confident as its members is left alone
    assert member_floor(a, [a, b]) == 1.0


def test_blend_is_the_weighted_mean_of_pooled_predictions():
    pool = _pool([[1.0, 0.0]], [[0.0, 1.0]])
    np.testing.assert_allclose(blend(pool, {0: 0.25, 1: 0.75}), [[0.25, 0.75]])


# ---------------------------------------------------------------------- models
class Fixed:
    def __init__(self, proba=None, values=None):
        self.proba, self.values = proba, values

    def predict_proba(self, X):
        return np.asarray(self.proba)

    def predict(self, X):
        return np.asarray(self.values)


def test_ensemble_is_the_weighted_mean_of_its_members():
    classes = np.array(["x", "y"])
    ens = Ensemble([(Fixed(proba=[[1.0, 0.0]]), 0.25),
                    (Fixed(proba=[[0.2, 0.8]]), 0.75)], classes)
    np.testing.assert_allclose(ens.predict_proba(None), [[0.4, 0.6]])
    assert list(ens.predict(None)) == ["y"]
    reg = Ensemble([(Fixed(values=[1.0, 2.0]), 0.5), (Fixed(values=[3.0, 4.0]), 0.5)])
    np.testing.assert_allclose(reg.predict(None), [2.0, 3.0])


# ---------------------------------------------------------------------- estimators
@pytest.fixture(scope="module")
def reg_data():
    return make_regression(n_samples=160, n_features=6, noise=20.0, random_state=0)


FAST = {"cv": None, "time_budget": None, "n_trials": 6, "fidelity": None, "verbose": 0,
        "random_state": 0, "device": "cpu", "families": ["mlp"],
        "search": "random", "search_space": {"max_epochs": 6}}


def test_ensemble_size_one_is_the_best_single_model(reg_data):
    X, y = reg_data
    reg = AutoDLRegressor(**FAST, ensemble_size=1).fit(X, y)
    (model, weight), = reg.ensemble_
    assert model is reg.best_estimator_ and weight == 1.0
    np.testing.assert_array_equal(reg.predict(X), reg.best_estimator_.predict(X))
    lb = reg.leaderboard_
    assert list(lb.loc[lb["ensemble_weight"] > 0, "trial"]) == [reg.best_index_]
    assert reg.ensemble_score_ == reg.best_score_


def test_default_ensemble_blends_refitted_members(reg_data):
    X, y = reg_data
    reg = AutoDLRegressor(**FAST).fit(X, y)  # ensemble_size=10 by default
    assert reg.get_params()["ensemble_size"] == 10
    weights = [w for _, w in reg.ensemble_]
    assert sum(weights) == pytest.approx(1.0)
    # at least as good on the validation rows as the best single trial
    assert reg.ensemble_score_ >= reg.best_score_
    lb = reg.leaderboard_
    members = lb[lb["ensemble_weight"] > 0]
    assert len(members) == len(reg.ensemble_)
    assert members["ensemble_weight"].sum() == pytest.approx(1.0)
    np.testing.assert_allclose(reg.cv_results_["ensemble_weight"].sum(), 1.0)
    expected = sum(w * m.predict(X) for m, w in reg.ensemble_)
    np.testing.assert_allclose(reg.predict(X), expected)
    # members are refitted on all the data (no validation split, no
    # validation loss in their history)
    for model, _ in reg.ensemble_:
        assert model[-1].train_split is None
        assert "valid_loss" not in model[-1].history[-1]


def test_bagging_members_average_their_fold_models():
    X, y = make_classification(n_samples=150, n_features=6, random_state=0)
    clf = AutoDLClassifier(**{**FAST, "n_trials": 4, "cv": 3}).fit(X, y)
    for model, _ in clf.ensemble_:
        assert isinstance(model, BaggedModel) and len(model.models) == 3
        np.testing.assert_allclose(
            model.predict_proba(X),
            np.mean([m.predict_proba(X) for m in model.models], axis=0))
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert clf.ensemble_score_ >= 0.5


@pytest.mark.parametrize("cv", [None, 3])
def test_fitted_members_hold_no_optimizer_state(cv):
    # a fitted estimator only predicts: its members' optimizer moments (twice
    # the weights) are freed, refitted (holdout) and bagged (cv) members alike
    X, y = make_classification(n_samples=150, n_features=6, random_state=0)
    clf = AutoDLClassifier(**{**FAST, "n_trials": 3, "cv": cv}).fit(X, y)
    models = [clf.best_estimator_, *(model for model, _ in clf.ensemble_)]
    nets = [pipeline[-1] for model in models for pipeline in member_models(model)]
    assert nets and all(not net.optimizer_.state for net in nets)
    assert all(net.optimizer_ is not None for net in nets)  # the optimizer stays
    assert clf.score(X, y) > 0.6


def test_same_random_state_same_ensemble(reg_data):
    X, y = reg_data
    a = AutoDLRegressor(**FAST).fit(X, y)
    b = AutoDLRegressor(**FAST).fit(X, y)
    assert list(a.leaderboard_["ensemble_weight"]) == \
        list(b.leaderboard_["ensemble_weight"])
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


@pytest.mark.parametrize("nets_kept", [True, False])
def test_members_the_budget_cannot_refit(reg_data, monkeypatch, nets_kept):
    import time

    from skautodl import estimators
    from skautodl.training import refit

    X, y = reg_data
    seen = {}

    def fit_members(weights, best, outcome, *args, **kwargs):
        # every member but the best "needs" an hour to refit; 60 s are left
        seen["weights"] = dict(weights)
        if not nets_kept:  # e.g. trials restored from a checkpoint
            outcome.nets = {t: n for t, n in outcome.nets.items()
                            if t == best.trial_id}
        kwargs.update(hard_end=time.time() + 60,
                      needed=lambda r: 0.0 if r.trial_id == best.trial_id
                      else 3600.0)
        return refit.fit_members(weights, best, outcome, *args, **kwargs)

    monkeypatch.setattr(estimators, "fit_members", fit_members)
    reg = AutoDLRegressor(**FAST)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg.fit(X, y)
    if len(seen["weights"]) < 2:
        pytest.skip("this search chose a single member")
    budget = [w for w in caught if issubclass(w.category, BudgetWarning)
              and "ensemble member" in str(w.message)]
    lb = reg.leaderboard_
    if nets_kept:
        # no refit, but the members as their trials trained them
        assert budget == []
        assert len(reg.ensemble_) == len(seen["weights"])
        refitted = [m for m, _ in reg.ensemble_
                    if "valid_loss" not in m[-1].history[-1]]
        assert refitted == [reg.best_estimator_]
    else:
        assert budget  # dropped, and said so
        (model, weight), = reg.ensemble_
        assert weight == 1.0 and model is reg.best_estimator_
        assert list(lb.loc[lb["ensemble_weight"] > 0, "trial"]) == \
            [reg.best_index_]


def test_members_are_never_refitted_past_the_time_budget(reg_data, monkeypatch):
    import time

    from skautodl import estimators
    from skautodl.training import refit

    X, y = reg_data
    seen = {}

    def fit_members(weights, best, outcome, *args, **kwargs):
        # the refit margin is wide open but the budget itself is spent: the
        # best trial is refitted (its reserve), the other members are not
        seen["weights"] = dict(weights)
        kwargs.update(hard_end=time.time() + 3600, member_end=time.time() - 1,
                      needed=lambda r: 0.0)
        return refit.fit_members(weights, best, outcome, *args, **kwargs)

    replays = []
    real_replay = refit._replay

    def replay(result, *args, **kwargs):
        replays.append(result.trial_id)
        return real_replay(result, *args, **kwargs)

    monkeypatch.setattr(estimators, "fit_members", fit_members)
    monkeypatch.setattr(refit, "_replay", replay)
    reg = AutoDLRegressor(**FAST).fit(X, y)
    if len(seen["weights"]) < 2:
        pytest.skip("this search chose a single member")
    assert len(reg.ensemble_) == len(seen["weights"])
    assert replays == [reg.best_index_]  # no other member's training started
    refitted = [m for m, _ in reg.ensemble_
                if "valid_loss" not in m[-1].history[-1]]
    assert refitted == [reg.best_estimator_]


def test_classifier_ensemble_is_temperature_scaled(monkeypatch):
    from skautodl import estimators

    X, y = make_classification(n_samples=200, n_features=6, random_state=0)
    fitted = {}
    real = estimators.fit_temperature

    def spy(proba, y_index, members=None):
        fitted["proba"], fitted["y"], fitted["members"] = proba, y_index, members
        return real(proba, y_index, members=members)

    monkeypatch.setattr(estimators, "fit_temperature", spy)
    clf = AutoDLClassifier(**{**FAST, "n_trials": 4}).fit(X, y)
    t = clf.temperature_
    assert 0.05 <= t <= 20
    assert t == real(fitted["proba"], fitted["y"], members=fitted["members"])
    # a holdout's members are refitted: they bound the sharpening
    assert clf.cv_ is None and len(fitted["members"]) == len(clf.ensemble_)
    # fitted on the validation rows' encoded labels
    assert len(fitted["y"]) == len(fitted["proba"]) < len(y)
    assert _log_loss(Ensemble([(Fixed(proba=fitted["proba"]), 1.0)], clf.classes_,
                              temperature=t).predict_proba(None), fitted["y"]) \
        <= _log_loss(fitted["proba"], fitted["y"]) + 1e-12
    blend_ = sum(w * m.predict_proba(X) for m, w in clf.ensemble_)
    sharpened = blend_ ** (1 / t)
    np.testing.assert_allclose(clf.predict_proba(X),
                               sharpened / sharpened.sum(axis=1, keepdims=True),
                               rtol=1e-6)
    np.testing.assert_array_equal(clf.predict(X),
                                  clf.classes_[blend_.argmax(axis=1)])
    # ensemble_size=1 is the single best model, untouched
    one = AutoDLClassifier(**{**FAST, "n_trials": 4}, ensemble_size=1).fit(X, y)
    assert one.temperature_ == 1.0
    np.testing.assert_array_equal(one.predict_proba(X),
                                  one.best_estimator_.predict_proba(X))


def test_resumed_search_builds_the_same_ensemble(reg_data, tmp_path):
    X, y = reg_data
    full = AutoDLRegressor(**FAST).fit(X, y)
    AutoDLRegressor(**FAST, checkpoint_dir=tmp_path).fit(X, y)
    state = json.loads((tmp_path / "search_state.json").read_text())
    assert state["predictions"]  # the pool is saved
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        resumed = AutoDLRegressor(**FAST, checkpoint_dir=tmp_path).fit(X, y)
    assert resumed.n_trials_ == FAST["n_trials"]
    assert list(resumed.leaderboard_["ensemble_weight"]) == \
        list(full.leaderboard_["ensemble_weight"])
    np.testing.assert_allclose(resumed.predict(X), full.predict(X), rtol=1e-6)


def test_cv_auto_bags_small_tables_only():
    from skautodl.estimators import AUTO_BAGGING_MAX_ROWS, AUTO_FOLDS, resolve_cv

    assert resolve_cv("auto", AUTO_BAGGING_MAX_ROWS - 1, "tabular") == AUTO_FOLDS
    assert resolve_cv("auto", AUTO_BAGGING_MAX_ROWS, "tabular") is None
    assert resolve_cv("auto", 100, "image") is None  # a fold is a CNN training
    assert resolve_cv(None, 100, "tabular") is None  # explicit choices stay
    assert resolve_cv(3, 5000, "tabular") == 3
    # tiny data: fewer folds, each holding the smallest class / 2 rows
    assert resolve_cv("auto", 40, "tabular", smallest_class=3) == 3
    assert resolve_cv("auto", 7, "tabular") == 3
    assert resolve_cv("auto", 40, "tabular", smallest_class=1) is None


def test_default_protocol_on_a_small_table_is_bagging():
    X, y = make_classification(n_samples=120, n_features=5, random_state=0)
    params = {k: v for k, v in FAST.items() if k != "cv"}
    clf = AutoDLClassifier(**{**params, "n_trials": 3}).fit(X, y)
    assert clf.get_params()["cv"] == "auto"
    assert clf.cv_ == 5
    assert all(isinstance(m, BaggedModel) and len(m.models) == 5
               for m, _ in clf.ensemble_)
    assert clf.score(X, y) > 0.8
    # a bagged model pickles, and predicting changes nothing
    import pickle

    proba = clf.predict_proba(X)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), proba)
    np.testing.assert_array_equal(clf.predict_proba(X), proba)


def test_ties_on_the_score_go_to_the_better_calibrated_blend():
    # every candidate has accuracy 1; trial 1's probabilities are sharper
    y = np.array([0, 1, 0, 1])
    soft = np.array([[0.6, 0.4], [0.4, 0.6]] * 2)
    sharp = np.array([[0.9, 0.1], [0.1, 0.9]] * 2)
    pool = _pool(soft, sharp)
    task = BIN
    score = blend_scorer(get_scorer("accuracy"), task, np.array([0, 1]),
                         "accuracy")
    assert select(pool, y, score, rounds=1)[0] == {0: 1.0}  # the lower id
    weights, history = select(pool, y, score, rounds=3,
                              tiebreak=blend_tiebreak(task, np.array([0, 1])))
    assert weights == {1: 1.0} and history == [1.0, 1.0, 1.0]


# ---------------------------------------------------------------------- batches
class _RowCounter:
    """A fitted model that records how many rows each call predicts."""

    def __init__(self, model):
        self.model, self.calls = model, []

    def predict_proba(self, X):
        self.calls.append(len(X))
        return self.model.predict_proba(X)

    def predict(self, X):
        self.calls.append(len(X))
        return self.model.predict(X)


def test_large_inputs_stream_through_the_members_in_batches():
    from sklearn.linear_model import LinearRegression, LogisticRegression

    X, y = make_classification(n_samples=50, n_features=4, random_state=0)
    a, b = (_RowCounter(LogisticRegression(C=c).fit(X, y)) for c in (0.1, 10.0))
    whole = Ensemble([(a, 0.3), (b, 0.7)], np.array([0, 1]), temperature=0.5)
    batched = Ensemble([(a, 0.3), (b, 0.7)], np.array([0, 1]), temperature=0.5,
                       batch_rows=20)
    expected = whole.predict_proba(X)
    a.calls.clear()
    np.testing.assert_allclose(batched.predict_proba(X), expected, rtol=1e-12)
    assert a.calls == [20, 20, 10]
    np.testing.assert_array_equal(batched.predict(pd.DataFrame(X)), whole.predict(X))
    r = _RowCounter(LinearRegression().fit(X, y.astype(float)))
    reg = Ensemble([(r, 1.0)], batch_rows=16)
    np.testing.assert_allclose(reg.predict(X), r.model.predict(X))
    assert r.calls == [16, 16, 16, 2]


def test_the_estimator_predicts_in_batches_with_the_same_result(monkeypatch):
    from skautodl import ensemble

    X, y = make_classification(n_samples=200, n_features=6, random_state=0)
    clf = AutoDLClassifier(**{**FAST, "n_trials": 3}).fit(X, y)
    whole = clf.predict_proba(X)
    monkeypatch.setattr(ensemble, "PREDICT_BATCH_ROWS", 7)
    seen = []
    real = Pipeline.predict_proba

    def spy(self, X_):
        seen.append(len(X_))
        return real(self, X_)

    monkeypatch.setattr(Pipeline, "predict_proba", spy)
    np.testing.assert_allclose(clf.predict_proba(X), whole, rtol=1e-10, atol=1e-12)
    assert max(seen) == 7
    # float32 input is not copied to float64 on its way in
    from skautodl.data.validation import check_predict_input

    X32 = X.astype(np.float32)
    assert check_predict_input(clf, X32).dtype == np.float32
