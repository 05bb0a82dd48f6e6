"""AutoDLClassifier / AutoDLRegressor end to end: fit, predict, attributes,
parameters, reproducibility, progress and budgets."""

import logging

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_iris, make_classification, make_regression
from sklearn.exceptions import NotFittedError

from skautodl import AutoDLClassifier, AutoDLRegressor
from skautodl.exceptions import AllTrialsFailedError

FAST = {"cv": None, "time_budget": None,
        "n_trials": 2, "search_space": {"max_epochs": 8},
            "verbose": 0, "random_state": 0, "device": "cpu"}


@pytest.fixture(scope="module")
def clf_data():
    X, y = make_classification(n_samples=160, n_features=6, n_informative=4,
                               n_classes=3, random_state=0)
    return X, y


@pytest.fixture(scope="module")
def reg_data():
    X, y = make_regression(n_samples=160, n_features=5, noise=5.0, random_state=0)
    return X, y


@pytest.fixture(scope="module")
def fitted_clf(clf_data):
    X, y = clf_data
    return AutoDLClassifier(**FAST).fit(X, y)


def test_classifier_fitted_attributes(fitted_clf, clf_data):
    X, y = clf_data
    clf = fitted_clf
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.n_features_in_ == 6
    assert clf.n_trials_ == 2
    assert set(clf.best_params_) >= {"family", "lr", "max_epochs", "batch_size",
                                     "module__n_layers"}
    assert clf.best_params_["max_epochs"] == 8
    assert 0 <= clf.best_score_ <= 1
    assert clf.cv_results_["mean_test_score"][clf.best_index_] == clf.best_score_
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    assert clf.score(X, y) > 0.6
    assert clf.search_time_ > 0 and clf.fit_time_ >= clf.search_time_
    # 2 trials: an ensemble of one or both, weights summing to 1
    assert 1 <= len(clf.ensemble_) <= 2
    assert sum(w for _, w in clf.ensemble_) == pytest.approx(1.0)


def test_leaderboard_and_cv_results(fitted_clf):
    lb = fitted_clf.leaderboard_
    assert isinstance(lb, pd.DataFrame)
    assert len(lb) == 2
    for col in ["rank", "trial", "score", "epochs", "fit_time", "status", "error",
                "lr", "module__n_units"]:
        assert col in lb.columns
    assert lb["rank"].iloc[0] == 1
    assert lb["score"].iloc[0] == pytest.approx(fitted_clf.best_score_)
    assert (lb["status"] == "ok").all()
    res = fitted_clf.cv_results_
    for key in ["params", "param_lr", "split0_test_score", "mean_test_score",
                "std_test_score", "rank_test_score", "mean_fit_time",
                "mean_score_time", "std_fit_time", "std_score_time"]:
        assert key in res
    assert len(res["params"]) == 2
    assert res["params"][res["rank_test_score"].argmin()] == fitted_clf.best_params_


def test_best_estimator_is_pipeline_predicting_raw_input(fitted_clf, clf_data):
    from sklearn.pipeline import Pipeline

    X, _ = clf_data
    pipe = fitted_clf.best_estimator_
    assert isinstance(pipe, Pipeline)
    proba = pipe.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_array_equal(pipe.predict(X), proba.argmax(axis=1))
    if len(fitted_clf.ensemble_) == 1:  # the ensemble is the best model
        np.testing.assert_array_equal(pipe.predict(X), fitted_clf.predict(X))


@pytest.mark.parametrize("labels", [
    np.array(["cat", "dog", "emu"]),
    np.array([10, -3, 7]),
    np.array([1.0, 4.0, 9.0]),
])
def test_label_types_are_kept(clf_data, labels):
    X, y = clf_data
    y_user = labels[y]
    clf = AutoDLClassifier(**FAST).fit(X, y_user)
    np.testing.assert_array_equal(clf.classes_, np.sort(labels))
    pred = clf.predict(X)
    assert set(pred) <= set(labels)
    assert pred.dtype == y_user.dtype
    assert (pred == y_user).mean() > 0.6


