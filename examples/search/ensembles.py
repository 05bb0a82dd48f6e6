"""
=============================================
Ensembles: the best trials, weighted
=============================================

``fit`` does not keep only the trial with the best validation score. It
builds an ensemble of the trials by greedy forward selection with
replacement (Caruana et al., 2004) on their out-of-sample predictions:
``ensemble_size`` rounds (10 by default) each add the trial that improves
the blend's validation score most, and a trial chosen ``c`` times of ``n``
weighs ``c / n``. ``predict_proba`` is the weighted mean of the members'
probabilities, temperature-scaled so that it is not under-confident.

This example looks at the ensemble a search built on scikit-learn's breast
cancer data (569 tumours, 30 columns) and compares it on a test set with
the best single trial (``best_estimator_``), which is what
``ensemble_size=1`` would keep.

Run it with ``python examples/search/ensembles.py``;
``SKAUTODL_EXAMPLE_BUDGET`` caps the time budget (default 60 seconds).
"""

# %%
# Search
# ------
import os

import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split

from skautodl import AutoDLClassifier
from skautodl.report import plot_ensemble, plot_search

budget = min(60, float(os.environ.get("SKAUTODL_EXAMPLE_BUDGET", 60)))

X, y = load_breast_cancer(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0)
clf = AutoDLClassifier(time_budget=budget, ensemble_size=10, random_state=0,
                       verbose=0)
clf.fit(X_train, y_train)
print(f"{clf.n_trials_} trials; validation protocol cv_={clf.cv_} "
      "(5-fold bagging below 1,000 rows: every trial is its 5 fold models)")

# %%
# The members and their weights
# -----------------------------
# The leaderboard's ``ensemble_weight`` column holds each trial's weight (0:
# not a member). ``ensemble_`` is the list of ``(model, weight)`` pairs that
# ``predict`` averages.
board = clf.leaderboard_
members = board[board["ensemble_weight"] > 0]
with pd.option_context("display.width", 160, "display.precision", 4):
    print(members[["rank", "trial", "family", "score", "ensemble_weight",
                   "lr", "batch_size"]].to_string(index=False))
print(f"\nensemble_: {len(clf.ensemble_)} member(s), weights "
      f"{[round(w, 2) for _, w in clf.ensemble_]}")
print(f"validation score: best trial {clf.best_score_:.4f}, "
      f"ensemble {clf.ensemble_score_:.4f}")
print(f"temperature_: {clf.temperature_:.3f}")

# %%
# The weights, drawn by :func:`skautodl.report.plot_ensemble` (each bar
# labelled with its trial, family and validation score), and the search
# that produced the trials, by :func:`skautodl.report.plot_search`: the best
# score over the training seconds, then each trial's score against the
# searched parameters, categorical ones as categories.
plot_ensemble(clf)
fig = plot_search(clf, max_params=5)

# %%
# Ensemble against the best single trial
# --------------------------------------
# ``best_estimator_`` is the best single trial's model (its fold models
# here); it predicts on its own. On 143 test rows, which of the two scores
# better changes from run to run; what ensembles gain on average, over
# data sets and split seeds, is measured on the benchmarks page (section
# "Ensembles").
rows = []
for name, model in [("best single trial", clf.best_estimator_),
                    (f"ensemble of {len(clf.ensemble_)}", clf)]:
    proba = model.predict_proba(X_test)
    rows.append({"model": name,
                 "test accuracy": accuracy_score(y_test, model.predict(X_test)),
                 "test log loss": log_loss(y_test, proba)})
print(pd.DataFrame(rows).to_string(index=False, float_format="%.4f"))
