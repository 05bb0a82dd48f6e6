"""Search efficiency: skautodl against the search a user would write by hand.

Compares, on scikit-learn's digits (classification, accuracy) and on
``make_friedman1(n_samples=2000, noise=1.0, random_state=0)`` (regression,
R^2), the best validation score reached over wall-clock time by

* **skautodl**: ``AutoDLClassifier`` / ``AutoDLRegressor`` with
  ``search="bayes", fidelity="hyperband", time_budget=B, random_state=0,
  verbose=0``;
* **baseline**: ``skopt.BayesSearchCV`` over a skorch ``NeuralNetClassifier``
  / ``NeuralNetRegressor`` wrapping a plain PyTorch MLP (defined below) inside
  ``Pipeline(StandardScaler(), net)``, over the same search space, stopped by
  ``skopt.callbacks.DeadlineStopper(B)``.

Protocol
--------
1. Hold out a 25 % test split (``train_test_split(..., test_size=0.25,
   random_state=0)``, stratified for digits). Both methods only see the
   remaining 75 % (the *development* data).
2. skautodl holds out 20 % of the development data for validation on its own.
   The baseline gets the very same split through ``cv=[(train, valid)]``: it is
   rebuilt with ``skautodl.data.splits.make_splits`` and the seed skautodl
   draws first from ``RandomState(random_state)``. The benchmark checks that
   the validation targets skautodl scores on are exactly those of this split
   and prints ``split identical: yes/no``.
3. Inputs are float32 for both. The baseline standardizes features in its
   pipeline and, for regression, standardizes the target with the statistics
   of the training part (R^2 does not change under that affine map; test
   predictions are mapped back). skautodl standardizes both internally.
4. Timing. skautodl: the scorer passed as ``scoring`` is a thin wrapper around
   the default scorer that records ``time.time()`` each time a trial is
   scored (once per trial with a holdout split), so a trial's time is the
   wall-clock time since ``fit`` was called, search overhead (surrogate model,
   featurization) included. The recorded scores are cross-checked against
   ``cv_results_["mean_test_score"]``; if they disagree the benchmark falls
   back to the cumulative ``mean_fit_time + mean_score_time`` of
   ``cv_results_`` in trial order (a lower bound) and says so. Baseline: a
   callback passed to ``BayesSearchCV.fit`` records ``time.time()`` and the
   best score after every iteration, measured from the ``fit`` call.
5. Budgets. ``time_budget=B`` bounds skautodl's whole ``fit`` (search and
   refit). ``DeadlineStopper(B)`` bounds the baseline's search only; its
   refit of the best configuration on the development data comes on top.
   The baseline's "total time" is its search time (the time of its last
   iteration).
6. Reported per dataset: final best validation score, test score of the final
   model (both refit on the development data), time each method needed to
   reach its own final validation score, time skautodl needed to reach the
   baseline's final validation score (first time its running best is >= that
   score), and the ratio of that time to the baseline's total search time.
   The target is a ratio <= 1/3.

Both methods run in the same process, one after the other (skautodl first),
with the same torch thread count, on CPU unless CUDA is present. Timings are
wall clock: other jobs on the machine slow both down; the load average is
printed with the table.

Usage::

    python benchmarks/search_efficiency.py               # 60 s per method
    python benchmarks/search_efficiency.py --quick       # 10 s per method
    python benchmarks/search_efficiency.py --budget 120 --plot curves.png
    python benchmarks/search_efficiency.py --datasets digits --budget 4
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

DATASETS = ("digits", "friedman1")
DEFAULT_BUDGET = 60.0
QUICK_BUDGET = 10.0
VALIDATION_FRACTION = 0.2
TEST_FRACTION = 0.25
TARGET_RATIO = 1 / 3


# ---------------------------------------------------------------------- data
@dataclass
class Dataset:
    """A benchmark problem: development and test data plus the holdout split."""

    name: str
    classification: bool
    metric: str
    X_dev: np.ndarray
    y_dev: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    train_idx: np.ndarray
    valid_idx: np.ndarray


def load_dataset(name, random_state=0):
    """Load ``name``, hold out the test split and rebuild skautodl's split."""
    from sklearn.datasets import load_digits, make_friedman1
    from sklearn.model_selection import train_test_split

    from skautodl.data.splits import make_splits

    if name == "digits":
        X, y = load_digits(return_X_y=True)
        classification, metric = True, "accuracy"
    elif name == "friedman1":
        X, y = make_friedman1(n_samples=2000, noise=1.0, random_state=0)
        classification, metric = False, "r2"
    else:
        raise ValueError(f"unknown dataset {name!r}; choose from {DATASETS}")
    X = np.asarray(X, dtype=np.float32)
    X_dev, X_test, y_dev, y_test = train_test_split(
        X, y, test_size=TEST_FRACTION, random_state=random_state,
        stratify=y if classification else None,
    )
    # skautodl's fit draws its split seed first from RandomState(random_state)
    split_seed = int(np.random.RandomState(random_state).randint(2**31 - 1))
    ((train_idx, valid_idx),) = make_splits(
        X_dev, y_dev, cv=None, validation_fraction=VALIDATION_FRACTION,
        classification=classification, seed=split_seed,
    )
    return Dataset(name, classification, metric, X_dev, y_dev, X_test, y_test,
                   np.asarray(train_idx), np.asarray(valid_idx))


