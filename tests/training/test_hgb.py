"""The opt-in tree family "hgb": trials, refits, ensembles mixing trees and
networks, reproducibility, checkpoints and the errors of bad settings."""

import pickle
import time

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.metrics import get_scorer

from skautodl import AutoDLClassifier, AutoDLRegressor
from skautodl.data.featurize import prepare_splits
from skautodl.data.splits import make_splits
from skautodl.data.validation import TaskInfo
from skautodl.ensemble import BaggedModel
from skautodl.networks import hgb
from skautodl.networks.registry import families_for, get_family, resolve_families
from skautodl.search.space import SearchSpace
from skautodl.training.net import AutoNetClassifier, routed_parameters
from skautodl.training.trial import run_trial

FAST = {"time_budget": None, "verbose": 0, "device": "cpu"}
HGB = {"family": "hgb", **hgb.DEFAULTS, "hgb__max_features": 0.7}


@pytest.fixture(scope="module")
def clf_xy():
    return make_classification(n_samples=200, n_features=8, n_informative=4,
                               random_state=1)


@pytest.fixture(scope="module")
def hgb_clf(clf_xy):
    X, y = clf_xy
    return AutoDLClassifier(**FAST, families=["hgb"], n_trials=4, cv=None,
                            random_state=0).fit(X, y)


def _model(member):
    return member.models[0][-1] if isinstance(member, BaggedModel) else member[-1]


def test_hgb_search_gives_a_fitted_classifier(hgb_clf, clf_xy):
    X, y = clf_xy
    board = hgb_clf.leaderboard_
    assert len(board) == 4 and set(board["family"]) == {"hgb"}
    assert (board["status"] == "ok").all()
    assert hgb_clf.best_score_ >= 0.85
    assert hgb_clf.score(X, y) >= 0.9
    # epochs are boosting iterations: the refit runs those the trial kept
    best = hgb_clf.best_estimator_[-1]
    assert isinstance(best, hgb.HGBClassifierModel)
    assert best.n_iter_ == board.loc[0, "epochs"]
    assert all(isinstance(_model(m), hgb.HGBClassifierModel)
               for m, _ in hgb_clf.ensemble_)
    assert "max_epochs" not in hgb_clf.best_params_
    proba = hgb_clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(hgb_clf.predict(X),
                                  hgb_clf.classes_[proba.argmax(axis=1)])


def test_hgb_estimator_pickles_clones_and_predicts_read_only(hgb_clf, clf_xy):
    X, _ = clf_xy
    before = pickle.dumps(hgb_clf.ensemble_)
    expected = hgb_clf.predict_proba(X)
    assert pickle.dumps(hgb_clf.ensemble_) == before  # predict changed nothing
    again = pickle.loads(pickle.dumps(hgb_clf))
    np.testing.assert_array_equal(again.predict_proba(X), expected)
    assert clone(hgb_clf).get_params()["families"] == ["hgb"]


def test_mixed_search_ensembles_trees_and_networks(clf_xy):
    X, y = clf_xy
    est = AutoDLClassifier(**FAST, families=["mlp", "hgb"], n_trials=6,
                           search_space={"max_epochs": 20},
                           random_state=0).fit(X, y)
    board = est.leaderboard_
    assert set(board["family"]) == {"mlp", "hgb"}
    # trees train at full fidelity once: Hyperband never promotes them
    assert not ((board["family"] == "hgb") & (board["origin"] == "promotion")).any()
    kinds = {type(_model(m)) for m, _ in est.ensemble_}
    assert kinds == {hgb.HGBClassifierModel, AutoNetClassifier}
    weights = dict(zip(board["family"], board["ensemble_weight"], strict=False))
    assert weights["hgb"] > 0
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict_proba(X), est.predict_proba(X))


def test_hyperband_never_promotes_trees(clf_xy):
    from skautodl.search import SearchSpec

    X, y = clf_xy
    # 12 trials finish the first rung (9 configs) of the first bracket
    est = AutoDLClassifier(**FAST, families=["hgb"], n_trials=12,
                           search=SearchSpec("random", portfolio=False),
                           fidelity="hyperband", random_state=0).fit(X, y)
    assert list(est.leaderboard_["origin"]) == ["searcher"] * 12
    assert est.leaderboard_["parent"].isna().all()