def test_bool_and_pandas_labels(clf_data):
    X, y = clf_data
    yb = y == 1
    clf = AutoDLClassifier(**FAST).fit(X, yb)
    assert clf.predict(X).dtype == bool
    ys = pd.Series(pd.Categorical(np.array(["a", "b", "c"])[y]))
    clf = AutoDLClassifier(**FAST).fit(pd.DataFrame(X), ys)
    assert list(clf.classes_) == ["a", "b", "c"]


def test_regressor_1d_and_2d(reg_data):
    X, y = reg_data
    reg = AutoDLRegressor(**FAST).fit(X, y)
    pred = reg.predict(X)
    assert pred.shape == (len(X),) and pred.dtype == np.float64
    assert reg.score(X, y) > 0.3
    Y = np.column_stack([y, -2 * y + 100])
    reg2 = AutoDLRegressor(**FAST).fit(X, Y)
    P = reg2.predict(X)
    assert P.shape == (len(X), 2)
    # targets are standardized internally: the second column's offset and
    # scale come back in the predictions
    assert np.corrcoef(P[:, 1], Y[:, 1])[0, 1] > 0.5
    assert abs(P[:, 1].mean() - Y[:, 1].mean()) < 0.5 * Y[:, 1].std()


def test_regressor_int_targets(reg_data):
    X, y = reg_data
    reg = AutoDLRegressor(**FAST).fit(X.astype(np.float32), np.round(y).astype(int))
    assert reg.predict(X).dtype == np.float64


def test_mixed_pandas_input_with_missing_values():
    rng = np.random.RandomState(0)
    n = 200
    df = pd.DataFrame({
        "num": rng.normal(size=n),
        "int_nullable": pd.array(rng.randint(0, 5, n), dtype="Int64"),
        "flag": rng.rand(n) > 0.5,
        "color": rng.choice(["red", "green", "blue"], n),
        "cat": pd.Categorical(rng.choice(["x", "y"], n)),
    })
    y = ((df["num"] > 0) ^ (df["color"] == "red")).astype(int).to_numpy()
    df.loc[rng.rand(n) < 0.1, "num"] = np.nan
    df.loc[rng.rand(n) < 0.1, "color"] = None
    df.loc[rng.rand(n) < 0.1, "int_nullable"] = pd.NA
    clf = AutoDLClassifier(**{**FAST, "fidelity": None,
                              "search_space": {"max_epochs": 30}}).fit(df, y)
    np.testing.assert_array_equal(clf.feature_names_in_, df.columns)
    assert clf.score(df, y) > 0.7
    # unseen category and new missing values at predict time are fine
    new = df.head(5).copy()
    new.loc[new.index[0], "color"] = "purple"
    new.loc[new.index[1], "num"] = np.nan
    assert clf.predict(new).shape == (5,)


def test_numpy_object_array_with_strings():
    rng = np.random.RandomState(0)
    X = np.empty((100, 2), dtype=object)
    X[:, 0] = rng.normal(size=100)
    X[:, 1] = rng.choice(["a", "b"], 100)
    y = (X[:, 1] == "a").astype(int)
    clf = AutoDLClassifier(**{**FAST, "fidelity": None,
                              "search_space": {"max_epochs": 30}}).fit(X, y)
    assert clf.score(X, y) > 0.9


def test_kfold_cv_and_scoring(clf_data):
    X, y = clf_data
    clf = AutoDLClassifier(**{**FAST, "cv": 3, "scoring": "neg_log_loss"}).fit(X, y)
    res = clf.cv_results_
    assert {"split0_test_score", "split1_test_score", "split2_test_score"} <= set(res)
    assert np.all(res["mean_test_score"] <= 0)  # a negated loss
    np.testing.assert_allclose(
        res["mean_test_score"],
        np.mean([res[f"split{k}_test_score"] for k in range(3)], axis=0))


