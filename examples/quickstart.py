"""
==========================================
Quickstart: classify handwritten digits
==========================================

Fit :class:`~skautodl.AutoDLClassifier` on scikit-learn's bundled digits
data set (8x8 images flattened to 64 pixel columns, 10 classes) with a
60-second time budget, look at the leaderboard of the searched networks and
measure the accuracy on a held-out test set.

Run it with ``python examples/quickstart.py``. The environment variable
``SKAUTODL_EXAMPLE_BUDGET`` caps the time budget (``SKAUTODL_EXAMPLE_BUDGET=5
python examples/quickstart.py`` runs in seconds).
"""

# %%
# Load the data and hold out a test set
# -------------------------------------
# A quarter of the samples is kept aside, stratified by class. ``fit`` never
# sees them; it makes its own validation split inside the training part.
import os
import time

import pandas as pd
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skautodl import AutoDLClassifier

budget = min(60, float(os.environ.get("SKAUTODL_EXAMPLE_BUDGET", 60)))

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
print(f"train: {X_train.shape}, test: {X_test.shape}")

# %%
# Search for a network within the time budget
# --------------------------------------------
# ``time_budget`` covers the whole ``fit``: the search, the ensemble of the
# best trials and the final refit on all the training data. ``verbose=1``
# (the default) shows a progress bar with the best validation score so far.
clf = AutoDLClassifier(time_budget=budget, random_state=0)
start = time.perf_counter()
clf.fit(X_train, y_train)
wall_time = time.perf_counter() - start

# %%
# The leaderboard
# ---------------
# ``leaderboard_`` is a pandas DataFrame with one row per trial, best first.
# ``score`` is the validation accuracy of the trial, ``family`` its network
# family, ``epochs`` the epoch count with the best validation loss (what the
# refit trains for), ``fit_time`` the seconds the trial took to train and
# ``ensemble_weight`` its share of the final ensemble (0: not a member).
# The trial's configuration follows in one column per key (``lr``,
# ``batch_size``, ``module__n_layers``, ...).
columns = ["rank", "trial", "family", "score", "epochs", "fit_time",
           "ensemble_weight", "lr", "batch_size"]
with pd.option_context("display.width", 160, "display.max_columns", None,
                       "display.precision", 4):
    print(clf.leaderboard_[columns].head(10).to_string(index=False))

# %%
# Results
# -------
# The fitted estimator predicts on raw input like any classifier; here
# through the ensemble of the best trials.
print(f"\ntrials run:      {clf.n_trials_} (stopped by {clf.stop_reason_})")
print(f"best val. score: {clf.best_score_:.4f} (ensemble of "
      f"{len(clf.ensemble_)}: {clf.ensemble_score_:.4f})")
print(f"fit time:        {clf.fit_time_:.1f} s (wall {wall_time:.1f} s, "
      f"budget {budget:g} s)")
print(f"test accuracy:   {clf.score(X_test, y_test):.4f}")
