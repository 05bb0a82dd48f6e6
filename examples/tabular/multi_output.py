"""
=========================================================
Several targets at once: multi-output and multi-label
=========================================================

One network can predict several targets: its trunk is shared and it has
one output per target. Two cases:

* **multi-output regression**: :class:`~skautodl.AutoDLRegressor` with a
  2-D ``y`` of numeric columns (each target standardized on its own);
  ``predict`` returns one column per target;
* **multi-label classification**: :class:`~skautodl.AutoDLClassifier` with
  a 0/1 label-indicator matrix ``y`` (several labels may be on for one
  sample); ``predict`` returns the indicator matrix and ``predict_proba`` a
  list with one ``(n_samples, 2)`` array per label, as scikit-learn's
  multi-output classifiers do.

Run it with ``python examples/tabular/multi_output.py``;
``SKAUTODL_EXAMPLE_BUDGET`` caps each time budget (default 30 seconds per
fit).
"""

# %%
# Multi-output regression
# -----------------------
# Three targets that depend on the same few of 10 features (synthetic data
# from :func:`~sklearn.datasets.make_regression`, with noise).
import os

import numpy as np
from sklearn.datasets import load_digits, make_regression
from sklearn.linear_model import RidgeCV
from sklearn.metrics import f1_score, hamming_loss, r2_score
from sklearn.model_selection import train_test_split

from skautodl import AutoDLClassifier, AutoDLRegressor
from skautodl.report import plot_residuals

budget = min(30, float(os.environ.get("SKAUTODL_EXAMPLE_BUDGET", 30)))

X, Y = make_regression(n_samples=1200, n_features=10, n_informative=4,
                       n_targets=3, noise=20.0, random_state=0)
Y[:, 1] = np.abs(Y[:, 1])  # one target that is not linear in X
X_train, X_test, Y_train, Y_test = train_test_split(X, Y, test_size=0.25,
                                                    random_state=0)
reg = AutoDLRegressor(time_budget=budget, random_state=0, verbose=0)
reg.fit(X_train, Y_train)
Y_pred = reg.predict(X_test)
print(f"y: {Y_train.shape} -> predict: {Y_pred.shape}, trials: {reg.n_trials_}")

# %%
# :math:`R^2` per target, against a linear model per target: the network
# also fits the target that is not linear in ``X``.
ridge = RidgeCV().fit(X_train, Y_train)
for name, pred in [("AutoDLRegressor", Y_pred), ("RidgeCV", ridge.predict(X_test))]:
    per_target = r2_score(Y_test, pred, multioutput="raw_values")
    print(f"{name:<16} R^2 per target: {np.round(per_target, 3).tolist()}")
# ``score`` is the R^2 averaged over the targets, as in scikit-learn
print(f"test R^2 (mean over targets): {reg.score(X_test, Y_test):.4f}")

# %%
# The residuals of each target (:func:`skautodl.report.plot_residuals`
# draws one colour per target column).
plot_residuals(reg, X_test, Y_test)

# %%
# Multi-label classification
# --------------------------
# The digits again (8x8 images as 64 pixel columns), with three labels per
# image instead of one class: "even", "at least 5" and "prime". An image
# of a 7 is "at least 5" and "prime"; a 2 is "even" and "prime".
digits = load_digits()
names = ["even", "at least 5", "prime"]
L = np.column_stack([digits.target % 2 == 0, digits.target >= 5,
                     np.isin(digits.target, [2, 3, 5, 7])]).astype(int)
X_train, X_test, L_train, L_test, d_train, d_test = train_test_split(
    digits.data, L, digits.target, test_size=0.25, random_state=0)
print(f"labels of the first five images {digits.target[:5].tolist()}:\n{L[:5]}")

# %%
# The trials are ranked by subset accuracy (every label right), the
# default ``scoring`` of a multi-label classifier; any scikit-learn
# multi-label scorer works (``scoring="f1_micro"``, ``"jaccard_samples"``).
clf = AutoDLClassifier(time_budget=budget, random_state=0, verbose=0)
clf.fit(X_train, L_train)
L_pred = clf.predict(X_test)
proba = clf.predict_proba(X_test)
print(f"predict: {L_pred.shape}; predict_proba: {len(proba)} arrays of "
      f"{proba[0].shape}; classes_: {[c.tolist() for c in clf.classes_]}")
first = {name: round(float(p[0, 1]), 3) for name, p in zip(names, proba,
                                                         strict=True)}
print(f"the first test image, a {d_test[0]}: probabilities {first}")

# %%
# Per-label F1, Hamming loss (the share of wrong labels) and subset
# accuracy, the strictest measure.
f1 = f1_score(L_test, L_pred, average=None)
print(f"F1 per label: {dict(zip(names, np.round(f1, 3).tolist(), strict=True))}")
print(f"Hamming loss: {hamming_loss(L_test, L_pred):.4f}")
print(f"test subset accuracy: {clf.score(X_test, L_test):.4f}")