def test_callable_scoring_and_custom_splitter(reg_data):
    from sklearn.metrics import make_scorer, mean_absolute_error
    from sklearn.model_selection import KFold

    X, y = reg_data
    scorer = make_scorer(mean_absolute_error, greater_is_better=False)
    reg = AutoDLRegressor(**{**FAST, "scoring": scorer,
                             "cv": KFold(2, shuffle=True, random_state=0)}).fit(X, y)
    assert "split1_test_score" in reg.cv_results_
    assert reg.best_score_ < 0


@pytest.mark.parametrize("search", ["bayes", "random"])
def test_searchers_run(clf_data, search):
    X, y = clf_data
    clf = AutoDLClassifier(**{**FAST, "n_trials": 4, "search": search}).fit(X, y)
    assert clf.n_trials_ == 4
    # the portfolio's known-good configs run first (half the trials), then
    # the searcher's own
    assert list(clf.cv_results_["origin"]) == ["portfolio"] * 2 + ["searcher"] * 2
    assert clf.searcher_.n_asked == 2
    configs = clf.cv_results_["params"]
    assert len({tuple(sorted(c.items())) for c in configs}) == 4


@pytest.mark.parametrize("n_trials, n_portfolio", [(1, 1), (5, 3), (6, 3)])
def test_portfolio_takes_at_most_half_of_the_trials(clf_data, n_trials,
                                                     n_portfolio):
    X, y = clf_data
    clf = AutoDLClassifier(**{**FAST, "n_trials": n_trials, "search": "random",
                              "search_space": {"max_epochs": 2}, "fidelity": None,
                              "families": ["mlp"]}).fit(X, y)
    origins = list(clf.cv_results_["origin"])
    assert origins.count("portfolio") == n_portfolio
    assert origins.count("searcher") == clf.searcher_.n_asked == n_trials - n_portfolio


def test_searchspec_can_switch_the_portfolio_off(clf_data):
    from skautodl.search import SearchSpec

    X, y = clf_data
    clf = AutoDLClassifier(**{**FAST, "n_trials": 3, "fidelity": None,
                              "search": SearchSpec("random", portfolio=False),
                              "search_space": {"max_epochs": 2}}).fit(X, y)
    assert list(clf.cv_results_["origin"]) == ["searcher"] * 3
    assert clf.searcher_.n_asked == 3
    assert repr(clf.search) == "SearchSpec('random', portfolio=False)"


@pytest.mark.usefixtures("default_portfolio_only")
def test_user_searcher_object(clf_data):
    class Fixed:
        def __init__(self):
            self.told = []

        def setup(self, space, random_state):
            self.space = space

        def ask(self, n=1):
            return [{**self.space.default_config("mlp"), "lr": 0.005}
                    for _ in range(n)]

        def tell(self, configs, scores):
            self.told.extend(scores)

    X, y = clf_data
    searcher = Fixed()
    clf = AutoDLClassifier(**{**FAST, "n_trials": 3, "search": searcher}).fit(X, y)
    # fit works on a copy: the parameter object is left as given
    assert searcher.told == [] and not hasattr(searcher, "space")
    assert len(clf.searcher_.told) == 3
    assert clf.cv_results_["params"][2]["lr"] == 0.005


@pytest.mark.parametrize("surrogate", ["GP", "RF", "ET", "GBRT"])
def test_bayes_surrogate_option(clf_data, surrogate):
    from skautodl.search import SearchSpec
    from skautodl.search.searchers import BayesSearcher

    X, y = clf_data
    spec = SearchSpec("bayes", surrogate=surrogate, n_initial_points=2)
    clf = AutoDLClassifier(**{**FAST, "n_trials": 5, "search": spec,
                              "families": ["mlp"], "fidelity": None,
                              "search_space": {"max_epochs": 2}}).fit(X, y)
    assert isinstance(clf.searcher_, BayesSearcher)
    assert clf.searcher_.surrogate == surrogate
    assert clf.n_trials_ == 5
    # the 3 portfolio configs were told first, so the searcher's 2 asks came
    # from the fitted surrogate, not from random initial points
    assert clf.searcher_.n_asked == 2
    assert clf.searcher_._optimizers["mlp"].models
    assert repr(spec) == (
        f"SearchSpec('bayes', n_initial_points=2, surrogate='{surrogate}')")


