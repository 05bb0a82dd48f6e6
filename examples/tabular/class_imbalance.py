"""
=====================================
Imbalanced classes
=====================================

When one class is rare, accuracy is a poor guide: predicting the common
class every time already scores high. Two levers help with
:class:`~skautodl.AutoDLClassifier`:

* ``scoring``: the trials are ranked, and the ensemble is selected, by any
  scikit-learn scorer; ``"balanced_accuracy"`` (the mean recall of the
  classes), ``"f1"``, ``"average_precision"`` or ``"roc_auc"`` reward
  finding the rare class. The estimators take no ``class_weight``: the
  networks train on the plain log loss, and the scorer decides what is
  kept.
* the **decision threshold**: ``predict`` takes the most probable class,
  which for a rare class is often too strict. scikit-learn's
  :class:`~sklearn.model_selection.TunedThresholdClassifierCV` picks the
  threshold on ``predict_proba`` that maximizes a score, on rows the model
  was not fitted on.

The data is synthetic (:func:`~sklearn.datasets.make_classification`):
3,000 rows, 20 features, 5 % positives, 2 % of the labels flipped.

Run it with ``python examples/tabular/class_imbalance.py``;
``SKAUTODL_EXAMPLE_BUDGET`` caps the time budget (default 30 seconds).
"""

# %%
# Data: 5 % positives
# -------------------
# Three parts, stratified: the model is fitted on the first, the threshold
# is tuned on the second, and both are measured on the third.
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_classification
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    balanced_accuracy_score,
    classification_report,
)
from sklearn.model_selection import TunedThresholdClassifierCV, train_test_split

from skautodl import AutoDLClassifier

budget = min(30, float(os.environ.get("SKAUTODL_EXAMPLE_BUDGET", 30)))

X, y = make_classification(n_samples=3000, n_features=20, n_informative=6,
                           weights=[0.95, 0.05], flip_y=0.02, class_sep=0.8,
                           random_state=0)
X_fit, X_test, y_fit, y_test = train_test_split(X, y, test_size=0.25,
                                                stratify=y, random_state=0)
X_train, X_tune, y_train, y_tune = train_test_split(
    X_fit, y_fit, test_size=0.25, stratify=y_fit, random_state=0)
print(f"positives: {y.mean():.1%}; train {len(y_train)}, tune {len(y_tune)}, "
      f"test {len(y_test)} rows")
print(f"always predicting the common class: accuracy "
      f"{1 - y_test.mean():.3f}, balanced accuracy 0.5")

# %%
# Rank the trials by balanced accuracy
# ------------------------------------
clf = AutoDLClassifier(time_budget=budget, scoring="balanced_accuracy",
                       random_state=0, verbose=0)
clf.fit(X_train, y_train)
print(f"{clf.n_trials_} trials; best validation balanced accuracy "
      f"{clf.best_score_:.4f}")
print(classification_report(y_test, clf.predict(X_test), digits=3, zero_division=0))

# %%
# Tune the decision threshold
# ---------------------------
# ``cv="prefit"`` with ``refit=False`` keeps the fitted model as it is and
# only chooses the probability threshold, on the tuning rows.
tuned = TunedThresholdClassifierCV(clf, scoring="balanced_accuracy",
                                   cv="prefit", refit=False)
tuned.fit(X_tune, y_tune)
print(f"threshold on P(positive): {tuned.best_threshold_:.3f} (predict: the "
      f"most probable class, 0.5 for two classes)")
print(classification_report(y_test, tuned.predict(X_test), digits=3, zero_division=0))

# %%
# The confusion matrices on the test rows: the tuned threshold finds more
# of the rare class, at the price of more false alarms.
fig, axes = plt.subplots(1, 2, figsize=(8, 3.5))
for ax, model, title in [(axes[0], clf, "predict (threshold 0.5)"),
                         (axes[1], tuned,
                          f"tuned threshold {tuned.best_threshold_:.2f}")]:
    ConfusionMatrixDisplay.from_estimator(model, X_test, y_test, ax=ax,
                                          colorbar=False)
    ax.set_title(title, fontsize=10)
fig.tight_layout()

# %%
# Results
# -------
for name, model in [("predict", clf), ("tuned threshold", tuned)]:
    pred = model.predict(X_test)
    recall = np.mean(pred[y_test == 1] == 1)
    print(f"{name:<16} test balanced accuracy "
          f"{balanced_accuracy_score(y_test, pred):.4f}, "
          f"recall of the rare class {recall:.3f}")
