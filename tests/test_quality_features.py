"""End-to-end tests of the quality features through the estimators: the
embed family on mixed data, searchable numeric scaling (one cached
featurization per choice), regularization and augmentation in the space."""

import pickle

import numpy as np
import pandas as pd
import pytest

from skautodl import AutoDLClassifier, AutoDLRegressor
from skautodl.data.featurize import TabularFeaturizer
from skautodl.data.validation import TaskInfo
from skautodl.search import SearchSpec
from skautodl.training.trial import feature_key


def _mixed(n=120, seed=0):
    rng = np.random.RandomState(seed)
    city = rng.choice([f"c{i}" for i in range(12)], n)
    x = rng.randn(n)
    x[::9] = np.nan
    X = pd.DataFrame({"x": x, "z": rng.randn(n) * 100,
                      "city": city, "flag": rng.choice(["u", "v"], n)})
    y = np.where((np.nan_to_num(x) > 0) ^ np.isin(city, ["c1", "c2", "c3"]), "a", "b")
    return X, y


def test_embed_family_fits_mixed_data_and_round_trips():
    X, y = _mixed()
    clf = AutoDLClassifier(time_budget=None, cv=None, n_trials=2, fidelity=None,
                           families=["embed"], random_state=0, verbose=0,
                           search_space={"max_epochs": 4})
    clf.fit(X, y)
    feat, net = clf.best_estimator_.steps[0][1], clf.best_estimator_.steps[1][1]
    assert isinstance(feat, TabularFeaturizer)
    assert feat.categorical_encoding == "codes"
    # the embed net was built from the refit featurizer's layout
    layout = feat.module_params_
    assert net.module__n_numeric == layout["n_numeric"]
    assert list(net.module__cardinalities) == list(layout["cardinalities"])
    assert len(layout["cardinalities"]) == 1  # city: 12 levels > max_onehot
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    clone = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(clone.predict_proba(X), proba)


def test_each_featurization_is_built_once_on_first_use(monkeypatch):
    from skautodl.data import featurize

    X, y = _mixed()
    stores, built = [], []
    original_init = featurize.FeatureStore.__init__
    original_prepare = featurize.prepare_splits

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        stores.append(self)

    def prepare(*args, **kwargs):
        built.append(kwargs["featurizer"].get_params())
        return original_prepare(*args, **kwargs)

    monkeypatch.setattr(featurize.FeatureStore, "__init__", init)
    monkeypatch.setattr(featurize, "prepare_splits", prepare)
    clf = AutoDLClassifier(
        cv=None,
        time_budget=None, n_trials=8, fidelity=None,
        search=SearchSpec("random", portfolio=False),
        families=["mlp", "embed"], random_state=0, verbose=0,
        search_space={"max_epochs": 2,
                      "featurize__numeric_scaling": ["standard", "robust"]})
    clf.fit(X, y)
    (store,) = stores
    task = TaskInfo("binary", 2)
    used = {feature_key(task, c) for c in clf.cv_results_["params"]}
    # exactly the featurizations some trial asked for, each built once
    assert set(store.keys()) == used and len(built) == len(used) >= 3
    for key in store.keys():
        params = store.get(key)[0].featurizer.get_params()
        assert {k: params[k] for k, _ in key} == dict(key)
    # the refit uses the featurization of the best config
    best_key = feature_key(task, clf.best_params_)
    feat = clf.best_estimator_.steps[0][1]
    assert {k: feat.get_params()[k] for k, _ in best_key} == dict(best_key)
    # robust scaling bounds the outlying column smoothly (|x| < 3)
    robust = store.get((("numeric_scaling", "robust"),
                        ("categorical_encoding", "onehot")))[0]
    assert np.abs(robust.X_train[:, :2]).max() < 3.0


def test_regularization_and_augmentation_configs_train(tiny_classification):
    X, y, _ = tiny_classification
    clf = AutoDLClassifier(
        cv=None,
        time_budget=None, n_trials=2, fidelity=None, random_state=0, verbose=0,
        search_space={"max_epochs": 3, "lr_schedule": "onecycle",
                      "criterion__label_smoothing": 0.1,
                      "augment__mixup_alpha": 0.4,
                      "callbacks__early_stopping__patience": 2,
                      "featurize__numeric_scaling": "quantile"})
    clf.fit(X, y)
    assert clf.best_params_["lr_schedule"] == "onecycle"
    assert clf.best_params_["augment__mixup_alpha"] == 0.4
    net = clf.best_estimator_.steps[1][1]
    assert net.criterion__label_smoothing == 0.1
    assert clf.best_estimator_.steps[0][1].numeric_scaling == "quantile"
    assert clf.score(X, y) > 0.5


def test_default_space_searches_the_new_dimensions(tiny_classification):
    X, _, _ = tiny_classification
    reg = AutoDLRegressor(time_budget=None, cv=None, n_trials=3, fidelity=None,
                          random_state=0, verbose=0, search="random",
                          search_space={"max_epochs": 2})
    reg.fit(X, X[:, 0] * 2.0)
    cols = set(reg.cv_results_)
    for name in ("lr_schedule", "featurize__numeric_scaling",
                 "callbacks__early_stopping__patience", "augment__mixup_alpha"):
        assert f"param_{name}" in cols
    assert "param_criterion__label_smoothing" not in cols  # classifiers only


@pytest.mark.parametrize("name, match", [
    ("augment__flipp", "augment__flip"),
    ("featurize__scaling", "featurize__numeric_scaling"),
])
def test_typos_behind_new_prefixes_raise(tiny_classification, name, match):
    X, y, _ = tiny_classification
    clf = AutoDLClassifier(time_budget=None, n_trials=1, search_space={name: 1})
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y)


def test_refit_cut_short_by_the_budget_keeps_the_trial_model(monkeypatch,
                                                              tiny_classification):
    import time

    from skautodl.exceptions import BudgetWarning
    from skautodl.training import refit

    X, y, _ = tiny_classification
    real_build = refit.build_net

    def late_build(*args, **kwargs):  # the refit's net: its deadline has passed
        return real_build(*args, **{**kwargs, "deadline": time.time() - 1.0})

    monkeypatch.setattr(refit, "build_net", late_build)
    clf = AutoDLClassifier(time_budget=None, cv=None, n_trials=2, fidelity=None,
                           random_state=0, verbose=0,
                           search_space={"max_epochs": 3})
    with pytest.warns(BudgetWarning, match="keeps the best trial's model"):
        clf.fit(X, y)
    net = clf.best_estimator_.steps[1][1]
    # the trial's net: it trained (3 epochs recorded), unlike the cut refit
    assert len(net.history) >= 1 and "valid_loss" in net.history[-1]
    assert clf.score(X, y) > 0.5