def test_reproducible_with_random_state(clf_data):
    X, y = clf_data
    a = AutoDLClassifier(**{**FAST, "n_trials": 4}).fit(X, y)
    b = AutoDLClassifier(**{**FAST, "n_trials": 4}).fit(X, y)
    assert a.searcher_.n_asked == b.searcher_.n_asked == 2
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert a.cv_results_["params"] == b.cv_results_["params"]
    np.testing.assert_array_equal(a.cv_results_["mean_test_score"],
                                  b.cv_results_["mean_test_score"])
    c = AutoDLClassifier(**{**FAST, "n_trials": 4, "random_state": 1}).fit(X, y)
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))


def test_time_budget_bounds_every_deadline(clf_data, monkeypatch, deadline_spy):
    from skautodl.training import refit

    budgets, deadlines = deadline_spy
    refit_deadlines = []
    build = refit.build_net

    def spy_build(*args, **kwargs):
        refit_deadlines.append(kwargs["deadline"])
        return build(*args, **kwargs)

    monkeypatch.setattr(refit, "build_net", spy_build)
    X, y = clf_data
    clf = AutoDLClassifier(time_budget=2, verbose=0, random_state=0,
                           search_space={"max_epochs": 200}).fit(X, y)
    (budget,) = budgets
    assert clf.stop_reason_ == "time_budget" and clf.n_trials_ >= 1
    # every trial must end by the search's end, minus the refit's reserve
    assert deadlines and all(d <= budget.end_time for d in deadlines)
    # the refit stops a second before fit's hard end, and that end is
    # time_budget + min(10 %, 30 s) + 5 s after fit began
    assert budget.hard_end == pytest.approx(budget.start + 2 + 0.2 + 5)
    # (one refit per ensemble member it could afford)
    assert all(d == pytest.approx(budget.hard_end - 1.0) for d in refit_deadlines)


def test_featurizations_are_built_on_first_use(clf_data, monkeypatch):
    from skautodl.data import featurize

    fitted = []
    fit = featurize.TabularFeaturizer.fit

    def spy(self, X, y=None):
        fitted.append(self.get_params()["numeric_scaling"])
        return fit(self, X, y)

    monkeypatch.setattr(featurize.TabularFeaturizer, "fit", spy)
    X, y = clf_data
    # 3 scalings x 2 categorical encodings could be asked for; one trial
    # asks for one, and only that one is built (then the refit's own)
    AutoDLClassifier(**{**FAST, "n_trials": 1, "fidelity": None,
                        "families": ["mlp", "embed"],
                        "search_space": {"max_epochs": 2,
                                         "featurize__numeric_scaling": [
                                             "standard", "quantile", "robust"]}}
                     ).fit(X, y)
    assert fitted == ["standard", "standard"]


def test_pickle_of_a_fitted_estimator_holds_no_scheduler_or_optimizer_copy(
        fitted_clf):
    import pickle

    loaded = pickle.loads(pickle.dumps(fitted_clf))
    net = loaded.best_estimator_[-1]
    schedules = [cb for _, cb in net.callbacks_ if hasattr(cb, "lr_scheduler_")]
    assert schedules and all(cb.lr_scheduler_ is None for cb in schedules)
    for _, cb in [*net.callbacks_, *(
            (None, c) for c in net.callbacks if not isinstance(c, tuple))]:
        for value in vars(cb).values():
            assert not isinstance(value, torch.optim.Optimizer)
            assert not isinstance(value, torch.optim.lr_scheduler.LRScheduler)
    # the live model keeps what it needs and predicts the same
    np.testing.assert_array_equal(loaded.predict_proba(np.zeros((3, 6))),
                                  fitted_clf.predict_proba(np.zeros((3, 6))))


