"""
============================================
Regression: diabetes progression
============================================

Fit :class:`~skautodl.AutoDLRegressor` on scikit-learn's bundled diabetes
data set (442 patients, 10 numeric features, a disease-progression score)
with a 30-second time budget and compare its test :math:`R^2` with a
default :class:`~sklearn.ensemble.HistGradientBoostingRegressor` trained on
the same split in the same run.

Run it with ``python examples/tabular/regression.py``;
``SKAUTODL_EXAMPLE_BUDGET`` caps the time budget.
"""

# %%
# Load the data and hold out a test set
# -------------------------------------
import os
import time

import pandas as pd
from sklearn.datasets import load_diabetes
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.model_selection import train_test_split

from skautodl import AutoDLRegressor
from skautodl.report import plot_residuals

budget = min(30, float(os.environ.get("SKAUTODL_EXAMPLE_BUDGET", 30)))

X, y = load_diabetes(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, random_state=0
)
print(f"train: {X_train.shape}, test: {X_test.shape}")

# %%
# Search for a network within the budget
# --------------------------------------
# Trials are ranked by validation :math:`R^2` (the default ``scoring`` of a
# regressor). The targets are standardized inside the networks and the
# predictions mapped back, so nothing needs scaling by hand. With fewer than
# 1,000 rows, each trial is validated by 5-fold bagging (``cv_`` says so),
# and the model is the fold models' average: no refit is needed.
reg = AutoDLRegressor(time_budget=budget, random_state=0, verbose=0)
start = time.perf_counter()
reg.fit(X_train, y_train)
wall_time = time.perf_counter() - start
print(f"validation protocol: cv_={reg.cv_}")

# %%
# The leaderboard
# ---------------
columns = [
    "rank", "trial", "family", "score", "std_score", "epochs", "fit_time",
    "ensemble_weight", "lr", "batch_size",
]
with pd.option_context("display.width", 160, "display.max_columns", None,
                       "display.precision", 4):
    print(reg.leaderboard_[columns].head(10).to_string(index=False))

# %%
# Compare with gradient boosting
# ------------------------------
# A default :class:`~sklearn.ensemble.HistGradientBoostingRegressor` is a
# strong baseline on small tabular data; both models see the same split.
hgb = HistGradientBoostingRegressor(random_state=0)
start = time.perf_counter()
hgb.fit(X_train, y_train)
hgb_time = time.perf_counter() - start

# %%
# The residuals of the network on the test set against its predictions
# (:func:`skautodl.report.plot_residuals`): no trend, and a spread that
# does not grow with the prediction, is what a good fit leaves.
plot_residuals(reg, X_test, y_test)

# %%
# Results
# -------
name = f"AutoDLRegressor(time_budget={budget:g})"
print(f"\ntrials run: {reg.n_trials_}")
print(f"{'model':<34} {'test R^2':>8} {'fit time':>9}")
print(f"{name:<34} {reg.score(X_test, y_test):8.4f} {wall_time:8.1f}s")
print(f"{'HistGradientBoostingRegressor()':<34} {hgb.score(X_test, y_test):8.4f} "
      f"{hgb_time:8.1f}s")