# ---------------------------------------------------------------------- results
@dataclass
class Run:
    """One method on one dataset."""

    method: str
    times: list = field(default_factory=list)  # seconds since fit() was called
    scores: list = field(default_factory=list)  # validation score per trial
    test_score: float = math.nan
    search_time: float = math.nan  # time of the last trial / iteration
    fit_time: float = math.nan  # the whole fit call, refit included
    n_trials: int = 0
    timing: str = ""
    note: str = ""
    warnings: Counter = field(default_factory=Counter)

    @property
    def best_curve(self):
        s = np.asarray(self.scores, dtype=float)
        s = np.where(np.isfinite(s), s, -np.inf)
        return np.maximum.accumulate(s) if len(s) else s

    @property
    def final_best(self):
        curve = self.best_curve
        return float(curve[-1]) if len(curve) and np.isfinite(curve[-1]) else math.nan

    def time_to_reach(self, target):
        """First time the running best is >= ``target`` (nan if never)."""
        if not np.isfinite(target):
            return math.nan
        curve = self.best_curve
        hit = np.flatnonzero(curve >= target - 1e-12)
        return float(self.times[hit[0]]) if len(hit) else math.nan


# ---------------------------------------------------------------------- skautodl
def _min_epochs(max_epochs):
    """Low end of the epoch range: TRAINING_SPACE's 10, below a small cap."""
    return min(10, max_epochs - 1)


class TimedScorer:
    """Scorer wrapper that records the wall-clock time of every call."""

    def __init__(self, scorer):
        self.scorer = scorer
        self.calls = []  # (time.time(), score)
        self.y_seen = []

    def __call__(self, estimator, X, y):
        score = self.scorer(estimator, X, y)
        self.calls.append((time.time(), float(score)))
        self.y_seen.append(np.asarray(y).copy())
        return score


def run_skautodl(data, budget, random_state=0, max_epochs=None):
    from sklearn.metrics import get_scorer

    from skautodl import AutoDLClassifier, AutoDLRegressor

    cls = AutoDLClassifier if data.classification else AutoDLRegressor
    scorer = TimedScorer(get_scorer(data.metric))
    search_space = None
    if max_epochs is not None:
        search_space = {"max_epochs": (_min_epochs(max_epochs), max_epochs)}
    est = cls(search="bayes", fidelity="hyperband", time_budget=budget,
              random_state=random_state, verbose=0, scoring=scorer,
              search_space=search_space)
    run = Run("skautodl")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.time()
        est.fit(data.X_dev, data.y_dev)
        run.fit_time = time.time() - t0
        run.test_score = float(est.score(data.X_test, data.y_test))
    run.warnings.update(type(w.message).__name__ for w in caught)

    res = est.cv_results_
    reported = np.asarray(res["mean_test_score"], dtype=float)
    recorded = np.array([s for _, s in scorer.calls], dtype=float)
    run.n_trials = len(reported)
    ok = np.isfinite(reported)
    if len(recorded) == len(reported) and np.allclose(
        recorded[ok], reported[ok], rtol=0, atol=1e-9
    ):
        run.times = [t - t0 for t, _ in scorer.calls]
        run.scores = list(reported)
        run.timing = "scorer timestamps"
    else:
        # fall back to the trials' own clocks, in trial order (a lower bound)
        run.times = list(np.cumsum(np.asarray(res["mean_fit_time"])
                                   + np.asarray(res["mean_score_time"])))
        run.scores = list(reported)
        run.timing = "cumulative fit+score time (fallback)"
    run.search_time = run.times[-1] if run.times else math.nan
    expected = data.y_dev[data.valid_idx]
    same = bool(scorer.y_seen) and all(
        len(y) == len(expected) and np.array_equal(y, expected)
        for y in scorer.y_seen)
    run.note = f"split identical: {'yes' if same else 'no'}"
    return run


