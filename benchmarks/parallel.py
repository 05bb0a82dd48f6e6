"""Parallel trials: throughput of ``n_jobs=1``, ``n_jobs=2`` and a Dask cluster.

One command runs the same search three ways, side by side, on one synthetic
mid-size table and prints one table:

* ``n_jobs=1``: one trial at a time in this process (torch uses every core);
* ``n_jobs=2``: two local worker processes (one torch thread each on a
  2-core machine), refilled one trial at a time;
* ``dask``: a 2-worker ``distributed.LocalCluster`` (one thread per worker)
  through ``joblib.parallel_backend("dask")`` with ``n_jobs=2``.

Each run is ``AutoDLClassifier(time_budget=B, random_state=0, verbose=0)``
with everything else at its default (Bayesian search, Hyperband, the
portfolio first, ``families="auto"``) on
``make_classification(n_samples=ROWS, n_features=30, n_informative=15,
n_classes=3, random_state=0)``, 25 % of it held out as a test split.

Columns: ``trials`` (finished trials, Hyperband promotions included),
``trials/min`` (per minute of search time), ``epochs/min`` (training epochs
run per minute of search, summed over trials: throughput that does not depend
on how long the trials are), ``dup`` (configurations the searcher proposed
twice: with parallel workers a searcher that repeats itself wastes them),
``workers`` (distinct worker processes that ran trials), ``test`` (accuracy
of the final model on the test split), ``fit_s`` (the whole ``fit``, refit
included; the budget allows ``B + min(0.1 B, 30) + 5``). Under the table:
the ratios of ``n_jobs=2`` and ``dask`` to ``n_jobs=1`` in trials and epochs
per minute. The target: ``n_jobs=2`` completes at least 1.6x the trials per
minute of ``n_jobs=1``, with no duplicate.

Usage (from the repository root)::

    PYTHONPATH=. python benchmarks/parallel.py              # 20,000 rows, 60 s
    PYTHONPATH=. python benchmarks/parallel.py --budget 120 --repeats 2
    PYTHONPATH=. python benchmarks/parallel.py --quick      # smoke run
    PYTHONPATH=. python benchmarks/parallel.py --modes n_jobs=1,n_jobs=2

An unmeasured 10 s ``n_jobs=1`` fit runs first (``--no-warmup`` skips it):
the first trials of a process train slower (about 1.6x per epoch for the
first trial here), which would otherwise fall on ``n_jobs=1`` alone. The
modes are interleaved over ``--repeats``. Wall-clock numbers: other jobs on
the machine change them; the load average is printed with the table.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict, dataclass

import numpy as np

MODES = ("n_jobs=1", "n_jobs=2", "dask")
DEFAULT_ROWS = 20_000
DEFAULT_BUDGET = 60.0
QUICK = {"rows": 600, "budget": 6.0}
TARGET_RATIO = 1.6


@dataclass
class Run:
    """What one search did."""

    mode: str
    repeat: int
    trials: int
    search_s: float
    fit_s: float
    epochs: int
    duplicates: int
    searcher_trials: int
    workers: int
    test: float
    stop_reason: str

    @property
    def trials_per_min(self):
        return 60.0 * self.trials / max(self.search_s, 1e-9)

    @property
    def epochs_per_min(self):
        return 60.0 * self.epochs / max(self.search_s, 1e-9)


def make_data(rows, random_state=0):
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split

    X, y = make_classification(n_samples=rows, n_features=30, n_informative=15,
                               n_classes=3, random_state=random_state)
    return train_test_split(X.astype(np.float32), y, test_size=0.25,
                            stratify=y, random_state=random_state)


def duplicates(estimator):
    """Configs the searcher proposed more than once (epochs aside)."""
    res = estimator.cv_results_
    seen, dup, n = set(), 0, 0
    for config, origin in zip(res["params"], res["origin"], strict=True):
        if origin != "searcher":
            continue
        n += 1
        key = json.dumps({k: v for k, v in config.items() if k != "max_epochs"},
                         sort_keys=True)
        dup += key in seen
        seen.add(key)
    return dup, n


def run_search(mode, X_train, y_train, X_test, y_test, budget, repeat=0,
               random_state=0):
    """Fit once in ``mode``; returns a :class:`Run`."""
    from skautodl import AutoDLClassifier

    clf = AutoDLClassifier(time_budget=budget, random_state=random_state,
                           verbose=0, n_jobs=1 if mode == "n_jobs=1" else 2)
    t0 = time.perf_counter()
    if mode == "dask":
        import distributed
        from joblib import parallel_backend

        with distributed.LocalCluster(n_workers=2, threads_per_worker=1,
                                      processes=True, host="127.0.0.1",
                                      dashboard_address=None) as cluster, \
                distributed.Client(cluster), parallel_backend("dask"):
            t0 = time.perf_counter()
            clf.fit(X_train, y_train)
    else:
        clf.fit(X_train, y_train)
    fit_s = time.perf_counter() - t0
    dup, n_searcher = duplicates(clf)
    lb = clf.leaderboard_
    return Run(mode=mode, repeat=repeat, trials=int(clf.n_trials_),
               search_s=float(clf.search_time_), fit_s=fit_s,
               epochs=int(lb["epochs_run"].sum()), duplicates=dup,
               searcher_trials=n_searcher, workers=int(lb["worker"].nunique()),
               test=float(clf.score(X_test, y_test)),
               stop_reason=clf.stop_reason_)


def _load_line():
    try:
        load = os.getloadavg()
    except OSError:  # pragma: no cover - not on Unix
        load = (float("nan"),) * 3
    cores = os.cpu_count() or 1
    line = (f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
            f"({cores} cores)")
    if load[0] > cores:
        line += "  WARNING: load above the core count, timings are unreliable"
    return line


def table(runs, budget, rows):
    """The results as text: one line per run, then the mean ratios."""
    head = (f"{'mode':<9} {'rep':>3} {'trials':>6} {'trials/min':>10} "
            f"{'epochs/min':>10} {'dup':>4} {'asked':>5} {'workers':>7} "
            f"{'test':>6} {'search_s':>8} {'fit_s':>6}  stop")
    lines = [f"parallel trials: {rows} rows x 30 features, 3 classes, "
             f"time_budget={budget:g}s", head, "-" * len(head)]
    for r in runs:
        lines.append(
            f"{r.mode:<9} {r.repeat:>3} {r.trials:>6} {r.trials_per_min:>10.1f} "
            f"{r.epochs_per_min:>10.0f} {r.duplicates:>4} {r.searcher_trials:>5} "
            f"{r.workers:>7} {r.test:>6.4f} {r.search_s:>8.1f} {r.fit_s:>6.1f}  "
            f"{r.stop_reason}")
    by_mode = {}
    for r in runs:
        by_mode.setdefault(r.mode, []).append(r)
    base = by_mode.get("n_jobs=1")
    lines.append("")
    if base:
        t1 = np.mean([r.trials_per_min for r in base])
        e1 = np.mean([r.epochs_per_min for r in base])
        for mode, rs in by_mode.items():
            if mode == "n_jobs=1":
                continue
            t = np.mean([r.trials_per_min for r in rs]) / t1
            e = np.mean([r.epochs_per_min for r in rs]) / e1
            dup = sum(r.duplicates for r in rs)
            ok = "met" if mode == "n_jobs=2" and t >= TARGET_RATIO and not dup \
                else ("missed" if mode == "n_jobs=2" else "")
            lines.append(f"{mode} / n_jobs=1: trials/min x{t:.2f}, epochs/min "
                         f"x{e:.2f}, duplicates {dup}"
                         + (f"  (target >= {TARGET_RATIO}x, 0 duplicates: {ok})"
                            if ok else ""))
    lines.append(_load_line())
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS,
                        help="rows of the synthetic table (default 20000)")
    parser.add_argument("--budget", type=float, default=DEFAULT_BUDGET,
                        help="time_budget of each fit in seconds (default 60)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="runs per mode, interleaved (default 1)")
    parser.add_argument("--modes", default=",".join(MODES),
                        help=f"comma-separated subset of {MODES}")
    parser.add_argument("--quick", action="store_true",
                        help="a small, short smoke run")
    parser.add_argument("--no-warmup", dest="warmup", action="store_false",
                        help="skip the unmeasured warm-up fit")
    parser.add_argument("--json", metavar="PATH", help="also write the runs here")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.budget = QUICK["rows"], QUICK["budget"]
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = set(args.modes) - set(MODES)
    if unknown:
        parser.error(f"unknown modes {sorted(unknown)}; choose from {MODES}")
    return args


def main(argv=None):
    args = parse_args(argv)
    X_train, X_test, y_train, y_test = make_data(args.rows)
    if args.warmup:
        # the first trials of a process run slower (allocator and thread
        # pools warming up); an unmeasured fit keeps that off n_jobs=1, which
        # trains in this process (the workers of the other modes start
        # fresh, and pay it in their measured time)
        run_search("n_jobs=1", X_train, y_train, X_test, y_test,
                   min(10.0, args.budget))
    runs = []
    for repeat in range(args.repeats):
        # interleaved, so a slow spell of the machine hits every mode
        for mode in args.modes:
            runs.append(run_search(mode, X_train, y_train, X_test, y_test,
                                   args.budget, repeat=repeat))
            print(f"  done: {mode} repeat {repeat}: {runs[-1].trials} trials",
                  flush=True)
    print(table(runs, args.budget, args.rows))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump([{**asdict(r), "trials_per_min": r.trials_per_min,
                        "epochs_per_min": r.epochs_per_min} for r in runs], fh,
                      indent=1)
    return runs


if __name__ == "__main__":
    main()
