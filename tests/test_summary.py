"""summary(): a fitted estimator's search in a few lines, and as HTML."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils import estimator_html_repr

import skautodl
from skautodl import AutoDLClassifier, AutoDLRegressor
from skautodl.report import SearchSummary

TINY = {"time_budget": None, "search_space": {"max_epochs": 3}, "verbose": 0,
        "random_state": 0}


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(120, 4)
    return X, np.array(["a", "b", "c"])[(X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)]


@pytest.fixture(scope="module")
def clf(data):
    X, y = data
    return AutoDLClassifier(n_trials=8, ensemble_size=5, cv=None, **TINY).fit(X, y)


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


def test_summary_of_a_multioutput_regressor(data):
    X, _ = data
    Y = np.c_[X[:, 0], X[:, 1] - X[:, 2]]
    reg = AutoDLRegressor(n_trials=1, fidelity=None, **TINY).fit(X, Y)
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
