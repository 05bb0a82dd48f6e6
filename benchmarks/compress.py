"""Compression: test score, file size and latency before and after ``compress``.

For each dataset (scikit-learn's digits as 64 tabular columns, breast
cancer) and split seed, a stratified 25 % test split is held out, an
``AutoDLClassifier(time_budget=B, random_state=seed)`` is fitted on the
rest, and ``compress(X_train, y_train, sparsity=S, quantize=True,
random_state=seed)`` prunes and quantizes its networks (with its default
3-epoch fine-tune on 80 % of the training rows). The table gives, before
and after:

* ``test``: accuracy on the test split, and ``drop``: the loss in points
  (positive: worse after compression);
* ``file_kb``: the size written by ``skautodl.save``, and ``ratio``;
* ``params``: the networks' parameters (all of them / nonzero after);
* ``ms/1k``: ``predict`` latency per 1,000 rows (median of interleaved
  runs, from the report).

Usage::

    PYTHONPATH=. python benchmarks/compress.py
    PYTHONPATH=. python benchmarks/compress.py --budget 60 --seeds 0,1,2 --out c.json
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

DATASETS = ("digits", "breast_cancer")


def load(name):
    from sklearn.datasets import load_breast_cancer, load_digits

    loader = {"digits": load_digits, "breast_cancer": load_breast_cancer}[name]
    return loader(return_X_y=True)


def run(name, seed, *, budget, sparsity, quantize, params=None):
    """One row of the table: fit, compress and score ``name`` at split ``seed``."""
    from sklearn.model_selection import train_test_split

    from skautodl import AutoDLClassifier

    X, y = load(name)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=seed)
    t0 = time.time()
    clf = AutoDLClassifier(time_budget=budget, random_state=seed, verbose=0,
                           **(params or {})).fit(X_train, y_train)
    fit_s = time.time() - t0
    t0 = time.time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        small = clf.compress(X_train, y_train, sparsity=sparsity, quantize=quantize,
                             random_state=seed)
    report = small.compression_report_
    before, after = report["before"], report["after"]
    test_before, test_after = clf.score(X_test, y_test), small.score(X_test, y_test)
    return {
        "dataset": name, "seed": seed, "budget": budget, "sparsity": sparsity,
        "quantize": quantize, "fit_s": fit_s, "compress_s": time.time() - t0,
        "members": len(clf.ensemble_), "test_before": test_before,
        "test_after": test_after, "drop_points": 100 * (test_before - test_after),
        "file_before": before["file_bytes"], "file_after": after["file_bytes"],
        "ratio": report["file_ratio"], "params": before["n_parameters"],
        "nonzero_after": after["n_nonzero"],
        "latency_before": before["latency_ms"], "latency_after": after["latency_ms"],
        "valid_before": before["validation_score"],
        "valid_after": after["validation_score"],
    }


def table(rows):
    cols = ["dataset", "seed", "test before", "test after", "drop (points)",
            "file_kb before", "file_kb after", "ratio", "params (nonzero after)",
            "ms/1k before", "ms/1k after"]
    lines = ["| " + " | ".join(cols) + " |",
             "| " + " | ".join(["---"] * 2 + ["---:"] * (len(cols) - 2)) + " |"]
    for r in rows:
        lines.append("| " + " | ".join([
            r["dataset"], str(r["seed"]), f"{r['test_before']:.4f}",
            f"{r['test_after']:.4f}", f"{r['drop_points']:+.2f}",
            f"{r['file_before'] / 1024:,.0f}", f"{r['file_after'] / 1024:,.0f}",
            f"{r['ratio']:.1f}x", f"{r['params']:,} ({r['nonzero_after']:,})",
            f"{r['latency_before']:.1f}", f"{r['latency_after']:.1f}"]) + " |")
    return "\n".join(lines)


def _ints(text):
    return [int(v) for v in text.split(",") if v]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS),
                        help=f"comma-separated, from {DATASETS}")
    parser.add_argument("--seeds", type=_ints, default=[0],
                        help="split (and estimator) seeds, comma-separated")
    parser.add_argument("--budget", type=float, default=30.0,
                        help="time_budget of each fit, seconds")
    parser.add_argument("--sparsity", type=float, default=0.5)
    parser.add_argument("--no-quantize", action="store_true")
    parser.add_argument("--params", type=json.loads, default=None,
                        help="extra estimator parameters as JSON")
    parser.add_argument("--out", default=None, help="also write the rows as JSON")
    args = parser.parse_args(argv)
    rows = []
    for name in filter(None, args.datasets.split(",")):
        if name not in DATASETS:
            parser.error(f"unknown dataset {name!r}; choose from {DATASETS}")
        for seed in args.seeds:
            row = run(name, seed, budget=args.budget, sparsity=args.sparsity,
                      quantize=not args.no_quantize, params=args.params)
            rows.append(row)
            print(f"[{name} seed={seed}] fit {row['fit_s']:.0f} s, compress "
                  f"{row['compress_s']:.0f} s", flush=True)
            if args.out:
                Path(args.out).write_text(json.dumps(rows, indent=1, default=float))
    print()
    print(f"sparsity {args.sparsity}, int8: {not args.no_quantize}, "
          f"time_budget {args.budget:g} s")
    print(table(rows))
    drops = np.array([r["drop_points"] for r in rows])
    ratios = np.array([r["ratio"] for r in rows])
    print(f"\nworst drop {drops.max():+.2f} points (target <= 1), smallest file "
          f"ratio {ratios.min():.1f}x (target >= 3)")
    return rows


if __name__ == "__main__":
    main()
