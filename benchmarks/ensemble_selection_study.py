"""How the ensemble is selected, compared on the development suite.

One ``fit`` per data set and split seed, with every pooled trial's model
kept; then each selection rule below is applied to the same out-of-sample
predictions, and its blend is scored on the split's test rows. Every rule
sees the same trials, so the comparison is paired: the differences come
from the rule, not from the search's luck. Data: the development suite
(``benchmarks/devsuite.py``), never the quality benchmark's sets.

Rules:

``best``
    The best single trial by validation score (``ensemble_size=1``).
``greedy10``, ``greedy25``
    Greedy forward selection with replacement (Caruana et al. 2004) over
    the estimator's scoring, 10 or 25 rounds, ties to the lower log loss /
    squared error: skautodl's rule (10 rounds is the default).
``bagged10``
    Caruana's bagged selection: greedy10 on 20 random halves of the
    validation rows, the weights averaged.
``logloss10``
    (classifiers) greedy10 ranking blends by log loss only.
``top5``
    The 5 best trials, equal weights.

Each classifier rule's log loss is reported before and after temperature
scaling (fitted on the validation rows). Members are the trials' own
models: their fold models averaged with ``cv`` (exactly what the estimator
keeps), or the model trained on the training split with a holdout (the
estimator would refit them on all rows).

Usage::

    PYTHONPATH=. python benchmarks/ensemble_selection_study.py \\
        --datasets iris,autompg,friedman3,classif,hastie,mixed_dev \\
        --split-seeds 0,1 --budget 60
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

RULES = ("best", "greedy10", "greedy25", "bagged10", "logloss10", "top5")


def _on_path():
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)


def capture_fit(est, X, y):
    """Fit ``est`` keeping every pooled trial's model; return what selection saw.

    Returns ``(pool, y_valid, score, tiebreak, models)``: the prediction
    pool, the validation targets, the blend scorer and tie-break the
    estimator used, and ``{trial_id: model}`` for the pooled trials.
    """
    from skautodl import estimators
    from skautodl.training import refit

    seen = {}
    real_select, real_members, real_plan = (estimators.select,
                                            estimators.fit_members,
                                            estimators._EnsemblePlan.__init__)

    def plan_init(self, ensemble_size, bagging, **kw):
        real_plan(self, ensemble_size, bagging, **kw)
        if self.pool is not None:
            self.keep_nets = self.pool.size  # every pooled trial's nets

    def select(pool, y_true, score, rounds, tiebreak=None):
        seen.update(pool=pool, y_valid=y_true, score=score, tiebreak=tiebreak)
        return real_select(pool, y_true, score, rounds, tiebreak=tiebreak)

    def fit_members(weights, best, outcome, X_, y_fit, task, features, **kw):
        models = {}
        for trial_id in seen["pool"].predictions:
            nets = outcome.nets.get(trial_id)
            if not nets:
                continue
            result = outcome.by_id(trial_id)
            models[trial_id] = (refit.bag(result, nets, features, task)
                                if kw["bagging"] else
                                refit._trial_model(result, nets, features, task))
        seen["models"] = models
        return real_members(weights, best, outcome, X_, y_fit, task, features, **kw)

    estimators.select, estimators.fit_members = select, fit_members
    estimators._EnsemblePlan.__init__ = plan_init
    try:
        est.fit(X, y)
    finally:
        estimators.select, estimators.fit_members = real_select, real_members
        estimators._EnsemblePlan.__init__ = real_plan
    return seen


def _subpool(pool, rows, keep):
    from skautodl.ensemble import PredictionPool

    sub = PredictionPool(pool.size)
    for t in keep:
        sub.predictions[t] = pool.predictions[t][rows]
        sub.scores[t] = pool.scores[t]
    return sub


def rule_weights(rule, pool, y_valid, score, tiebreak, classification):
    """``{trial_id: weight}`` of ``rule`` (None: does not apply)."""
    from skautodl.ensemble import select

    ranked = pool.ranked()
    if rule == "best":
        return {ranked[0]: 1.0}
    if rule in ("greedy10", "greedy25"):
        return select(pool, y_valid, score, int(rule[6:]), tiebreak=tiebreak)[0]
    if rule == "logloss10":
        if not classification:
            return None
        return select(pool, y_valid, tiebreak, 10)[0]
    if rule == "top5":
        top = ranked[:5]
        return {t: 1.0 / len(top) for t in top}
    if rule == "bagged10":
        rng = np.random.RandomState(0)
        n, total = len(y_valid), {}
        for _ in range(20):
            rows = np.sort(rng.choice(n, n // 2, replace=False))
            w, _ = select(_subpool(pool, rows, pool.predictions), y_valid[rows],
                          score, 10, tiebreak=tiebreak)
            for t, v in w.items():
                total[t] = total.get(t, 0.0) + v / 20
        return total
    raise ValueError(rule)


def study(name, seed, budget):
    """Rows ``{rule, test, log_loss, log_loss_t, members}`` of one split."""
    from quality import ALL_DATASETS, split_data

    from skautodl import AutoDLClassifier, AutoDLRegressor
    from skautodl.data.validation import check_predict_input
    from skautodl.ensemble import _log_loss, _sharpen, fit_temperature

    classification = ALL_DATASETS[name][0] == "classification"
    X_train, X_test, y_train, y_test = split_data(name, random_state=seed)
    cls = AutoDLClassifier if classification else AutoDLRegressor
    est = cls(time_budget=budget, random_state=seed, verbose=0)
    start = time.time()
    seen = capture_fit(est, X_train, y_train)
    fit_s = time.time() - start
    pool, y_valid = seen["pool"], seen["y_valid"]
    pool_ids = [t for t in pool.predictions if t in seen["models"]]
    pool = _subpool(pool, slice(None), pool_ids)
    X_checked = check_predict_input(est, X_test)
    test_out = {t: np.asarray(seen["models"][t].predict_proba(X_checked)
                              if classification else
                              seen["models"][t].predict(X_checked), np.float64)
                for t in pool_ids}
    if classification:
        index = {c: i for i, c in enumerate(est.classes_.tolist())}
        valid_idx = np.array([index[v] for v in np.asarray(y_valid).tolist()])
        test_idx = np.array([index[v] for v in np.asarray(y_test).tolist()])
    rows = []
    for rule in RULES:
        weights = rule_weights(rule, pool, y_valid, seen["score"], seen["tiebreak"],
                               classification)
        if weights is None:
            continue
        blend = sum(w * test_out[t] for t, w in weights.items())
        row = {"dataset": name, "seed": seed, "rule": rule, "members": len(weights),
               "test": seen["score"](blend, y_test), "pool": len(pool_ids),
               "fit_s": fit_s}
        if classification:
            p = blend / blend.sum(axis=1, keepdims=True)
            valid_blend = sum(w * pool.predictions[t].astype(np.float64)
                              for t, w in weights.items())
            temp = fit_temperature(valid_blend, valid_idx)
            row["log_loss"] = _log_loss(p, test_idx)
            row["log_loss_t"] = _log_loss(_sharpen(p, temp), test_idx)
        rows.append(row)
    return rows


def table(rows):
    """Markdown: mean test score per data set and rule (log loss: after /
    before temperature scaling), and each rule's mean rank."""
    names = list(dict.fromkeys(r["dataset"] for r in rows))
    rules = [r for r in RULES if any(x["rule"] == r for x in rows)]
    lines = ["| dataset | " + " | ".join(rules) + " |",
             "| --- | " + " | ".join("---:" for _ in rules) + " |"]
    ranks = {r: [] for r in rules}
    for name in names:
        cells, means = [], {}
        for rule in rules:
            sel = [x for x in rows if x["dataset"] == name and x["rule"] == rule]
            if not sel:
                cells.append("-")
                continue
            means[rule] = float(np.mean([x["test"] for x in sel]))
            text = f"{means[rule]:.4f}"
            if "log_loss" in sel[0]:
                text += (f" ({np.mean([x['log_loss_t'] for x in sel]):.3f}/"
                         f"{np.mean([x['log_loss'] for x in sel]):.3f})")
            cells.append(text)
        order = sorted(means, key=lambda r: -means[r])
        for rule in means:
            ranks[rule].append(1 + sum(means[o] > means[rule] + 1e-9 for o in order))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("| mean rank | " + " | ".join(
        f"{np.mean(ranks[r]):.2f}" if ranks[r] else "-" for r in rules) + " |")
    return "\n".join(lines)


def main(argv=None):
    _on_path()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets",
                        default="iris,autompg,friedman3,classif,hastie,mixed_dev")
    parser.add_argument("--split-seeds", default="0,1")
    parser.add_argument("--budget", type=float, default=60.0)
    args = parser.parse_args(argv)
    from devsuite import DEV_DATASETS

    names = args.datasets.split(",")
    bad = [n for n in names if n not in DEV_DATASETS or n == "shapes"]
    if bad:
        parser.error(f"not tabular dev-suite sets: {bad}")
    rows = []
    for name in names:
        for seed in (int(s) for s in args.split_seeds.split(",")):
            got = study(name, seed, args.budget)
            rows.extend(got)
            print(f"[{name} seed {seed}] pool {got[0]['pool']}, fit "
                  f"{got[0]['fit_s']:.1f} s: " + ", ".join(
                      f"{r['rule']} {r['test']:.4f}" for r in got), flush=True)
    print()
    print(table(rows))
    return rows


if __name__ == "__main__":
    main()
