"""What skautodl.report shows of a fitted search: the plots draw what it
holds, and summary() describes it in a few lines (text and HTML)."""

import copy

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.metrics import confusion_matrix
from sklearn.utils import estimator_html_repr

import skautodl
from skautodl import AutoDLClassifier, AutoDLRegressor
from skautodl.report import (
    SearchSummary,
    plot_confusion_matrix,
    plot_ensemble,
    plot_residuals,
    plot_search,
    plot_search_progress,
)

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
plt = pytest.importorskip("matplotlib.pyplot")

TINY = {"time_budget": None, "cv": None, "verbose": 0, "random_state": 0,
        "search_space": {"max_epochs": 3}}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(120, 4)
    return X, np.array(["a", "b", "c"])[(X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)]


@pytest.fixture(scope="module")
def clf(data):
    X, y = data
    return AutoDLClassifier(n_trials=8, ensemble_size=5, **TINY).fit(X, y)


@pytest.fixture(scope="module")
def reg(data):
    X, _ = data
    Y = np.c_[X[:, 0] + X[:, 1], 2 * X[:, 2]]
    return AutoDLRegressor(n_trials=1, fidelity=None,
                           **{**TINY, "cv": "auto"}).fit(X, Y), Y


def _ticks(ax):
    return [t.get_text() for t in ax.get_xticklabels()]


def _panel(fig, name):
    return next(ax for ax in fig.get_axes() if ax.get_xlabel() == name)


def test_plot_search_grid(clf, tmp_path):
    fig = plot_search(clf)
    axes = fig.get_axes()
    # the progress panel, then at most 8 parameters, 3 panels a row
    assert 3 <= len(axes) <= 9
    assert len({round(ax.get_position().x0, 3) for ax in axes}) == 3
    width, height = fig.get_size_inches()
    assert width == pytest.approx(11.1) and height <= 9.0
    names = [ax.get_xlabel() for ax in axes[1:]]
    assert names[0] == "family" and "lr" in names and "batch_size" in names
    fig.savefig(tmp_path / "search.png")
    assert (tmp_path / "search.png").stat().st_size > 1000
    assert len(plot_search(clf, max_params=2).get_axes()) == 3


def test_categorical_parameters_are_categories(clf):
    fig = plot_search(clf, params=["batch_size", "family", "lr"])
    board = clf.leaderboard_.sort_values("trial")  # the order trials are drawn in
    ok = board[board["status"] == "ok"]
    sizes = sorted({int(v) for v in ok["batch_size"]})
    ax = _panel(fig, "batch_size")
    # one tick per choice the trials took, in numeric order, not a number line
    assert _ticks(ax) == [str(v) for v in sizes]
    assert ax.get_xlim() == (-0.5, len(sizes) - 0.5)
    x = ax.collections[0].get_offsets()[:, 0]
    assert np.all(np.abs(x - np.round(x)) <= 0.15)
    np.testing.assert_array_equal(
        np.round(x), [sizes.index(int(v)) for v in ok["batch_size"]])
    assert _ticks(_panel(fig, "family")) == sorted(set(ok["family"]))
    # a log-uniform dimension on a log axis
    assert _panel(fig, "lr").get_xscale() == "log"


def test_categories_without_the_search_space(clf):
    """A loaded model has no searcher: a few distinct integers are categories."""
    loaded = copy.copy(clf)
    loaded.searcher_ = None
    fig = plot_search(loaded, params=["batch_size", "module__dropout"])
    ok = clf.leaderboard_[clf.leaderboard_["status"] == "ok"]
    assert _ticks(_panel(fig, "batch_size")) == [
        str(v) for v in sorted({int(v) for v in ok["batch_size"]})]
    dropout = _panel(fig, "module__dropout")
    assert dropout.get_xscale() == "linear"
    np.testing.assert_allclose(sorted(dropout.collections[0].get_offsets()[:, 0]),
                               sorted(ok["module__dropout"].dropna()))


