"""Shared fixtures: seeding and tiny datasets that keep the tests fast."""

import numpy as np
import pandas as pd
import pytest
import torch


@pytest.fixture(autouse=True)
def _seed_everything():
    """Seed numpy's and torch's global generators before every test."""
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def mixed_frame():
    """60 rows of mixed pandas columns with missing values, and binary labels."""
    rng = np.random.RandomState(0)
    n = 60
    num = rng.randn(n)
    num[::7] = np.nan
    X = pd.DataFrame({
        "num": num,
        "int_na": pd.array([None if i % 9 == 0 else i for i in range(n)],
                           dtype="Int64"),
        "flag": rng.rand(n) > 0.5,
        "cat": pd.Categorical(rng.choice(["a", "b", "c"], n)),
        "text": [None if i % 11 == 0 else s for i, s in
                 enumerate(rng.choice(["x", "y"], n))],
    })
    y = np.where(num > 0, "yes", "no")
    return X, y


@pytest.fixture(scope="module")
def tiny_classification():
    """80 float32 rows, 4 features, labels "neg"/"pos" learnable from column 0."""
    rng = np.random.RandomState(0)
    X = rng.randn(80, 4).astype(np.float32)
    y_idx = (X[:, 0] > 0).astype(np.int64)
    return X, y_idx, np.array(["neg", "pos"])


@pytest.fixture(scope="module")
def tiny_regression():
    """80 float32 rows, 3 features, a linear target on a large scale."""
    rng = np.random.RandomState(0)
    X = rng.randn(80, 3).astype(np.float32)
    y = 100.0 + 50.0 * X[:, 0] - 20.0 * X[:, 1]
    return X, y


@pytest.fixture
def default_portfolio_only(monkeypatch):
    """Make the known-good portfolio just the default config.

    For tests that script the searcher's proposals and expect them right
    after the first trial.
    """
    import skautodl.estimators

    monkeypatch.setattr(skautodl.estimators, "portfolio_for",
                        lambda search, space, n_trials=None:
                        [space.default_config(f) for f in space.families])


@pytest.fixture
def deadline_spy(monkeypatch):
    """Record every ``Budget`` made and the deadline handed to every trial.

    Returns ``(budgets, deadlines)``, two lists filled as ``fit`` runs.
    """
    from skautodl.controller import loop
    from skautodl.training import trial

    budgets, deadlines = [], []
    init, call = loop.Budget.__init__, trial.Evaluator.__call__

    def spy_budget(self, *args, **kwargs):
        init(self, *args, **kwargs)
        budgets.append(self)

    def spy_call(self, job):
        deadlines.append(job.deadline)
        return call(self, job)

    monkeypatch.setattr(loop.Budget, "__init__", spy_budget)
    monkeypatch.setattr(trial.Evaluator, "__call__", spy_call)
    return budgets, deadlines
