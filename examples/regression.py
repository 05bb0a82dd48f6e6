"""
============================================
Regression: diabetes progression
============================================

Fit :class:`~skautodl.AutoDLRegressor` on scikit-learn's bundled diabetes
data set (442 patients, 10 numeric features, a disease-progression score)
with a 30-second time budget and compare its test :math:`R^2` with a
default :class:`~sklearn.ensemble.HistGradientBoostingRegressor` trained on
the same split in the same run.

Run it with ``python examples/regression.py``.
"""

# %%
# Load the data and hold out a test set
# -------------------------------------
import time

import pandas as pd
from sklearn.datasets import load_diabetes
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.model_selection import train_test_split

from skautodl import AutoDLRegressor

X, y = load_diabetes(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, random_state=0
)
print(f"train: {X_train.shape}, test: {X_test.shape}")

# %%
# Search for a network within 30 seconds
# ---------------------------------------
# Trials are ranked by validation :math:`R^2` (the default ``scoring`` of a
# regressor). The targets are standardized inside the networks and the
# predictions mapped back, so nothing needs scaling by hand.
reg = AutoDLRegressor(time_budget=30, random_state=0)
start = time.perf_counter()
reg.fit(X_train, y_train)
wall_time = time.perf_counter() - start

# %%
# The leaderboard
# ---------------
columns = [
    "rank", "score", "epochs", "fit_time", "status",
    "lr", "batch_size", "module__n_layers", "module__n_units",
    "module__dropout", "module__norm", "module__activation",
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

print(f"\ntrials run: {reg.n_trials_}")
print(f"{'model':<32} {'test R^2':>8} {'fit time':>9}")
print(f"{'AutoDLRegressor(time_budget=30)':<32} {reg.score(X_test, y_test):8.4f} "
      f"{wall_time:8.1f}s")
print(f"{'HistGradientBoostingRegressor()':<32} {hgb.score(X_test, y_test):8.4f} "
      f"{hgb_time:8.1f}s")