# ---------------------------------------------------------------------- baseline
def _make_mlp_class():
    from torch import nn

    activations = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU}

    class PlainMLP(nn.Module):
        """``n_layers`` x (linear, norm, activation, dropout), then a linear head."""

        def __init__(self, n_inputs=10, n_outputs=1, n_layers=2, n_units=256,
                     dropout=0.1, norm="none", activation="relu"):
            super().__init__()
            layers, width = [], n_inputs
            for _ in range(int(n_layers)):
                layers.append(nn.Linear(width, int(n_units)))
                if norm == "batch":
                    layers.append(nn.BatchNorm1d(int(n_units)))
                elif norm == "layer":
                    layers.append(nn.LayerNorm(int(n_units)))
                layers.append(activations[activation]())
                layers.append(nn.Dropout(float(dropout)))
                width = int(n_units)
            layers.append(nn.Linear(width, n_outputs))
            self.layers = nn.Sequential(*layers)

        def forward(self, X):
            return self.layers(X)

    return PlainMLP


def baseline_space(max_epochs=120):
    """The skautodl MLP space (TRAINING_SPACE + the MLP family), by hand."""
    from skopt.space import Categorical, Integer, Real

    return {
        "net__lr": Real(1e-4, 1e-2, prior="log-uniform"),
        "net__optimizer__weight_decay": Real(1e-6, 1e-1, prior="log-uniform"),
        "net__batch_size": Categorical([32, 64, 128, 256]),
        "net__max_epochs": Integer(_min_epochs(max_epochs), max_epochs),
        "net__module__n_layers": Integer(1, 4),
        "net__module__n_units": Categorical([64, 128, 256, 512]),
        "net__module__dropout": Real(0.0, 0.5),
        "net__module__norm": Categorical(["none", "batch", "layer"]),
        "net__module__activation": Categorical(["gelu", "relu", "silu"]),
    }


class _Recorder:
    """BayesSearchCV callback: wall time and best score after each iteration."""

    def __init__(self, t0):
        self.t0 = t0
        self.times, self.best = [], []

    def __call__(self, result):
        self.times.append(time.time() - self.t0)
        self.best.append(-float(np.min(result.func_vals)))
        return False


def run_baseline(data, budget, random_state=0, max_epochs=None):
    import torch
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from skopt import BayesSearchCV
    from skopt.callbacks import DeadlineStopper
    from skorch import NeuralNetClassifier, NeuralNetRegressor

    device = "cuda" if torch.cuda.is_available() else "cpu"
    X_dev = data.X_dev.astype(np.float32)
    common = {"module": _make_mlp_class(), "module__n_inputs": X_dev.shape[1],
              "optimizer": torch.optim.AdamW, "train_split": None, "verbose": 0,
              "device": device}
    if data.classification:
        classes = np.unique(data.y_dev)
        y_fit = np.searchsorted(classes, data.y_dev).astype(np.int64)
        net = NeuralNetClassifier(criterion=torch.nn.CrossEntropyLoss,
                                  module__n_outputs=len(classes), **common)
        error_score = 0.0
    else:
        y_train = np.asarray(data.y_dev[data.train_idx], dtype=float)
        mean, scale = y_train.mean(), y_train.std()
        y_fit = ((np.asarray(data.y_dev, dtype=float) - mean) / scale)
        y_fit = y_fit.astype(np.float32).reshape(-1, 1)
        net = NeuralNetRegressor(criterion=torch.nn.MSELoss, module__n_outputs=1,
                                 **common)
        error_score = -1.0  # a diverged trial (NaN predictions)
    pipe = Pipeline([("scale", StandardScaler()), ("net", net)])
    search = BayesSearchCV(
        pipe, baseline_space(120 if max_epochs is None else max_epochs),
        n_iter=10_000, scoring=data.metric,
        cv=[(data.train_idx, data.valid_idx)], n_jobs=1, refit=True,
        random_state=random_state, error_score=error_score,
    )
    run = Run("baseline")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.time()
        recorder = _Recorder(t0)
        stopper = DeadlineStopper(budget)
        search.fit(X_dev, y_fit, callback=[recorder, stopper])
        run.fit_time = time.time() - t0
        pred = search.predict(data.X_test.astype(np.float32))
    run.warnings.update(type(w.message).__name__ for w in caught)
    if data.classification:
        run.test_score = float(accuracy_score(data.y_test, classes[pred]))
    else:
        pred = np.asarray(pred, dtype=float).ravel() * scale + mean
        run.test_score = float(r2_score(data.y_test, pred))
    run.times = recorder.times
    run.scores = recorder.best
    run.n_trials = len(search.cv_results_["params"])
    run.search_time = recorder.times[-1] if recorder.times else math.nan
    run.timing = "callback timestamps"
    return run


