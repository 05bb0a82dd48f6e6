"""Scoring a trial in float32 against float64: time of the validation pass.

A fitted net predicts in float64 on the CPU (its predictions must not
depend on the other rows of a batch); a trial's scoring pass over a large
validation split (above ``skautodl.training.trial.MONITOR_ROWS`` rows, the
data-size fidelity regime) runs in float32 instead
(``skautodl.training.net.float32_inference``). This script times both
passes, side by side in one run, for MLPs of the portfolio's sizes on a
30-feature table, and prints a markdown table: seconds per pass (median of
``--repeats``), the ratio, and the largest difference between the two
outputs.

Usage::

    PYTHONPATH=. python benchmarks/scoring_precision.py
    PYTHONPATH=. python benchmarks/scoring_precision.py --rows 20000 --threads 1
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from skautodl.data.validation import TaskInfo
from skautodl.training.net import build_net, float32_inference

#: (name, config) of the nets timed: the sizes of the MLP portfolio's entries
NETS = [
    ("mlp 2 x 256", {"family": "mlp", "module__n_layers": 2, "module__n_units": 256}),
    ("mlp 3 x 512", {"family": "mlp", "module__n_layers": 3, "module__n_units": 512,
                     "module__norm": "layer"}),
]


def _median_seconds(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def _predict(net, X, fast):
    if not fast:
        return net.predict_proba(X)
    with float32_inference():
        return net.predict_proba(X)


def measure(rows, repeats, n_features=30, n_classes=3, seed=0):
    """One row per net: seconds of the float64 and float32 passes, ratio, diff."""
    rng = np.random.RandomState(seed)
    X_fit = rng.randn(512, n_features).astype(np.float32)
    y_fit = rng.randint(n_classes, size=512)
    X = rng.randn(rows, n_features).astype(np.float32)
    task = TaskInfo("multiclass", n_classes, n_samples=len(X_fit))
    out = []
    for name, config in NETS:
        torch.manual_seed(seed)
        net = build_net({**config, "max_epochs": 1, "batch_size": 256}, task,
                        n_features, classes=np.arange(n_classes))
        net.fit(X_fit, y_fit)
        # each pass's inference copy made, first-call costs paid
        _predict(net, X[:10], fast=False)
        t64, p64 = _median_seconds(lambda n=net: _predict(n, X, fast=False), repeats)
        _predict(net, X[:10], fast=True)
        t32, p32 = _median_seconds(lambda n=net: _predict(n, X, fast=True), repeats)
        out.append({"net": name, "rows": rows, "float64_s": t64, "float32_s": t32,
                    "ratio": t64 / t32, "max_diff": float(np.abs(p64 - p32).max())})
    return out


def table(results):
    lines = ["| net | rows | float64 s | float32 s | float64 / float32 "
             "| max difference |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        lines.append(f"| {r['net']} | {r['rows']:,} | {r['float64_s']:.3f} | "
                     f"{r['float32_s']:.3f} | {r['ratio']:.2f} | {r['max_diff']:.1e} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=80_000,
                   help="validation rows scored (default 80,000: the validation "
                   "split of 400,000 rows)")
    p.add_argument("--repeats", type=int, default=3, help="passes timed (median)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads (default: torch's)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    results = measure(args.rows, args.repeats)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)\n")
    print(table(results))
    return results


if __name__ == "__main__":
    main()
