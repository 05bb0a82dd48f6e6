"""Refit schedule: replaying early-stopped trials as their trials ran them,
or annealed over the epochs they kept, compared on the development suite.

For each data set (seed-0 split, holdout validation, ``time_budget``
seconds), the best 4 trials whose early stopping kept weights mid-cycle
are refitted on all training rows twice, and both refits are scored on
the split's test rows:

``old``
    each stretch trains the epochs it kept inside a cycle of its original
    length (the weights a refit ends with are mid-cycle, at a high
    learning rate);
``new``
    each stretch is one whole cycle of the epochs it kept (what
    :mod:`skautodl.training.refit` does).

Usage::

    PYTHONPATH=. python benchmarks/refit_schedule.py \\
        --datasets classif,hastie,mixed_dev,friedman3,shapes --budget 40
"""

from __future__ import annotations

import argparse
import sys
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np


def compare(name, seed, budget):
    """``[(trial_id, segments, old_score, new_score), ...]`` for one data set."""
    from quality import ALL_DATASETS, split_data
    from sklearn.metrics import accuracy_score, r2_score

    from skautodl import AutoDLClassifier, AutoDLRegressor, estimators
    from skautodl.data.validation import check_predict_input
    from skautodl.training import refit

    classification = ALL_DATASETS[name][0] == "classification"
    X_train, X_test, y_train, y_test = split_data(name, random_state=seed)
    seen, real = {}, estimators.fit_members

    def fit_members(weights, best, outcome, X, y_fit, task, features, **kw):
        seen.update(outcome=outcome, X=X, y_fit=y_fit, task=task,
                    classes=kw.get("classes"))
        return real(weights, best, outcome, X, y_fit, task, features, **kw)

    cls = AutoDLClassifier if classification else AutoDLRegressor
    est = cls(time_budget=budget, random_state=seed, verbose=0, cv=None)
    estimators.fit_members = fit_members
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X_train, y_train)
    finally:
        estimators.fit_members = real
    X_checked = check_predict_input(est, X_test)
    if classification:
        index = {c: i for i, c in enumerate(est.classes_.tolist())}
        y_index = np.array([index[v] for v in np.asarray(y_test).tolist()])
    ranked = sorted((r for r in seen["outcome"].results if r.ok),
                    key=lambda r: -r.score)
    out = []
    for result in ranked:
        segments = result.segments or [(result.epochs, result.epochs)]
        if all(kept == length for kept, length in segments):
            continue  # nothing cut mid-cycle: both refits are the same
        scores = []
        # "old": the segments as run; "new": each kept stretch as whole
        # cycles of that length (refit._replay's schedule); run through
        # the old code path by handing it segments (kept, kept)
        for variant in (result, replace(result, segments=[
                (kept, kept) for kept, _ in segments])):
            pipe, _ = _replay_as_run(refit, variant, seen)
            if classification:
                scores.append(accuracy_score(
                    y_index, pipe.predict_proba(X_checked).argmax(axis=1)))
            else:
                scores.append(r2_score(y_test, pipe.predict(X_checked)))
        out.append((result.trial_id, segments, *scores))
        if len(out) == 4:
            break
    return out


def _replay_as_run(refit, result, seen):
    """Replay ``result``'s segments with each cycle as long as the segment says
    (``_replay`` itself makes every cycle the kept length)."""
    from sklearn.pipeline import Pipeline

    from skautodl.data.featurize import make_featurizer
    from skautodl.training.net import build_net
    from skautodl.training.trial import feature_key, train_segment

    task = seen["task"]
    featurizer = make_featurizer(task, feature_key(task, result.config))
    X_all = featurizer.fit_transform(seen["X"])
    net = None
    for kept, length in result.segments or [(result.epochs, result.epochs)]:
        if net is None:
            net = build_net({**result.config, "max_epochs": int(kept),
                             "callbacks__lr_schedule__T_max": int(length)},
                            task, X_all.shape[1], classes=seen["classes"],
                            valid=None,
                            data_params=getattr(featurizer, "module_params_", None))
        train_segment(net, X_all, seen["y_fit"], epochs=kept, cycle_length=length,
                      seed=result.seed)
    return Pipeline([("featurize", featurizer), ("net", net)]), False


def main(argv=None):
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets",
                        default="classif,hastie,mixed_dev,friedman3,shapes")
    parser.add_argument("--budget", type=float, default=40.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    pairs = []
    print("| dataset | trial | segments (kept, cycle) | old | new |")
    print("| --- | ---: | --- | ---: | ---: |")
    for name in args.datasets.split(","):
        for trial_id, segments, old, new in compare(name, args.seed, args.budget):
            pairs.append((old, new))
            print(f"| {name} | {trial_id} | {segments} | {old:.4f} | {new:.4f} |",
                  flush=True)
    if pairs:
        old, new = np.array(pairs).T
        print(f"\n{len(pairs)} pairs: mean old {old.mean():.4f}, new {new.mean():.4f}; "
              f"new better in {int((new > old).sum())}, worse in "
              f"{int((new < old).sum())}")
    return pairs


if __name__ == "__main__":
    main()
