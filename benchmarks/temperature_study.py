"""How the ensemble's temperature is chosen, compared on the development suite.

One ``fit`` per data set and split seed (the estimator as users get it:
``cv="auto"``, members refit or bagged); the blend of the kept members is
then scored on the split's test rows with the temperature of each rule
below, beside the best single trial's model. Every rule sees the same
members, so the comparison is paired. Data: the classification sets of
the development suite (``benchmarks/devsuite.py``), never the quality
benchmark's sets.

Rules (``T``: the temperature, the blend's probabilities raised to
``1 / T``; all fitted on the rows the ensemble was selected on):

``none``
    ``T = 1``: the members' blend as it is.
``fitted``
    ``T`` minimizing the log loss of the blend on those rows.
``soften``
    ``fitted``, but never below 1 (only ever softens).
``floor``
    ``fitted``, but never below 0.5.
``member``
    ``fitted``, but never sharper than the most confident member: the
    blend's mean top probability on those rows may rise to that member's
    and no further (temperature scaling undoes the averaging's
    under-confidence; it does not extrapolate past any member).
``crossfit``
    ``fitted`` only when it lowers the log loss out of fold (5 folds of
    those rows, each fold scaled by the temperature fitted on the other
    four), else 1.
``default``
    What the estimator does (``temperature_``): ``member`` when the
    members are refitted on all rows (a holdout), ``fitted`` with bagging.

Usage::

    PYTHONPATH=. python benchmarks/temperature_study.py \\
        --datasets iris,classif,hastie,shapes --split-seeds 0,1,2 --budget 30
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

RULES = ("none", "fitted", "soften", "floor", "member", "crossfit", "default")


def _on_path():
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)


def crossfit_temperature(blend_valid, y_index, folds=5, seed=0):
    """The fitted temperature if it lowers the out-of-fold log loss, else 1."""
    from skautodl.ensemble import _log_loss, _sharpen, fit_temperature

    order = np.random.RandomState(seed).permutation(len(y_index))
    scaled = np.empty_like(blend_valid)
    for part in np.array_split(order, folds):
        rest = np.setdiff1d(order, part)
        t = fit_temperature(blend_valid[rest], y_index[rest])
        scaled[part] = _sharpen(blend_valid[part], t)
    if _log_loss(scaled, y_index) < _log_loss(blend_valid, y_index):
        return fit_temperature(blend_valid, y_index)
    return 1.0


def rule_temperature(rule, blend_valid, member_valid, y_index):
    from skautodl.ensemble import fit_temperature

    fitted = fit_temperature(blend_valid, y_index)
    if rule == "none":
        return 1.0
    if rule == "fitted":
        return fitted
    if rule == "soften":
        return max(fitted, 1.0)
    if rule == "floor":
        return max(fitted, 0.5)
    if rule == "member":
        return fit_temperature(blend_valid, y_index, members=member_valid)
    if rule == "crossfit":
        return crossfit_temperature(blend_valid, y_index)
    raise ValueError(rule)


def study(name, seed, budget):
    """Rows ``{dataset, seed, rule, temperature, log_loss}`` of one split,
    plus a ``best trial`` row."""
    from quality import split_data

    from skautodl import AutoDLClassifier, estimators
    from skautodl.data.validation import check_predict_input
    from skautodl.ensemble import Ensemble, _log_loss, _sharpen

    X_train, X_test, y_train, y_test = split_data(name, random_state=seed)
    seen, real_fit_t, real_blend = {}, estimators.fit_temperature, estimators.blend

    def blend(pool, weights):
        seen.update(member_valid=[pool.predictions[t].astype(np.float64)
                                  for t in sorted(weights)])
        return real_blend(pool, weights)

    def fit_temperature(proba, y_index):
        seen.update(blend_valid=np.asarray(proba, np.float64), y_index=y_index)
        return real_fit_t(proba, y_index)

    est = AutoDLClassifier(time_budget=budget, random_state=seed, verbose=0)
    estimators.fit_temperature, estimators.blend = fit_temperature, blend
    start = time.time()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X_train, y_train)
    finally:
        estimators.fit_temperature, estimators.blend = real_fit_t, real_blend
    fit_s = time.time() - start
    X_checked = check_predict_input(est, X_test)
    index = {c: i for i, c in enumerate(est.classes_.tolist())}
    test_idx = np.array([index[v] for v in np.asarray(y_test).tolist()])
    best = est.best_estimator_.predict_proba(X_checked)
    base = {"dataset": name, "seed": seed, "fit_s": fit_s,
            "members": len(est.ensemble_), "cv": est.cv_ is not None}
    rows = [{**base, "rule": "best trial", "temperature": 1.0,
             "log_loss": _log_loss(best, test_idx)}]
    if "blend_valid" not in seen:  # one member: no temperature was fitted
        return rows
    raw = Ensemble(est.ensemble_, est.classes_).predict_proba(X_checked)
    for rule in RULES:
        t = (est.temperature_ if rule == "default" else
             rule_temperature(rule, seen["blend_valid"], seen["member_valid"],
                              seen["y_index"]))
        rows.append({**base, "rule": rule, "temperature": t,
                     "log_loss": _log_loss(_sharpen(raw, t), test_idx)})
    return rows


def table(rows):
    """Markdown: mean test log loss (and mean temperature) per set and rule."""
    names = list(dict.fromkeys(r["dataset"] for r in rows))
    rules = ["best trial", *RULES]
    lines = ["| dataset | " + " | ".join(rules) + " |",
             "| --- | " + " | ".join("---:" for _ in rules) + " |"]
    wins = dict.fromkeys(rules, 0)
    for name in names:
        cells = []
        for rule in rules:
            sel = [x for x in rows if x["dataset"] == name and x["rule"] == rule]
            if not sel:
                cells.append("-")
                continue
            text = f"{np.mean([x['log_loss'] for x in sel]):.4f}"
            if rule != "best trial":
                text += f" (T {np.mean([x['temperature'] for x in sel]):.2f})"
            cells.append(text)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    splits = {(r["dataset"], r["seed"]) for r in rows}
    for key in splits:
        sel = {x["rule"]: x["log_loss"] for x in rows
               if (x["dataset"], x["seed"]) == key}
        for rule in RULES:
            if rule in sel and sel[rule] <= sel["best trial"] + 1e-12:
                wins[rule] += 1
    lines.append("| splits at or below the best trial | - | " + " | ".join(
        f"{wins[r]}/{len(splits)}" for r in RULES) + " |")
    return "\n".join(lines)


def main(argv=None):
    _on_path()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="iris,classif,hastie,shapes")
    parser.add_argument("--split-seeds", default="0,1,2")
    parser.add_argument("--budget", type=float, default=30.0)
    args = parser.parse_args(argv)
    from devsuite import DEV_DATASETS

    names = args.datasets.split(",")
    bad = [n for n in names if DEV_DATASETS.get(n, ("",))[0] != "classification"]
    if bad:
        parser.error(f"not classification sets of the dev suite: {bad}")
    rows = []
    for name in names:
        for seed in (int(s) for s in args.split_seeds.split(",")):
            got = study(name, seed, args.budget)
            rows.extend(got)
            print(f"[{name} seed {seed}] {got[0]['members']} members, "
                  f"{'bagging' if got[0]['cv'] else 'holdout'}, fit "
                  f"{got[0]['fit_s']:.1f} s: " + ", ".join(
                      f"{r['rule']} {r['log_loss']:.4f} (T {r['temperature']:.2f})"
                      for r in got), flush=True)
    print()
    print(table(rows))
    return rows


if __name__ == "__main__":
    main()