def test_plot_search_progress(clf):
    ax = plot_search_progress(clf)
    board = clf.leaderboard_
    families = sorted(set(board["family"]))
    lines = ax.get_lines()
    assert len(lines) == len(families) + 1  # one per family, and the overall best
    best = lines[-1].get_ydata()
    assert np.all(np.diff(best[~np.isnan(best)]) >= 0)
    assert best[-1] == pytest.approx(clf.best_score_)
    assert [line.get_label() for line in lines] == [
        *(f"best {f}" for f in families), "best so far"]
    # one dot per successful trial, at its cumulative seconds and score
    dots = np.concatenate([c.get_offsets() for c in ax.collections])
    ordered = board.sort_values("trial")
    ok = (ordered["status"] == "ok").to_numpy()
    assert len(dots) == ok.sum()
    np.testing.assert_allclose(sorted(dots[:, 1]), sorted(ordered["score"][ok]))
    assert dots[:, 0].max() <= ordered["fit_time"].sum() + 1e-9
    assert ax.get_ylabel() == "validation accuracy"
    _, mine = plt.subplots()
    assert plot_search_progress(clf, ax=mine) is mine


def test_plot_ensemble_bar_heights_are_the_weights(clf):
    ax = plot_ensemble(clf)
    heights = [bar.get_height() for bar in ax.patches]
    weights = sorted((w for _, w in clf.ensemble_), reverse=True)
    assert len(set(weights)) >= 2  # else the order would not be checked
    np.testing.assert_allclose(heights, weights)
    board = clf.leaderboard_
    members = board[board["ensemble_weight"] > 0]
    assert {t.split("\n")[0] for t in _ticks(ax)} == {
        f"trial {t}" for t in members["trial"]}
    _, mine = plt.subplots()
    assert plot_ensemble(clf, ax=mine) is mine


def test_plot_confusion_matrix(clf, data):
    X, y = data
    ax = plot_confusion_matrix(clf, X, y)
    np.testing.assert_array_equal(ax.images[0].get_array(),
                                  confusion_matrix(y, clf.predict(X),
                                                   labels=clf.classes_))
    assert _ticks(ax) == list(clf.classes_)
    shares = plot_confusion_matrix(clf, X, y, normalize="true").images[0].get_array()
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)


def test_plot_residuals(reg, data):
    est, Y = reg
    X, _ = data
    ax = plot_residuals(est, X, Y)
    predicted = est.predict(X)
    assert len(ax.collections) == 2  # one colour per target
    for k, dots in enumerate(ax.collections):
        np.testing.assert_allclose(dots.get_offsets()[:, 0], predicted[:, k],
                                   rtol=1e-6)
        np.testing.assert_allclose(dots.get_offsets()[:, 1],
                                   Y[:, k] - predicted[:, k], rtol=1e-5, atol=1e-6)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == \
        ["target 0", "target 1"]
    assert ax.get_lines()[0].get_ydata()[0] == 0.0


def test_plots_refuse_the_wrong_kind_of_estimator(clf, reg, data):
    X, y = data
    with pytest.raises(TypeError, match="plot_residuals draws"):
        plot_confusion_matrix(reg[0], X, reg[1])
    with pytest.raises(TypeError, match="plot_confusion_matrix draws"):
        plot_residuals(clf, X, y)
    with pytest.raises(ValueError, match="no_such_parameter"):
        plot_search(clf, params=["no_such_parameter"])


@pytest.mark.parametrize("plot", [plot_search, plot_search_progress, plot_ensemble])
def test_plots_need_a_fitted_estimator(plot):
    with pytest.raises(NotFittedError):
        plot(AutoDLClassifier())


@pytest.mark.parametrize("plot", [plot_confusion_matrix, plot_residuals])
def test_error_plots_need_a_fitted_estimator(plot):
    with pytest.raises(NotFittedError):
        plot(AutoDLClassifier(), np.zeros((2, 2)), [0, 1])


# ------------------------------------------------------------------ summary
def _text(summary):
    return {line[2:].split("  ")[0]: line[2:].split("  ", 1)[1].strip()
            for line in repr(summary).splitlines()[1:] if line[2:3] != " "}


