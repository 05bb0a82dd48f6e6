"""Tests of skautodl/training/scoring.py: the scorer is checked up front."""

import numpy as np
import pytest

from skautodl.data.validation import TaskInfo
from skautodl.training.scoring import trial_scorer

REG = TaskInfo("regression", 1)
BIN = TaskInfo("binary", 2)
MULTI = TaskInfo("multiclass", 3)


@pytest.mark.parametrize("scoring, task, y, words", [
    ("accuracy", REG, np.linspace(0, 1, 30), "continuous"),
    ("roc_auc", MULTI, np.arange(30) % 3, "multi_class"),
    ("r2", BIN, np.array(["a", "b"] * 15), "'r2'"),
])
def test_a_scorer_that_cannot_score_the_task_is_refused(scoring, task, y, words):
    with pytest.raises(ValueError, match=f"'scoring' parameter of Est is "
                       f"'{scoring}', which cannot score this {task.kind} task"
                       ) as info:
        trial_scorer(scoring, "accuracy", task, y, "Est")
    assert words in str(info.value)


@pytest.mark.parametrize("scoring, task, y", [
    (None, BIN, np.array([0, 1] * 15)),
    ("neg_log_loss", MULTI, np.arange(30) % 3),
    ("f1_macro", MULTI, np.arange(30) % 3),
    ("neg_mean_absolute_error", REG, np.linspace(0, 1, 30)),
    ("roc_auc", BIN, np.array(["no", "yes"] * 15)),
])
def test_scorers_that_fit_the_task_pass(scoring, task, y):
    scorer = trial_scorer(scoring, "accuracy" if task.is_classification else "r2",
                          task, y)
    assert callable(scorer)


def test_the_dry_run_sees_every_class():
    # the first 64 rows hold one class only; the metric needs both
    y = np.array([0] * 100 + [1] * 5)
    assert callable(trial_scorer("roc_auc", "accuracy", BIN, y))


def test_a_callable_is_used_as_given():
    def mine(est, X, y):  # needs the trial's net: never dry-run
        return est.lr

    assert trial_scorer(mine, "accuracy", BIN, np.array([0, 1])) is mine