# ---------------------------------------------------------------------- report
def _fmt(value, spec=".4f", missing="-"):
    return missing if value is None or not np.isfinite(value) else format(value, spec)


def compare(data, auto, base):
    """Numbers of one dataset: a dict per method plus the comparison."""
    target = base.final_best
    t_auto = auto.time_to_reach(target)
    ratio = t_auto / base.search_time if np.isfinite(t_auto) else math.nan
    return {"dataset": data.name, "metric": data.metric, "auto": auto,
            "base": base, "target": target, "t_auto_reach": t_auto,
            "ratio": ratio}


def format_table(rows, budget):
    header = (f"{'dataset':<10} {'method':<9} {'trials':>6} {'valid':>8} "
              f"{'test':>8} {'t_own_best':>10} {'t_reach_bl':>10} "
              f"{'search_s':>8} {'fit_s':>7}")
    lines = [header, "-" * len(header)]
    for row in rows:
        for run in (row["auto"], row["base"]):
            t_reach = run.time_to_reach(row["target"])
            lines.append(
                f"{row['dataset']:<10} {run.method:<9} {run.n_trials:>6d} "
                f"{_fmt(run.final_best):>8} {_fmt(run.test_score):>8} "
                f"{_fmt(run.time_to_reach(run.final_best), '.1f'):>10} "
                f"{_fmt(t_reach, '.1f', 'never'):>10} "
                f"{_fmt(run.search_time, '.1f'):>8} {_fmt(run.fit_time, '.1f'):>7}")
        ratio = row["ratio"]
        verdict = ("not reached" if not np.isfinite(ratio) else
                   f"{ratio:.2f} ({'meets' if ratio <= TARGET_RATIO else 'misses'}"
                   f" target <= {TARGET_RATIO:.2f})")
        lines.append(f"{'':<10} ratio skautodl time to baseline's final "
                     f"{row['metric']} / baseline search time: {verdict}")
        notes = [f"skautodl timing: {row['auto'].timing}, {row['auto'].note}"]
        for run in (row["auto"], row["base"]):
            if run.warnings:
                ws = ", ".join(f"{k} x{v}" for k, v in sorted(run.warnings.items()))
                notes.append(f"{run.method} warnings: {ws}")
        lines.extend(f"{'':<10} {n}" for n in notes)
        lines.append("")
    lines.append(
        f"budget {budget:g} s per method and dataset; valid = best validation "
        "score (accuracy / R^2); test = final model on the 25 % test split; "
        "t_own_best = seconds to the method's own final best; t_reach_bl = "
        "seconds to the baseline's final best; search_s = time of the last "
        "trial; fit_s = the whole fit (refit included).")
    return "\n".join(lines)


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(rows), figsize=(5.5 * len(rows), 4),
                             squeeze=False)
    for ax, row in zip(axes[0], rows, strict=True):
        for run in (row["auto"], row["base"]):
            curve = run.best_curve
            keep = np.isfinite(curve)
            ax.step(np.asarray(run.times)[keep], curve[keep], where="post",
                    label=run.method, marker=".")
        if np.isfinite(row["target"]):
            ax.axhline(row["target"], color="grey", lw=0.8, ls="--",
                       label="baseline final")
        ax.set_xlim(left=0)
        ax.set_title(row["dataset"])
        ax.set_xlabel("wall-clock seconds since fit()")
        ax.set_ylabel(f"best validation {row['metric']}")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _warm_up():
    """One tiny skorch fit, so neither method pays torch's first-use cost."""
    import torch
    from skorch import NeuralNetClassifier

    X = np.random.RandomState(0).randn(64, 4).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    NeuralNetClassifier(_make_mlp_class(), module__n_inputs=4, module__n_outputs=2,
                        criterion=torch.nn.CrossEntropyLoss, max_epochs=2,
                        train_split=None, verbose=0).fit(X, y)


