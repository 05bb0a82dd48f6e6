"""
===================================================
AutoDL in a Pipeline, cross-validation and a grid
===================================================

:class:`~skautodl.AutoDLClassifier` is an ordinary scikit-learn estimator:
it goes into a :class:`~sklearn.pipeline.Pipeline` after a
:class:`~sklearn.compose.ColumnTransformer`, is scored by
:func:`~sklearn.model_selection.cross_val_score` and tuned by
:class:`~sklearn.model_selection.GridSearchCV` like any other.

The budgets here are tiny (two trials of at most 10 epochs each, validated
on one holdout split) so that the whole script, which fits AutoDL nine
times, runs in about a minute; they show the plumbing, not the accuracy
AutoDL reaches with a real budget.

Run it with ``python examples/search/pipeline_and_grid_search.py``;
``SKAUTODL_EXAMPLE_BUDGET`` caps the time budget of each fit (default 20
seconds, rarely reached).
"""

# %%
# A small mixed-type DataFrame
# ----------------------------
# Two numeric columns, one string categorical column and one boolean column,
# with missing values in a numeric and in the categorical column.
import os
import time

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from skautodl import AutoDLClassifier

budget = min(20, float(os.environ.get("SKAUTODL_EXAMPLE_BUDGET", 20)))

rng = np.random.RandomState(0)
n = 300
df = pd.DataFrame({
    "age": rng.normal(45, 12, n).round(),
    "income": rng.lognormal(10, 0.5, n).round(2),
    "city": rng.choice(["paris", "lyon", "nice", "lille"], n),
    "member": rng.rand(n) < 0.4,
})
logit = (
    0.08 * (df["age"] - 45)
    + 1.5 * df["city"].isin(["paris", "nice"])
    + 1.0 * df["member"]
    - 1.2
)
y = np.where(rng.rand(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
df.loc[rng.rand(n) < 0.1, "age"] = np.nan
df.loc[rng.rand(n) < 0.1, "city"] = None
print(df.head())
print(f"missing values per column:\n{df.isna().sum()}")

# %%
# The estimator on the DataFrame as it is
# ---------------------------------------
# AutoDL featurizes mixed input itself: numeric and boolean columns are
# median-imputed (with a missing-value indicator) and standardized, string
# columns imputed with a constant and one-hot encoded.
small = {
    "n_trials": 2, "time_budget": budget, "cv": None,
    "search_space": {"max_epochs": 10}, "verbose": 0, "random_state": 0,
}
clf = AutoDLClassifier(**small).fit(df, y)
print(f"\nfeature_names_in_: {list(clf.feature_names_in_)}")
print(f"classes_: {clf.classes_}, training accuracy: {clf.score(df, y):.3f}")

# %%
# Inside a Pipeline with a ColumnTransformer
# ------------------------------------------
# Preprocessing of your own works the same way. Here the categorical column
# is imputed and one-hot encoded by scikit-learn before AutoDL sees it; the
# numeric columns pass through with their missing values, which AutoDL
# imputes.
preprocess = ColumnTransformer(
    [("city", Pipeline([
        ("impute", SimpleImputer(strategy="constant", fill_value="unknown")),
        ("onehot", OneHotEncoder(handle_unknown="ignore")),
    ]), ["city"])],
    remainder="passthrough",
    sparse_threshold=0.0,  # AutoDL takes dense input only
)
pipe = Pipeline([("prep", preprocess), ("clf", AutoDLClassifier(**small))])

start = time.perf_counter()
scores = cross_val_score(pipe, df, y, cv=3)
print(f"\ncross_val_score (3 folds): {scores.round(3)}, mean {scores.mean():.3f} "
      f"({time.perf_counter() - start:.1f} s)")

# %%
# A grid search over an AutoDL parameter
# --------------------------------------
# Any constructor parameter can be searched with the usual ``step__name``
# key; here the network family: plain MLPs, or MLPs over learned
# embeddings of each column. Every candidate and fold runs a whole AutoDL
# ``fit`` (2 candidates x 2 folds, plus the final refit).
grid = GridSearchCV(pipe, {"clf__families": ["mlp", "embed"]}, cv=2)
start = time.perf_counter()
grid.fit(df, y)
print(f"\nGridSearchCV ({time.perf_counter() - start:.1f} s)")
print(pd.DataFrame(grid.cv_results_)[
    ["param_clf__families", "mean_test_score", "std_test_score", "rank_test_score"]
].to_string(index=False))
print(f"best: {grid.best_params_}, score {grid.best_score_:.3f}")

# %%
# The fitted AutoDL model inside the best pipeline keeps its own results.
best_autodl = grid.best_estimator_.named_steps["clf"]
print(best_autodl.leaderboard_[["rank", "trial", "family", "score", "epochs",
                                "fit_time", "lr"]].to_string(index=False))
