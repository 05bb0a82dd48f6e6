"""
=====================================================
A pandas table with categories and missing values
=====================================================

:class:`~skautodl.AutoDLRegressor` and :class:`~skautodl.AutoDLClassifier`
take a pandas DataFrame as it comes: numeric, boolean, ``category`` and
string columns, with missing values (``NaN``, ``None``, ``pd.NA``). No
imputer, encoder or scaler is needed in front of them.

The table is built here from scikit-learn's bundled diabetes data (442
patients, disease progression one year after baseline) in its raw units:
the sex code becomes a string column, age becomes a ``category`` of age
bands, a boolean column flags high blood pressure, and a share of the
values is removed at random, as in a real patient record.

Run it with ``python examples/tabular/pandas_mixed_types.py``;
``SKAUTODL_EXAMPLE_BUDGET`` caps the time budget (default 30 seconds).
"""

# %%
# Build a mixed-type DataFrame
# ----------------------------
import os

import numpy as np
import pandas as pd
from sklearn.datasets import load_diabetes
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.model_selection import train_test_split

from skautodl import AutoDLRegressor

budget = min(30, float(os.environ.get("SKAUTODL_EXAMPLE_BUDGET", 30)))

raw = load_diabetes(scaled=False, as_frame=True).frame
rng = np.random.RandomState(0)
df = pd.DataFrame({
    # strings: an object column of two levels
    "sex": raw["sex"].map({1.0: "group 1", 2.0: "group 2"}).astype(object),
    # a pandas category (ordered age bands)
    "age_band": pd.cut(raw["age"], [0, 30, 40, 50, 60, 120],
                       labels=["<30", "30s", "40s", "50s", "60+"]),
    "bmi": raw["bmi"],
    "bp": raw["bp"],
    # a boolean column
    "high_bp": raw["bp"] > 105,
    # the six blood serum measurements, numeric
    **{f"s{i}": raw[f"s{i}"] for i in range(1, 7)},
})
y = raw["target"]
# missing values: 10 % of bmi and of the age band, 5 % of sex and of s5
for column, share in [("bmi", 0.10), ("age_band", 0.10), ("sex", 0.05),
                      ("s5", 0.05)]:
    df.loc[rng.rand(len(df)) < share, column] = None
print(df.head(8).to_string())
print(f"\ndtypes:\n{df.dtypes.to_string()}")
print(f"\nmissing values:\n{df.isna().sum().to_string()}")

X_train, X_test, y_train, y_test = train_test_split(df, y, test_size=0.25,
                                                    random_state=0)

# %%
# Fit on the DataFrame as it is
# -----------------------------
# Each trial's featurizer, fitted on its training rows only, imputes numeric
# columns with their median (adding a missing-value indicator column for
# each column that had gaps), scales them, and encodes the categorical
# columns (one-hot, or integer codes for the embedding family), with
# "missing" as a category of its own. The column names are kept in
# ``feature_names_in_``; ``predict`` checks them.
reg = AutoDLRegressor(time_budget=budget, random_state=0, verbose=0)
reg.fit(X_train, y_train)
print(f"feature_names_in_: {list(reg.feature_names_in_)}")
with pd.option_context("display.width", 160, "display.precision", 4):
    print(reg.leaderboard_[["rank", "trial", "family", "score", "epochs",
                            "fit_time"]].head(8).to_string(index=False))

# %%
# Predict on new records
# ----------------------
# New rows may have gaps anywhere, and categories never seen in training are
# accepted (they encode as "unseen"). A numeric column that arrives as text,
# as after reading a CSV file without dtypes, is accepted when every value
# parses as a number.
new = X_test.head(3).copy()
new.loc[new.index[0], ["bmi", "bp", "age_band"]] = None
new["sex"] = new["sex"].astype(object)
new.loc[new.index[1], "sex"] = "not recorded"    # a level never seen in fit
new["s6"] = new["s6"].astype(str)                # numbers as strings
print(new.to_string())
print(f"predictions: {np.round(reg.predict(new), 1).tolist()}")

# %%
# What a column may not do
# ------------------------
# A numeric column that receives words is refused with a message naming
# the column and the values, rather than silently imputed.
bad = X_test.head(2).copy()
bad["bmi"] = bad["bmi"].astype(object)
bad.loc[bad.index[0], "bmi"] = "n/a"
try:
    reg.predict(bad)
except ValueError as exc:
    print(f"ValueError: {exc}")

# %%
# Compare with gradient boosting
# ------------------------------
# :class:`~sklearn.ensemble.HistGradientBoostingRegressor` also handles
# missing values, and ``category`` columns natively
# (``categorical_features="from_dtype"``), but not string columns: the
# string and boolean columns are converted to categories for it.
hgb_X_train, hgb_X_test = (
    X.assign(sex=X["sex"].astype("category"), high_bp=X["high_bp"].astype(int))
    for X in (X_train, X_test))
hgb = HistGradientBoostingRegressor(categorical_features="from_dtype",
                                    random_state=0).fit(hgb_X_train, y_train)

print(f"\n{'model':<40} {'test R^2':>8}")
print(f"{'HistGradientBoostingRegressor':<40} {hgb.score(hgb_X_test, y_test):8.4f}")
print(f"{f'AutoDLRegressor(time_budget={budget:g})':<40} "
      f"{reg.score(X_test, y_test):8.4f}")