def test_summary_of_a_classifier(clf):
    summary = clf.summary()
    assert isinstance(summary, SearchSummary)
    lines = repr(summary).splitlines()
    assert lines[0] == "AutoDLClassifier: multiclass classification, 3 classes"
    assert str(summary) == repr(summary) and len(lines) < 15
    rows = _text(summary)
    assert rows["data"] == "120 rows x 4 features"
    assert rows["search"].startswith("bayes, hyperband fidelity: 8 trials in ")
    assert rows["search"].endswith("n_trials reached (n_trials=8)")
    assert rows["validation"] == "holdout of 20% of the rows"
    best = clf.cv_results_["trial_id"][clf.best_index_]
    assert rows["best trial"] == (f"trial {best} ({clf.best_params_['family']}): "
                                  f"accuracy {clf.best_score_:.4f}")
    assert rows["ensemble"].startswith(f"accuracy {clf.ensemble_score_:.4f} ")
    # the members, heaviest first, with the ensemble's own weights
    members = summary.members
    assert list(members.columns) == ["trial", "family", "score", "weight"]
    assert sorted(members["weight"]) == sorted(w for _, w in clf.ensemble_)
    assert list(members["weight"]) == sorted(members["weight"], reverse=True)
    assert len(set(members["weight"])) >= 2  # else the order would not be checked
    assert rows["members"].startswith(
        f"trial {members['trial'][0]} ({members['family'][0]})  weight "
        f"{members['weight'][0]:.2f}")
    assert sum("weight" in line for line in lines) == len(clf.ensemble_)


def test_summary_html(clf):
    summary = clf.summary()
    page = summary._repr_html_()
    assert page.startswith('<div class="skautodl-summary">')
    assert "<strong>AutoDLClassifier: multiclass classification, 3 classes</strong>"\
        in page
    assert page.count("<tr>") == len(summary.rows) + 1  # + the members
    assert "<th>validation</th><td>holdout of 20% of the rows</td>" in page
    assert page.count("<br>") == len(summary.members) - 1


def test_html_is_escaped():
    import pandas as pd

    members = pd.DataFrame({"trial": [1], "family": ["<mlp>"], "score": [0.5],
                            "weight": [1.0]})
    page = SearchSummary("A & B", [("x<y", "1 < 2")], members)._repr_html_()
    assert "A &amp; B" in page and "<th>x&lt;y</th><td>1 &lt; 2</td>" in page
    assert "(&lt;mlp&gt;)" in page


def test_summary_of_a_multioutput_regressor(reg):
    reg, _ = reg
    assert reg.n_outputs_ == 2 and reg.n_samples_fit_ == 120
    summary = reg.summary()
    assert repr(summary).splitlines()[0] == \
        "AutoDLRegressor: multi-output regression, 2 targets"
    rows = _text(summary)
    assert rows["validation"] == '5-fold bagging (cv="auto")'
    assert rows["search"].startswith("bayes, full fidelity: 1 trials")
    assert rows["best trial"].endswith(f"r2 {reg.best_score_:.4f}")


def test_summary_before_fit():
    with pytest.raises(NotFittedError):
        AutoDLClassifier().summary()
    with pytest.raises(NotFittedError):
        SearchSummary.from_estimator(AutoDLRegressor())


def test_scikit_learn_html_repr_still_works(clf):
    """summary's HTML is its own: the estimators keep scikit-learn's diagram."""
    for est in (AutoDLClassifier(), clf):
        page = estimator_html_repr(est)
        assert "AutoDLClassifier" in page and "skautodl-summary" not in page
        assert "sk-top-container" in est._repr_html_()


def test_summary_after_save_and_load(clf, tmp_path):
    path = tmp_path / "model.skautodl"
    skautodl.save(clf, path)
    loaded = skautodl.load(path)
    assert loaded.n_samples_fit_ == 120 and loaded.n_outputs_ == 1
    assert repr(loaded.summary()) == repr(clf.summary())
