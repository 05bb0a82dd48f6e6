"""Memory of a bagged fit: peak RSS, pickled size and members, per checkout.

``AutoDLClassifier(n_trials=N, time_budget=None, random_state=0)`` on
scikit-learn's breast cancer data (a 75/25 split, ``cv="auto"``: 5-fold
bagging, so the search keeps 5 nets per trial for the ensemble), one torch
thread, each fit in a fresh process. A fixed number of trials (no time
budget) makes the same trials in every checkout, so that two versions of
the code compare on the very same models: pass their roots with
``--roots`` (e.g. a clone of an older commit and this one). Prints a
markdown table: peak RSS of the process (``ru_maxrss``, interpreter and
torch included), the pickled estimator's size, the members' network
parameters and the test accuracy.

Usage::

    PYTHONPATH=. python benchmarks/bagging_memory.py --trials 8,24
    git clone -q . /tmp/old && git -C /tmp/old checkout -q <commit>
    PYTHONPATH=. python benchmarks/bagging_memory.py --roots /tmp/old,.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "BAGGING_MEMORY "


def child(n_trials):
    import pickle
    import resource

    import torch
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    from skautodl import AutoDLClassifier
    from skautodl.ensemble import member_models

    torch.set_num_threads(1)
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y)
    est = AutoDLClassifier(n_trials=n_trials, time_budget=None, random_state=0,
                           verbose=0).fit(X_train, y_train)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    params = sum(p.numel() for model, _ in est.ensemble_
                 for pipeline in member_models(model)
                 for p in pipeline[-1].module_.parameters())
    return {"peak_mb": peak, "pickle_mb": len(pickle.dumps(est)) / 1e6,
            "members": len(est.ensemble_), "member_params": int(params),
            "test": float(est.score(X_test, y_test)), "cv": est.cv_}


def run(root, n_trials):
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()),
                           "--_child", str(n_trials)], capture_output=True,
                          text=True, env=env, cwd=str(root))
    lines = [line for line in proc.stdout.splitlines() if line.startswith(PREFIX)]
    if not lines:
        raise RuntimeError(f"the fit in {root} failed:\n{proc.stderr[-2000:]}")
    return json.loads(lines[-1][len(PREFIX):])


def table(rows):
    out = ["| code | trials | peak RSS MB | pickle MB | members | member params "
           "| test |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        out.append(f"| {r['root']} | {r['trials']} | {r['peak_mb']:.0f} | "
                   f"{r['pickle_mb']:.1f} | {r['members']} | {r['member_params']:,} | "
                   f"{r['test']:.4f} |")
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", default="8,24", help="comma-separated n_trials")
    p.add_argument("--roots", default=str(ROOT),
                   help="comma-separated checkouts to compare (default: this one)")
    p.add_argument("--_child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._child is not None:
        print(PREFIX + json.dumps(child(int(args._child))), flush=True)
        return None
    rows = []
    for n in (int(t) for t in args.trials.split(",")):
        for root in args.roots.split(","):
            rows.append({"root": root, "trials": n, **run(Path(root).resolve(), n)})
    print(table(rows))
    return rows


if __name__ == "__main__":
    main()