def test_all_trials_failing_raises_with_first_error(clf_data):
    X, y = clf_data
    clf = AutoDLClassifier(**{**FAST, "search_space": {"module__norm": "bogus"}})
    with pytest.warns(UserWarning, match="Trial 1 failed"):
        with pytest.raises(AllTrialsFailedError, match="norm must be one of"):
            clf.fit(X, y)


@pytest.mark.usefixtures("default_portfolio_only")
def test_failed_trial_does_not_stop_search(clf_data):
    X, y = clf_data
    clf = AutoDLClassifier(**{**FAST, "n_trials": 4,
                              "search_space": {"max_epochs": 5,
                                               "module__norm": ["bogus", "none"]}})
    with pytest.warns(UserWarning, match="failed"):
        clf.fit(X, y)
    lb = clf.leaderboard_
    assert (lb["status"] == "failed").any() and (lb["status"] == "ok").any()
    failed = lb[lb["status"] == "failed"]
    assert failed["error"].str.contains("norm must be one of").all()
    assert clf.best_params_["module__norm"] == "none"
    assert lb["rank"][lb["status"] == "failed"].min() > lb["rank"][
        lb["status"] == "ok"].max()


# --------------------------------------------------------------- progress / logs
def test_verbose_progress_bar(clf_data, capsys):
    X, y = clf_data
    AutoDLClassifier(**{**FAST, "verbose": 1}).fit(X, y)
    err = capsys.readouterr().err
    assert "skautodl search" in err and "2/2" in err and "best=" in err
    assert "running=8ep/r0" in err  # the fidelity of the trial being run
    AutoDLClassifier(**{**FAST, "verbose": 1, "n_trials": None,
                        "time_budget": 5}).fit(X, y)
    assert "left=" in capsys.readouterr().err


def test_verbose_zero_is_silent(clf_data, capsys):
    X, y = clf_data
    AutoDLClassifier(**FAST).fit(X, y)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_messages_go_through_logging(clf_data, caplog):
    X, y = clf_data
    with caplog.at_level(logging.INFO, logger="skautodl"):
        AutoDLClassifier(**FAST).fit(X, y)
    trial_lines = [r for r in caplog.records if r.name == "skautodl"
                   and r.getMessage().startswith("trial")]
    assert len(trial_lines) == 2


# --------------------------------------------------------------- parameters
@pytest.mark.parametrize("param, value, match", [
    ("time_budget", 0, "time_budget"),
    ("time_budget", -5, "time_budget"),
    ("time_budget", "60", "time_budget"),
    ("n_trials", 0, "n_trials"),
    ("search", "annealing", "search"),
    ("search_space", [("lr", 0.1)], "search_space"),
    ("families", ["transformer"], "families"),
    ("families", [], "families"),
    ("fidelity", "full", "fidelity"),
    ("cv", 1, "cv"),
    ("cv", "five", "cv"),
    ("validation_fraction", 1.0, "validation_fraction"),
    ("validation_fraction", 0, "validation_fraction"),
    ("scoring", "not_a_scorer", "scoring"),
    ("scoring", 3, "scoring"),
    ("ensemble_size", 0, "ensemble_size"),
    ("device", "tpu", "device"),
    ("n_jobs", 0, "n_jobs"),
    ("checkpoint_dir", 3, "checkpoint_dir"),
    ("verbose", -1, "verbose"),
])
def test_invalid_parameter_values(clf_data, param, value, match):
    X, y = clf_data
    clf = AutoDLClassifier(**{**FAST, param: value})
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y)


def test_no_stopping_rule(clf_data):
    X, y = clf_data
    with pytest.raises(ValueError, match="time_budget.*n_trials"):
        AutoDLClassifier(time_budget=None, n_trials=None).fit(X, y)