def _load():
    try:
        return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:  # pragma: no cover - platforms without getloadavg
        return "load average unknown"


def _busy():
    """A message when the 1-minute load average exceeds the core count."""
    try:
        load = os.getloadavg()[0]
    except OSError:  # pragma: no cover
        return ""
    cores = os.cpu_count() or 1
    return f"load average {load:.2f} > {cores} cores" if load > cores else ""


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--budget", type=float, default=None,
                   help=f"seconds per method and dataset (default {DEFAULT_BUDGET:g})")
    p.add_argument("--quick", action="store_true",
                   help=f"smoke run: budget {QUICK_BUDGET:g} s unless --budget")
    p.add_argument("--datasets", default=",".join(DATASETS),
                   help=f"comma-separated subset of {','.join(DATASETS)}")
    p.add_argument("--max-epochs", type=int, default=None,
                   help="upper end of the epoch range for both methods (default: "
                   "skautodl's TRAINING_SPACE, 120); for smoke tests")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads for both methods (default: torch's own)")
    p.add_argument("--random-state", type=int, default=0)
    p.add_argument("--plot", default=None, metavar="PNG",
                   help="save best-so-far curves with matplotlib")
    args = p.parse_args(argv)
    if args.budget is None:
        args.budget = QUICK_BUDGET if args.quick else DEFAULT_BUDGET
    if args.budget <= 0:
        p.error("--budget must be positive")
    if args.threads is not None and args.threads < 1:
        p.error("--threads must be >= 1")
    if args.max_epochs is not None and args.max_epochs < 2:
        p.error("--max-epochs must be >= 2")
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    unknown = [n for n in names if n not in DATASETS]
    if unknown or not names:
        p.error(f"--datasets: unknown {unknown}; choose from {DATASETS}")
    args.datasets = names
    return args


def main(argv=None):
    """Run the benchmark; print the table and return its rows."""
    args = parse_args(argv)
    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    print(f"search efficiency: budget {args.budget:g} s per method and dataset, "
          f"{os.cpu_count()} CPU cores, torch threads {torch.get_num_threads()}, "
          f"device {'cuda' if torch.cuda.is_available() else 'cpu'}; "
          f"{_load()} at start. Wall-clock timings: other jobs running on the "
          "machine slow both methods.", flush=True)
    busy = _busy()
    if busy:
        print(f"WARNING: {busy}; timings are unreliable (torch's threads wait "
              "for each other when cores are shared); consider --threads 1 or "
              "a quiet machine.", flush=True)
    _warm_up()
    rows = []
    for name in args.datasets:
        data = load_dataset(name, args.random_state)
        print(f"[{name}] dev {len(data.y_dev)} rows (train {len(data.train_idx)}, "
              f"valid {len(data.valid_idx)}), test {len(data.y_test)}; "
              f"{_load()}", flush=True)
        auto = run_skautodl(data, args.budget, args.random_state, args.max_epochs)
        print(f"[{name}] skautodl done: {auto.n_trials} trials, best "
              f"{_fmt(auto.final_best)}; {_load()}", flush=True)
        base = run_baseline(data, args.budget, args.random_state, args.max_epochs)
        print(f"[{name}] baseline done: {base.n_trials} iterations, best "
              f"{_fmt(base.final_best)}; {_load()}", flush=True)
        rows.append(compare(data, auto, base))
    print()
    print(format_table(rows, args.budget))
    print(f"{_load()} at end." + (f" WARNING: {_busy()}." if _busy() else ""))
    if args.plot:
        plot(rows, args.plot)
        print(f"curves saved to {args.plot}")
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