def test_hgb_regression_and_multioutput():
    X, y = make_regression(n_samples=200, n_features=6, noise=1.0,
                           random_state=0)
    est = AutoDLRegressor(**FAST, families=["hgb"], n_trials=3, cv=None,
                          random_state=0).fit(X, y)
    assert est.best_score_ > 0.6
    assert est.predict(X).shape == (200,)
    assert isinstance(est.best_estimator_[-1], hgb.HGBRegressorModel)
    # one booster per target column
    Y = np.column_stack([y, -2 * y])
    multi = AutoDLRegressor(**FAST, families=["hgb"], n_trials=2, cv=None,
                            random_state=0).fit(X, Y)
    pred = multi.predict(X)
    assert pred.shape == (200, 2)
    assert len(multi.best_estimator_[-1].estimators_) == 2
    assert np.corrcoef(pred[:, 0], -pred[:, 1])[0, 1] > 0.95


def test_same_random_state_gives_the_same_predictions(clf_xy):
    X, y = clf_xy
    params = dict(FAST, families=["hgb"], n_trials=3, random_state=7,
                  search_space={"hgb__max_features": (0.5, 0.6)})
    a = AutoDLClassifier(**params).fit(X, y)
    b = AutoDLClassifier(**params).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    np.testing.assert_array_equal(a.cv_results_["mean_test_score"],
                                  b.cv_results_["mean_test_score"])


def test_hgb_is_opt_in_and_tabular_only():
    tabular = TaskInfo("binary", 2)
    assert get_family("hgb").in_auto is False
    assert "hgb" not in families_for(tabular)
    assert "hgb" not in [f.name for f in resolve_families("auto", tabular)]
    assert [f.name for f in resolve_families(["mlp", "hgb"], tabular)] == [
        "mlp", "hgb"]
    X = np.random.default_rng(0).random((20, 16))
    y = np.arange(20) % 2
    with pytest.raises(ValueError, match="'hgb', which cannot take image input"):
        AutoDLClassifier(**FAST, families=["hgb"], image_shape=(4, 4),
                         n_trials=1).fit(X, y)


@pytest.mark.parametrize("space, words", [
    ({"hgb__max_iter": 5000}, r"search_space\['hgb__max_iter'\] = 5000 is out of "
                              r"range: hgb__max_iter must be an int >= 1 and <= 1000"),
    ({"hgb__learning_rate": (0.0, 0.1)}, r"hgb__learning_rate must be a number > 0"),
    ({"hgb__max_features": 1.5}, "hgb__max_features must be a number > 0"),
    ({"hgb__max_leaves": 8}, "Did you mean 'hgb__max_leaf_nodes'"),
    ({"hgb__random_state": 1}, "takes a parameter 'random_state'"),
], ids=["max_iter", "learning_rate", "max_features", "typo", "reserved"])
def test_bad_hgb_settings_fail_before_training(clf_xy, space, words):
    X, y = clf_xy
    with pytest.raises(ValueError, match=words):
        AutoDLClassifier(**FAST, families=["hgb"], n_trials=1,
                         search_space=space).fit(X, y)


def test_network_settings_leave_the_trees_alone(clf_xy):
    X, y = clf_xy
    est = AutoDLClassifier(**FAST, families=["mlp", "hgb"], n_trials=4,
                           search_space={"max_epochs": 3, "lr": 1e-2,
                                         "hgb__max_iter": 40},
                           random_state=0).fit(X, y)
    configs = {c["family"]: c for c in est.cv_results_["params"]}
    assert configs["hgb"]["hgb__max_iter"] == 40
    assert not {"lr", "max_epochs", "batch_size"} & set(configs["hgb"])
    assert "hgb__max_iter" not in configs["mlp"] and configs["mlp"]["lr"] == 1e-2
    # also when search_space restricts the search to the networks
    task = TaskInfo("binary", 2)
    families = resolve_families(["mlp", "hgb"], task)
    space = SearchSpace.for_task(families, task, {"family": "mlp",
                                                  "hgb__max_iter": 40},
                                 routed=routed_parameters(families))
    assert space.families == ["mlp"] and "hgb__max_iter" not in space.fixed["mlp"]


