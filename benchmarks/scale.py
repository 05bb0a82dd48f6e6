"""Scale: how the search, its memory and prediction behave from 10k to 1M rows.

A synthetic 3-class table of 30 numeric features (scikit-learn's
``make_classification``, made by this script), split 80/20 into training
and test rows. For each size and time budget, ``AutoDLClassifier`` (with
``n_jobs=1``, and ``n_jobs=2`` where asked) and a default
``HistGradientBoostingClassifier`` are fitted, each in a fresh process:

* ``trials``: trials run (subsample rungs and promotions count: each is a
  configuration compared on the full validation split), ``configs``: the
  distinct configurations among them, ``rows``: the training rows of the
  smallest and the largest trial;
* ``test``: accuracy on the test rows;
* ``fit_s``: seconds of ``fit``;
* ``peak_mb``: the fit's peak memory, the sum over the process and its
  worker processes of their proportional set size (PSS: a page shared by
  two processes, like a memory-mapped array, counts half in each), sampled
  every 20 ms, interpreter and torch included;
* ``predict_rows_s`` and ``predict_mb``: ``predict_proba`` on 1,000,000
  rows (the test rows repeated), rows per second and how far the process's
  memory rose above where it was before the call (the input itself is
  allocated before).

Usage (the whole grid takes about 40 minutes on 2 cores)::

    PYTHONPATH=. python benchmarks/scale.py
    PYTHONPATH=. python benchmarks/scale.py --rows 400000 --budgets 60 --n-jobs 1,2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULT_PREFIX = "SCALE_RESULT "
PREDICT_ROWS = 1_000_000
N_FEATURES = 30


def make_data(n_rows, random_state=0):
    """``(X_train, X_test, y_train, y_test)``: ``n_rows`` training rows
    (80 %) plus a quarter as many test rows, float32 features."""
    from sklearn.datasets import make_classification

    n_total = int(round(n_rows / 0.8))
    X, y = make_classification(
        n_samples=n_total, n_features=N_FEATURES, n_informative=15, n_redundant=5,
        n_classes=3, n_clusters_per_class=2, class_sep=1.0, flip_y=0.02,
        random_state=random_state)
    X = X.astype(np.float32)
    n_train = n_rows
    return X[:n_train], X[n_train:], y[:n_train], y[n_train:]


# ---------------------------------------------------------------- memory
def _pss_kb(pid):
    """Proportional set size of ``pid`` in KiB (RSS where PSS is unknown)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _descendants(pid):
    """``pid`` and every process below it (Linux /proc)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, ()))
    return out


class MemorySampler:
    """Peak PSS (MiB) of this process and its children while in a ``with``."""

    def __init__(self, tree=True, interval=0.02):
        self.tree = tree
        self.interval = interval
        self.peak_mb = 0.0
        self.start_mb = 0.0
        self._stop = threading.Event()

    def sample(self):
        pids = _descendants(os.getpid()) if self.tree else [os.getpid()]
        return sum(_pss_kb(p) for p in pids) / 1024.0

    def _run(self):
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, self.sample())
            self._stop.wait(self.interval)

    def __enter__(self):
        self.start_mb = self.peak_mb = self.sample()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, self.sample())


# ---------------------------------------------------------------- child
def run_child(job):
    """Fit one method on one size; the result dict."""
    import torch

    torch.set_num_threads(int(job["threads"]))
    X_train, X_test, y_train, y_test = make_data(job["rows"], job["seed"])
    result = {"n_train": len(y_train), "n_test": len(y_test)}
    if job["method"] == "hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier

        est = HistGradientBoostingClassifier(random_state=job["seed"])
    else:
        from skautodl import AutoDLClassifier

        est = AutoDLClassifier(time_budget=job["budget"], n_jobs=job["n_jobs"],
                               random_state=job["seed"], verbose=0,
                               **job.get("params", {}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with MemorySampler() as mem:
            t0 = time.perf_counter()
            est.fit(X_train, y_train)
            result["fit_s"] = time.perf_counter() - t0
        result["peak_mb"] = mem.peak_mb
        result["start_mb"] = mem.start_mb
        result["test"] = float(est.score(X_test, y_test))
        if job["method"] == "skautodl":
            board = est.leaderboard_
            result["trials"] = int(est.n_trials_)
            result["configs"] = int(board["parent"].isna().sum())
            if "rows" in board:
                rows = board["rows"].dropna()
                result["rows_min"] = int(rows.min()) if len(rows) else None
                result["rows_max"] = int(rows.max()) if len(rows) else None
            result["stop_reason"] = est.stop_reason_
        X_big = np.resize(X_test, (job.get("predict_rows", PREDICT_ROWS), N_FEATURES))
        est.predict_proba(X_big[:1000])  # warm up
        with MemorySampler(tree=False, interval=0.01) as mem:
            t0 = time.perf_counter()
            est.predict_proba(X_big)
            seconds = time.perf_counter() - t0
        result["predict_rows_s"] = len(X_big) / seconds
        result["predict_mb"] = mem.peak_mb - mem.start_mb
    return result


def child_main(spec):
    job = json.loads(spec)
    try:
        result = {"status": "ok", **run_child(job)}
    except Exception as exc:  # reported as an error row by the parent
        result = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
    print(RESULT_PREFIX + json.dumps(result, default=float), flush=True)


# ---------------------------------------------------------------- parent
def run_job(job, timeout):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["OMP_NUM_THREADS"] = str(job["threads"])
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_child", json.dumps(job)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                              cwd=str(ROOT), timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": "error", "error": f"timeout after {timeout:g} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_PREFIX)]
    if not lines:
        tail = " ".join(proc.stderr.split())[-300:]
        return {"status": "error", "error": f"exit {proc.returncode}: {tail}"}
    return json.loads(lines[-1][len(RESULT_PREFIX):])


def _cell(value, spec):
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "-"
    return format(value, spec)


def table(rows):
    cols = ["rows", "budget", "method", "trials", "configs", "trial rows", "test",
            "fit_s", "peak_mb", "predict_rows_s", "predict_mb"]
    lines = ["| " + " | ".join(cols) + " |",
             "| " + " | ".join(["---"] * 3 + ["---:"] * (len(cols) - 3)) + " |"]
    for r in rows:
        if r.get("status") != "ok":
            lines.append(f"| {r['rows']:,} | {r['budget'] or '-'} | {r['label']} | "
                         f"error: {r.get('error', '?')} |" + " |" * (len(cols) - 4))
            continue
        trial_rows = ("-" if r.get("rows_min") is None else
                      f"{r['rows_min']:,}-{r['rows_max']:,}")
        lines.append("| " + " | ".join([
            f"{r['rows']:,}", str(r["budget"] or "-"), r["label"],
            _cell(r.get("trials"), "d"), _cell(r.get("configs"), "d"), trial_rows,
            _cell(r["test"], ".4f"), _cell(r["fit_s"], ".1f"),
            _cell(r["peak_mb"], ".0f"), _cell(r["predict_rows_s"], ",.0f"),
            _cell(r["predict_mb"], ".0f")]) + " |")
    return "\n".join(lines)


def plan(args):
    jobs = []
    for rows in args.rows:
        jobs.append({"method": "hgb", "label": "HistGradientBoosting", "rows": rows,
                     "budget": None})
        for budget in args.budgets:
            for n_jobs in args.n_jobs:
                if n_jobs > 1 and args.parallel_rows and rows not in args.parallel_rows:
                    continue
                jobs.append({"method": "skautodl", "label": f"skautodl n_jobs={n_jobs}",
                             "rows": rows, "budget": budget, "n_jobs": n_jobs,
                             "params": dict(args.params)})
    for job in jobs:
        job.update(seed=args.seed, threads=args.threads,
                   predict_rows=args.predict_rows)
    return jobs


def _ints(text):
    return [int(float(v)) for v in text.split(",") if v]


def _params(text):
    out = {}
    for item in filter(None, text.split(",")):
        key, _, value = item.partition("=")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def main(argv=None):
    if argv is None and len(sys.argv) > 2 and sys.argv[1] == "--_child":
        return child_main(sys.argv[2])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=_ints, default=[10_000, 100_000, 400_000,
                                                      1_000_000])
    parser.add_argument("--budgets", type=_ints, default=[60, 300])
    parser.add_argument("--n-jobs", type=_ints, default=[1, 2])
    parser.add_argument("--parallel-rows", type=_ints, default=[400_000],
                        help="sizes that also run n_jobs > 1 (empty: all)")
    parser.add_argument("--params", type=_params, default={},
                        help="extra estimator parameters, e.g. fidelity=null")
    parser.add_argument("--predict-rows", type=int, default=PREDICT_ROWS,
                        help="rows of the predict_proba measurement")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="also write the rows as JSON")
    args = parser.parse_args(argv)
    rows = []
    for job in plan(args):
        timeout = 900 + 3 * (job["budget"] or 300)
        t0 = time.time()
        result = {**job, **run_job(job, timeout)}
        rows.append(result)
        print(f"[{job['label']} rows={job['rows']:,} budget={job['budget']}] "
              f"{time.time() - t0:.0f} s: " + json.dumps(
                  {k: v for k, v in result.items() if k not in job}, default=str),
              flush=True)
        if args.out:
            Path(args.out).write_text(json.dumps(rows, indent=1, default=float))
    print()
    print(table(rows))
    return rows


if __name__ == "__main__":
    main()
