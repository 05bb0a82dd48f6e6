"""plot_search draws the search of a fitted estimator."""

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.exceptions import NotFittedError

from skautodl import AutoDLClassifier
from skautodl.report import plot_search

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")


def test_plot_search(tmp_path):
    X, y = make_classification(n_samples=100, n_features=4, random_state=0)
    clf = AutoDLClassifier(time_budget=None, n_trials=4, search="random",
                           search_space={"max_epochs": 3}, verbose=0,
                           random_state=0).fit(X, y)
    fig = plot_search(clf)
    axes = fig.get_axes()
    assert len(axes) == 5  # best-so-far + 4 parameters
    best_line = axes[0].get_lines()[0].get_ydata()
    assert np.all(np.diff(best_line) >= 0)  # running best never decreases
    assert best_line[-1] == pytest.approx(clf.best_score_)
    assert axes[1].get_xlabel() in clf.best_params_
    fig.savefig(tmp_path / "search.png")
    assert (tmp_path / "search.png").stat().st_size > 1000
    fig = plot_search(clf, params=["lr"])
    assert len(fig.get_axes()) == 2 and fig.get_axes()[1].get_xscale() == "log"


def test_plot_search_unfitted():
    with pytest.raises(NotFittedError):
        plot_search(AutoDLClassifier())