@pytest.fixture(scope="module")
def clf_splits(clf_xy):
    X, y = clf_xy
    splits = make_splits(X, y, cv=None, validation_fraction=0.25,
                         classification=True, seed=0)
    return prepare_splits(X, y, y, splits), TaskInfo("binary", 2, n_samples=len(y))


def test_hgb_trial_result_and_early_stopping(clf_splits):
    splits, task = clf_splits
    result = run_trial(HGB, splits, task, scorer=get_scorer("accuracy"),
                       classes=np.array([0, 1]), seed=3)
    assert result.ok and result.device == "cpu"
    assert 0 < result.epochs < HGB["hgb__max_iter"]  # stopped on the valid split
    assert result.epochs_run == result.epochs and result.segments == [
        (result.epochs, result.epochs)]
    assert result.fit_time > 0 and result.curve == []
    (proba,) = result.valid_predictions
    assert proba.shape == (len(splits[0].y_valid), 2)
    model = result.nets[0]
    assert model.estimators_[0].random_state == 3


def test_hgb_trial_stops_at_its_deadline_and_failures_are_recorded(clf_splits):
    splits, task = clf_splits
    slow = {**HGB, "hgb__max_iter": 1000, "hgb__n_iter_no_change": 1000}
    result = run_trial(slow, splits, task, scorer=get_scorer("accuracy"),
                       classes=np.array([0, 1]), deadline=time.time() - 1)
    assert result.ok and result.stopped_by_budget
    assert result.epochs == hgb.CHUNK  # the first chunk only
    bad = run_trial({**HGB, "hgb__max_leaf_nodes": 1}, splits, task,
                    scorer=get_scorer("accuracy"), classes=np.array([0, 1]))
    assert bad.status == "failed" and "max_leaf_nodes" in bad.error
    assert not bad.nets and np.isnan(bad.score)


def test_classifier_model_keeps_a_column_for_a_class_missing_in_training():
    rng = np.random.default_rng(0)
    X = rng.random((60, 3))
    y = (X[:, 0] > 0.5).astype(int) * 2  # classes 0 and 2 of (0, 1, 2)
    model = hgb.make_model(HGB, TaskInfo("multiclass", 3), classes=["a", "b", "c"],
                           seed=0).fit(X, y)
    proba = model.predict_proba(X)
    assert proba.shape == (60, 3)
    np.testing.assert_array_equal(proba[:, 1], 0.0)
    assert set(model.predict(X)) == {"a", "c"}


def test_cv_bags_hgb_fold_models(clf_xy):
    X, y = clf_xy
    est = AutoDLClassifier(**FAST, families=["hgb"], n_trials=2, cv=2,
                           random_state=0).fit(X, y)
    member = est.ensemble_[0][0]
    assert isinstance(member, BaggedModel) and len(member.models) == 2
    assert est.score(X, y) > 0.85


def test_resume_from_a_checkpoint_with_hgb_trials(clf_xy, tmp_path):
    X, y = clf_xy
    params = dict(FAST, families=["mlp", "hgb"], random_state=0,
                  search_space={"max_epochs": 4}, checkpoint_dir=tmp_path)
    first = AutoDLClassifier(**params, n_trials=3).fit(X, y)
    assert "hgb" in set(first.leaderboard_["family"])
    resumed = AutoDLClassifier(**params, n_trials=5).fit(X, y)
    assert resumed.n_trials_ == 5
    assert list(resumed.cv_results_["params"][:3]) == list(
        first.cv_results_["params"])
    assert resumed.score(X, y) > 0.8
    # every trial restored: the members (hgb ones too) refit from their
    # configs, with no trial models to fall back on
    restored = AutoDLClassifier(**params, n_trials=5).fit(X, y)
    assert restored.n_trials_ == 5
    assert restored.score(X, y) > 0.8