def test_unknown_search_space_entry(clf_data):
    X, y = clf_data
    clf = AutoDLClassifier(**{**FAST, "search_space": {"learning_rate": 0.1}})
    with pytest.raises(ValueError, match="learning_rate"):
        clf.fit(X, y)


@pytest.mark.parametrize("name, hint", [
    ("module__n_unit", "module__n_units"),
    ("optimizer__weight_decy", "optimizer__weight_decay"),
])
def test_typo_behind_valid_prefix(clf_data, name, hint):
    X, y = clf_data
    clf = AutoDLClassifier(**{**FAST, "search_space": {name: [1, 2]}})
    with pytest.raises(ValueError, match=f"{name}.*Did you mean '{hint}'"):
        clf.fit(X, y)


def test_budget_too_small_for_any_trial(clf_data):
    X, y = clf_data
    with pytest.raises(AllTrialsFailedError, match="No trial could run"):
        AutoDLClassifier(time_budget=1e-6, verbose=0).fit(X, y)


def test_cuda_device_without_cuda(clf_data):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    X, y = clf_data
    with pytest.raises(ValueError, match="CUDA is not available"):
        AutoDLClassifier(**{**FAST, "device": "cuda"}).fit(X, y)


@pytest.mark.gpu
def test_fit_on_gpu(clf_data):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    X, y = clf_data
    clf = AutoDLClassifier(**{**FAST, "device": "cuda"}).fit(X, y)
    assert clf.best_estimator_[-1].device == "cuda"
    assert clf.score(X, y) > 0.6


def test_params_untouched_by_fit(clf_data):
    X, y = clf_data
    space = {"max_epochs": 5, "lr": (1e-3, 1e-2)}
    clf = AutoDLClassifier(**{**FAST, "search_space": space})
    clf.fit(X, y)
    assert clf.search_space is space
    assert space == {"max_epochs": 5, "lr": (1e-3, 1e-2)}


def test_docstring_example_iris():
    X, y = load_iris(return_X_y=True)
    clf = AutoDLClassifier(**FAST).fit(X, y)
    assert clf.predict(X[:4]).shape == (4,)


def test_unfitted_predict_raises():
    with pytest.raises(NotFittedError):
        AutoDLClassifier().predict(np.zeros((2, 3)))
    with pytest.raises(NotFittedError):
        AutoDLClassifier().predict_proba(np.zeros((2, 3)))
    with pytest.raises(NotFittedError):
        AutoDLRegressor().predict(np.zeros((2, 3)))


def test_verbose_two_adds_skorch_epoch_log(clf_data, capsys):
    X, y = clf_data
    AutoDLClassifier(**{**FAST, "verbose": 2, "n_trials": 1}).fit(X, y)
    out = capsys.readouterr().out
    assert "train_loss" in out and "valid_loss" in out


@pytest.mark.parametrize("est, param, value, words", [
    (AutoDLRegressor, "scoring", "accuracy", "cannot score this regression task"),
    (AutoDLClassifier, "search_space", {"max_epochs": 0}, "max_epochs must be"),
    (AutoDLClassifier, "search_space", {"batch_size": 0}, "batch_size must be"),
    (AutoDLClassifier, "search_space", {"module__n_units": 0}, "n_units must be"),
    (AutoDLClassifier, "families", ["cnn"], "cannot take tabular input"),
])
def test_settings_that_cannot_work_fail_before_any_training(clf_data, reg_data,
                                                          monkeypatch, est,
                                                          param, value, words):
    from skautodl.training import trial

    def no_training(*args, **kwargs):
        raise AssertionError("a trial was started")

    monkeypatch.setattr(trial, "run_trial", no_training)
    X, y = reg_data if est is AutoDLRegressor else clf_data
    with pytest.raises(ValueError, match=words):
        est(**{**FAST, param: value}).fit(X, y)
