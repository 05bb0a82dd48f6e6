"""Portfolio selection: pick the known-good configs skautodl tries first.

One portfolio per tabular family (``mlp``, ``embed``, ``ensemble_mlp``),
chosen on the development suite only (``benchmarks/devsuite.py``): the data
sets the quality benchmark scores (``benchmarks/quality.py``, its test
suite) are never used here.

Every candidate config below is first adapted to the task's search space
(:func:`skautodl.search.portfolio.adapt`, as a search does with a portfolio
entry: ``criterion__label_smoothing`` is dropped for regression, values
outside the space would fall back to the defaults and are reported), then
trained with :func:`skautodl.training.trial.run_trial` on one holdout split
of each data set, exactly as a search trial would be
(``make_splits(..., validation_fraction=0.2, seed=0)``, the featurization
the config asks for from a :class:`~skautodl.data.featurize.FeatureStore`;
AdamW, the config's schedule and early stopping on the validation part), and
scored on that validation part with accuracy (classification) or R^2
(regression). Each candidate is trained with the training seeds 0 and 1
(``--seeds``) and its scores are averaged; a failure on either seed counts as
a failure.

Data sets
---------
The tabular sets of the development suite: iris, classif, hastie
(classification), autompg, friedman2, friedman3 and mixed_dev (regression;
mixed_dev is a pandas frame with string columns and missing values). Data
sets with more than ``--max-rows`` rows (default 1000) are subsampled
(stratified for classes, ``random_state=0``) to keep the run short.

Candidates
----------
Per family: the family defaults first (``c00``, ``e00``, ``m00``), then
variations, then configs after published tuned defaults, reimplemented in
skautodl's families (see docs/benchmarks.md, "Portfolio selection"):

* ``r*`` / ``e*`` RealMLP-TD-like (Holzmueller et al., NeurIPS 2024): 3 x 256,
  parametric SELU or Mish (``pselu`` / ``pmish``), dropout 0.15, batch 256,
  robust scaling with smooth clipping (``featurize__numeric_scaling=
  "robust"``), label smoothing 0.1, and in the embed family PBLD numeric
  embeddings (``module__numeric_embedding="pbld"``, 16 frequencies, width 4);
* ``m*`` TabM-D-like (Gorishniy et al., ICLR 2025): the BatchEnsemble MLP with
  k = 32, 3 x 512, dropout 0.1, lr 2e-3, weight decay 3e-4, batch 256,
  quantile scaling.

Selection
---------
1. Scores are normalized per data set over all candidates of all families:
   ``(score - min) / (max - min)`` (1 for everyone when all are equal, 0 for
   a failed trial).
2. Per family, greedy portfolio construction (Auto-sklearn 2.0, AutoGluon's
   zero-shot portfolios) over that family's candidates: first the candidate
   with the best mean normalized score, then repeatedly the candidate that
   most raises the mean over data sets of the portfolio's best normalized
   score per data set (ties: the higher mean normalized score), until
   ``--size`` picks or no candidate helps.
3. The portfolio skautodl ships for a family starts with its defaults
   (which tests and the common sklearn checks rely on running first),
   followed by the greedy picks other than the defaults, ``--size`` configs
   in all.

Caveats: one split per data set and two training seeds; iris has 30
validation rows, so one sample moves accuracy by 3 % and min-max
normalization magnifies such differences (the script prints the seed noise
relative to the spread between candidates). The chosen configs are
reasonable starting points, not proven optima.

Usage::

    python benchmarks/portfolio_selection.py            # full: ~1.5 h on 2 busy cores
    python benchmarks/portfolio_selection.py --max-rows 600 --seeds 1  # ~28 min
    python benchmarks/portfolio_selection.py --quick    # smoke run, a few minutes
    python benchmarks/portfolio_selection.py --families mlp --seeds 1
    python benchmarks/portfolio_selection.py --datasets iris autompg \\
        --candidates c00 r01 e00 m00

Trials run one at a time with one torch thread (``--threads``): on a shared
2-core machine two threads were >10x slower per trial under load. The load
average is printed with the timings.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

#: the tabular data sets of the development suite (devsuite.DEV_DATASETS
#: without the images)
DATASETS = ("iris", "autompg", "friedman2", "friedman3", "classif", "hastie",
            "mixed_dev")
QUICK_DATASETS = ("iris", "friedman3", "mixed_dev")  # no mlxtend needed
QUICK_MAX_EPOCHS = 10
QUICK_MAX_ROWS = 300
VALIDATION_FRACTION = 0.2
RANDOM_STATE = 0
FAMILIES = ("mlp", "embed", "ensemble_mlp")
#: portfolio size per family, defaults included
SIZES = {"mlp": 5, "embed": 4, "ensemble_mlp": 3}

SCALING = "featurize__numeric_scaling"
LS = "criterion__label_smoothing"


def _c(n_layers, n_units, dropout, norm, activation, lr, weight_decay, batch_size,
       max_epochs, **extra):
    return {
        "module__n_layers": n_layers, "module__n_units": n_units,
        "module__dropout": dropout, "module__norm": norm,
        "module__activation": activation, "lr": lr,
        "optimizer__weight_decay": weight_decay, "batch_size": batch_size,
        "max_epochs": max_epochs, **extra,
    }


def _e(embedding, d_embedding, n_frequencies, frequency_scale, trunk, *trunk_args,
       **extra):
    return {
        "module__numeric_embedding": embedding, "module__d_embedding": d_embedding,
        "module__n_frequencies": n_frequencies,
        "module__frequency_scale": frequency_scale, "module__trunk": trunk,
        **_c(*trunk_args, **extra),
    }


def _m(k, n_layers, n_units, dropout, activation, lr, weight_decay, batch_size,
       max_epochs, **extra):
    return {
        "module__k": k, "module__n_layers": n_layers, "module__n_units": n_units,
        "module__dropout": dropout, "module__activation": activation, "lr": lr,
        "optimizer__weight_decay": weight_decay, "batch_size": batch_size,
        "max_epochs": max_epochs, **extra,
    }


#: RealMLP-TD's training recipe as far as skautodl's families express it
#: (robust scaling + smooth clip, label smoothing 0.1; its lr 0.04 under the
#: NTK parametrization is about 0.04 / sqrt(256) = 2.5e-3 per weight here)
_TD = {SCALING: "robust", LS: 0.1}

#: the candidates, written out per family: the first of each is the family
#: defaults (its DEFAULTS plus space.TRAINING_DEFAULTS)
CANDIDATES = {
    "mlp": {
        #        layers units drop  norm     act     lr     wd    batch epochs
        "c00": _c(2, 256, 0.1, "none", "relu", 1e-3, 1e-4, 64, 60),
        "c01": _c(1, 512, 0.1, "none", "relu", 2e-3, 1e-4, 64, 60),
        "c02": _c(3, 256, 0.2, "batch", "relu", 1e-3, 1e-4, 128, 80),
        "c03": _c(2, 512, 0.3, "layer", "gelu", 5e-4, 1e-2, 64, 100),
        "c04": _c(2, 128, 0.0, "none", "silu", 3e-3, 1e-5, 32, 40),
        "c05": _c(3, 512, 0.2, "layer", "silu", 5e-4, 1e-3, 128, 100),
        "c06": _c(2, 256, 0.1, "batch", "gelu", 2e-3, 1e-3, 128, 60),
        "c07": _c(1, 256, 0.0, "none", "relu", 5e-3, 1e-4, 256, 60),
        "c08": _c(3, 128, 0.1, "layer", "relu", 1e-3, 1e-5, 32, 60),
        "c09": _c(2, 256, 0.3, "none", "gelu", 1e-3, 1e-2, 64, 100),
        "c10": _c(2, 512, 0.0, "batch", "silu", 5e-3, 1e-4, 256, 40),
        "c11": _c(1, 128, 0.2, "layer", "gelu", 3e-3, 1e-3, 64, 80),
        "c12": _c(3, 256, 0.0, "none", "silu", 5e-4, 1e-5, 32, 40),
        "c13": _c(2, 128, 0.2, "batch", "relu", 3e-3, 1e-2, 128, 100),
        "c14": _c(2, 256, 0.1, "layer", "relu", 2e-3, 1e-4, 256, 80),
        "c15": _c(1, 512, 0.3, "batch", "gelu", 1e-3, 1e-3, 32, 60),
        # RealMLP-TD-like: parametric SELU (its classification default) or
        # Mish (its regression default); weight decay ~0 (the space's
        # minimum) or 1e-2
        "r01": _c(3, 256, 0.15, "none", "pselu", 2.5e-3, 1e-6, 256, 100, **_TD),
        "r02": _c(3, 256, 0.15, "none", "pmish", 2.5e-3, 1e-6, 256, 100, **_TD),
        "r03": _c(3, 256, 0.15, "none", "pselu", 2.5e-3, 1e-2, 256, 100, **_TD),
        "r04": _c(3, 256, 0.15, "none", "pmish", 1e-3, 1e-2, 256, 100, **_TD),
        # r02 and r04 with RealMLP-TD's coslog4 learning-rate schedule
        "r05": _c(3, 256, 0.15, "none", "pmish", 2.5e-3, 1e-6, 256, 100, **_TD,
                  lr_schedule="coslog4"),
        "r06": _c(3, 256, 0.15, "none", "pmish", 1e-3, 1e-2, 256, 100, **_TD,
                  lr_schedule="coslog4"),
    },
    "embed": {
        #        emb        d   freq  scale trunk  | layers units drop norm act
        #                                            lr wd batch epochs
        "e00": _e("periodic", 16, 16, 0.1, "mlp", 2, 256, 0.1, "none", "relu",
                  1e-3, 1e-4, 64, 60),
        "e01": _e("pwl", 8, 16, 0.1, "mlp", 2, 256, 0.1, "none", "relu",
                  1e-3, 1e-4, 128, 60),
        "e02": _e("periodic", 8, 16, 0.1, "resnet", 2, 128, 0.1, "batch", "relu",
                  1e-3, 1e-4, 128, 60),
        "e03": _e("periodic", 16, 32, 0.3, "mlp", 2, 128, 0.2, "none", "silu",
                  2e-3, 1e-3, 128, 80, **{SCALING: "quantile"}),
        # RealMLP-TD-like: PBLD embeddings of width 4 from 16 frequencies
        "e04": _e("pbld", 4, 16, 0.1, "mlp", 3, 256, 0.15, "none", "pselu",
                  2.5e-3, 1e-6, 256, 100, **_TD),
        "e05": _e("pbld", 4, 16, 0.1, "mlp", 3, 256, 0.15, "none", "pmish",
                  2.5e-3, 1e-6, 256, 100, **_TD),
        "e06": _e("pbld", 8, 16, 0.1, "mlp", 3, 256, 0.15, "none", "pselu",
                  1e-3, 1e-2, 256, 100, **_TD),
        # e05 with RealMLP-TD's coslog4 learning-rate schedule
        "e07": _e("pbld", 4, 16, 0.1, "mlp", 3, 256, 0.15, "none", "pmish",
                  2.5e-3, 1e-6, 256, 100, **_TD, lr_schedule="coslog4"),
    },
    "ensemble_mlp": {
        #        k  layers units drop act     lr     wd    batch epochs
        "m00": _m(8, 2, 256, 0.1, "relu", 1e-3, 1e-4, 64, 60),
        # TabM-D-like: TabM's defaults (quantile scaling, as TabM's
        # preprocessing)
        "m01": _m(32, 3, 512, 0.1, "relu", 2e-3, 3e-4, 256, 100,
                  **{SCALING: "quantile"}),
        "m02": _m(16, 2, 256, 0.15, "pselu", 2e-3, 3e-4, 256, 100, **_TD),
        "m03": _m(8, 3, 256, 0.2, "silu", 1e-3, 1e-3, 128, 80),
    },
}
#: the family defaults' candidate of each family
DEFAULTS = {"mlp": "c00", "embed": "e00", "ensemble_mlp": "m00"}
#: the names of the portfolio constants in skautodl/search/portfolio.py
CONSTANTS = {"mlp": "MLP_PORTFOLIO", "embed": "EMBED_PORTFOLIO",
             "ensemble_mlp": "ENSEMBLE_MLP_PORTFOLIO"}


def _benchmarks_on_path():
    """Make ``devsuite`` importable when this file is imported as a module."""
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)


# ---------------------------------------------------------------------- data
def subsample(X, y, max_rows, stratify):
    """``(X, y)`` cut to ``max_rows`` rows when larger (``random_state=0``,
    stratified by class when ``stratify``). Shared with
    ``cnn_portfolio_selection.py``."""
    from sklearn.model_selection import train_test_split

    if len(y) > max_rows:
        X, _, y, _ = train_test_split(
            X, y, train_size=max_rows, random_state=RANDOM_STATE,
            stratify=y if stratify else None)
    return X, y


def load(name, max_rows):
    """``(X, y, classification)`` for dev data set ``name``, at most ``max_rows``."""
    _benchmarks_on_path()
    from devsuite import DEV_DATASETS, load_dev

    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose from {DATASETS}")
    X, y = load_dev(name)
    classification = DEV_DATASETS[name][0] == "classification"
    X, y = subsample(X, y, max_rows, classification)
    return X, np.asarray(y), classification


def holdout_task(X, y, classification):
    """Target, task, scorer and holdout split of ``(X, y)``, as ``fit`` makes
    them: ``(y, y_fit, classes, task, scorer, splits)``.

    Classes are encoded as integers (``y_fit``) and scored with accuracy; a
    regression target becomes float64 and is scored with R^2. The split is
    ``make_splits(..., validation_fraction=0.2, seed=0)``. Shared with
    ``cnn_portfolio_selection.py``.
    """
    from sklearn.metrics import get_scorer
    from sklearn.preprocessing import LabelEncoder

    from skautodl.data.splits import make_splits
    from skautodl.data.validation import detect_task

    if classification:
        encoder = LabelEncoder()
        y_fit = encoder.fit_transform(y).astype(np.int64)
        classes = encoder.classes_
        task = detect_task(y, classifier=True, n_classes=len(classes))
        scorer = get_scorer("accuracy")
    else:
        y = y.astype(np.float64)
        y_fit = y
        classes = None
        task = detect_task(y, classifier=False)
        scorer = get_scorer("r2")
    splits = make_splits(X, y, cv=None, validation_fraction=VALIDATION_FRACTION,
                         classification=classification, seed=RANDOM_STATE)
    return y, y_fit, classes, task, scorer, splits


def prepare(name, max_rows):
    """Features (built per featurization on demand), task, scorer and
    classes, as ``fit`` makes them."""
    from skautodl.data.featurize import FeatureStore

    X, y, classification = load(name, max_rows)
    y, y_fit, classes, task, scorer, splits = holdout_task(X, y, classification)
    features = FeatureStore(X, y_fit, y, splits, task)
    return {"features": features, "task": task, "scorer": scorer,
            "classes": classes, "metric": "accuracy" if classification else "r2",
            "n": len(y)}


def trial_config(family, entry, task):
    """``entry`` adapted to ``task``'s space of ``family`` (as the portfolio
    runs it), and the entry's keys the space did not take."""
    from skautodl.networks.registry import FAMILIES as REGISTRY
    from skautodl.search.portfolio import adapt
    from skautodl.search.space import SearchSpace
    from skautodl.training.net import routed_parameters

    families = [REGISTRY[family]]
    space = SearchSpace.for_task(families, task,
                                 routed=routed_parameters(families))
    config = {"family": family, **adapt(space, family, entry)}
    dropped = sorted(k for k, v in entry.items() if config.get(k) != v)
    return config, dropped


# ---------------------------------------------------------------------- runs
def start_run(threads):
    """Set ``threads`` torch threads and silence UserWarnings."""
    import torch

    torch.set_num_threads(threads)
    warnings.filterwarnings("ignore", category=UserWarning)


def load_average():
    """The load average as printed: ``"1.00 0.50 0.25"``."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_options(args, datasets, quick_datasets, max_rows, quick_max_rows):
    """``(datasets, max_rows, seeds)`` of a run: the options, else the
    defaults (those of ``--quick`` with it; seeds 0 and 1, quick 0)."""
    datasets = args.datasets or list(quick_datasets if args.quick else datasets)
    max_rows = args.max_rows or (quick_max_rows if args.quick else max_rows)
    seeds = list(range(args.seeds or (1 if args.quick else 2)))
    return datasets, max_rows, seeds


def run_seeds(name, config, data, prep, seeds):
    """Train ``config`` on ``data`` once per training seed, as a search trial.

    Prints each failure, then `` <name>=<mean score>``. Returns ``(scores,
    seconds, results)``: per seed the validation score (nan when the trial
    failed), the seconds ``run_trial`` took and its ``TrialResult``.
    """
    from skautodl.training.trial import run_trial

    scores = np.full(len(seeds), np.nan)
    seconds = np.zeros(len(seeds))
    results = []
    for k, seed in enumerate(seeds):
        t0 = time.perf_counter()
        result = run_trial(config, data, prep["task"], scorer=prep["scorer"],
                           classes=prep["classes"], device="cpu", seed=seed)
        seconds[k] = time.perf_counter() - t0
        scores[k] = result.score if result.ok else np.nan
        results.append(result)
        if not result.ok:
            print(f"\n  {name} (seed {seed}) failed: {result.error}", end="")
    print(f" {name}={scores.mean():.3f}", end="", flush=True)
    return scores, seconds, results


# ---------------------------------------------------------------------- selection
def normalize(scores):
    """Per data set (column) ``(s - min) / (max - min)``; nan (failed) -> 0."""
    norm = np.zeros_like(scores)
    for j in range(scores.shape[1]):
        col = scores[:, j]
        ok = np.isfinite(col)
        if not ok.any():
            continue
        lo, hi = col[ok].min(), col[ok].max()
        norm[ok, j] = (col[ok] - lo) / (hi - lo) if hi > lo else 1.0
    return norm


def greedy_portfolio(norm, size):
    """Indices chosen greedily to maximize the mean per-data-set best.

    Returns ``[(index, gain_per_dataset), ...]``; the first pick is the row
    with the best mean (the best of an empty portfolio counts as 0, the
    normalized minimum). Stops at ``size`` picks or when nothing helps.
    """
    best = np.zeros(norm.shape[1])
    mean = norm.mean(axis=1)
    chosen = []
    while len(chosen) < size:
        gains = np.maximum(norm, best).mean(axis=1) - best.mean()
        order = sorted((i for i in range(len(norm)) if i not in
                        [c for c, _ in chosen]),
                       key=lambda i: (-gains[i], -mean[i], i))
        if not order:
            break
        pick = order[0]
        if chosen and gains[pick] <= 1e-12:
            break
        new_best = np.maximum(best, norm[pick])
        chosen.append((pick, new_best - best))
        best = new_best
    return chosen


def choose_portfolio(norm, rows, names, datasets, labels, *, size, default,
                     prefix, title, fill=False):
    """Greedy picks among ``rows`` of ``norm``, then the portfolio: ``default``
    first, the other picks, and (``fill``) the other rows by mean normalized
    score; at most ``size``. Prints both; returns the portfolio's row indices.

    ``prefix`` starts the picks' header, ``title`` is the portfolio's and
    ``labels`` describe the configs, one a row.
    """
    mean = norm.mean(axis=1)
    picks = [(rows[i], gain) for i, gain in greedy_portfolio(norm[rows], size)]
    print(f"\n{prefix}greedy picks (mean normalized score of the config; gain in "
          "the per-data-set best of the portfolio):")
    best = np.zeros(len(datasets))
    for k, (i, gain) in enumerate(picks):
        best = best + gain
        gains = ", ".join(f"{datasets[j]} +{g:.2f}" for j, g in enumerate(gain)
                          if g > 1e-12) or "-"
        print(f"  {k + 1}. {names[i]}  mean {mean[i]:.3f}  portfolio best-of "
              f"mean {best.mean():.3f}  gains: {gains}")
    first = [names.index(default)] if default in names else []
    final = first + [i for i, _ in picks if i not in first]
    if fill:
        # when the greedy construction stops early (one candidate is best on
        # every data set), the remaining places go by mean normalized score
        final += [rows[i] for i in np.argsort(-mean[rows], kind="stable")
                  if rows[i] not in final]
    final = [int(i) for i in final[:size]]
    best_of = norm[final].max(axis=0)
    print(title)
    print(f"  {'cand':<5} {'mean':>6}  config")
    for i in final:
        print(f"  {names[i]:<5} {mean[i]:6.3f}  {labels[i]}")
    print("  best-of-portfolio per data set: " + ", ".join(
        f"{d} {b:.2f}" for d, b in zip(datasets, best_of, strict=True)))
    if first:
        print(f"  mean best-of-portfolio {best_of.mean():.3f} vs {default} "
              f"alone {norm[first[0]].mean():.3f}")
    return final


# ---------------------------------------------------------------------- report
_SHORT = {"module__numeric_embedding": "", "module__d_embedding": "d",
          "module__n_frequencies": "nf", "module__frequency_scale": "fs",
          "module__trunk": "", "module__k": "k"}


def _fmt_config(c):
    parts = [f"{_SHORT[k]}{c[k]}" for k in _SHORT if k in c]
    parts.append(f"{c['module__n_layers']}x{c['module__n_units']} "
                 f"drop={c['module__dropout']:.2f}")
    if "module__norm" in c:
        parts.append(f"{c['module__norm']:<5}")
    parts.append(f"{c['module__activation']:<5} lr={c['lr']:.1e} "
                 f"wd={c['optimizer__weight_decay']:.0e} bs={c['batch_size']} "
                 f"ep={c['max_epochs']}")
    if SCALING in c:
        parts.append(c[SCALING])
    if LS in c:
        parts.append(f"ls={c[LS]}")
    return " ".join(parts)


def score_table(names, columns, values, fmt="{:6.3f}"):
    """Lines of a table: a row per candidate, a column per ``columns``."""
    width = max(6, *(len(c) for c in columns))
    lines = ["cand  " + " ".join(f"{c:>{width}}" for c in columns)]
    for i, name in enumerate(names):
        row = " ".join(f"{fmt.format(v) if np.isfinite(v) else 'failed':>{width}}"
                       for v in values[i])
        lines.append(f"{name:<5} {row}")
    return lines


def report_normalized(names, datasets, scores, runs, over=""):
    """Print the normalized scores (``over`` ends the header) and the seed
    noise; returns ``(norm, mean)``: the normalized scores and their means
    over the data sets."""
    norm = normalize(scores)
    mean = norm.mean(axis=1)
    print(f"\nnormalized scores ((score - min) / (max - min) per data set{over}):")
    print("\n".join(score_table(names, [*datasets, "mean"],
                                np.column_stack([norm, mean]))))
    print(f"(last column: mean over the {len(datasets)} data sets)")
    if runs.shape[2] > 1:
        spread = np.nanmax(scores, axis=0) - np.nanmin(scores, axis=0)
        noise = np.nanmean(runs.std(axis=2), axis=0)
        print("seed noise (mean over candidates of the std over seeds) relative to "
              "the spread between candidates: " + ", ".join(
                  f"{d} {n / s:.2f}" if s > 0 else f"{d} -"
                  for d, n, s in zip(datasets, noise, spread, strict=True)))
    return norm, mean


def print_constant(constant, entries):
    """Print ``constant = [...]`` of ``(name, entry)`` pairs, as Python."""
    print(f"\n{constant} = [")
    for name, entry in entries:
        print(f"    {entry!r},  # {name}")
    print("]")


def _candidates(families, only=None):
    """``[(family, name, entry)]`` of the chosen families (and names)."""
    out = [(f, n, e) for f in families for n, e in CANDIDATES[f].items()
           if only is None or n in only]
    if only is not None:
        unknown = set(only) - {n for _, n, _ in out}
        if unknown:
            raise ValueError(f"unknown candidates {sorted(unknown)} for the "
                             f"families {list(families)}")
    return out


def selection_parser(doc, *, quick_help, datasets, candidates, max_rows_help,
                     epochs, size, size_help, families=None):
    """The options both selection scripts take, in this order: ``--quick``,
    ``--datasets``, ``--families`` (with ``families``), ``--candidates``
    (``candidates``: its extra keywords), ``--max-rows``, the epoch option
    (``epochs``: ``(flag, help)``), ``--size`` (default ``size``),
    ``--seeds`` and ``--threads``."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--datasets", nargs="+", choices=datasets, default=None)
    if families is not None:
        parser.add_argument("--families", nargs="+", choices=families,
                            default=list(families))
    parser.add_argument("--candidates", nargs="+", default=None, **candidates)
    parser.add_argument("--max-rows", type=int, default=None, help=max_rows_help)
    flag, epochs_help = epochs
    parser.add_argument(flag, type=int, default=None, help=epochs_help)
    parser.add_argument("--size", type=int, default=size, help=size_help)
    parser.add_argument("--seeds", type=int, default=None,
                        help="training seeds per candidate and data set, scores "
                             "averaged (default 2, quick 1)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    return parser


def parse_args(argv=None):
    parser = selection_parser(
        __doc__, quick_help=f"{len(QUICK_DATASETS)} data sets of <= "
                            f"{QUICK_MAX_ROWS} rows, <= {QUICK_MAX_EPOCHS} "
                            "epochs, one seed",
        datasets=DATASETS, families=FAMILIES,
        candidates={"help": "only these candidates (names as c00, e04, m01)"},
        max_rows_help="subsample larger data sets (default 1000, quick 300)",
        epochs=("--max-epochs", "cap every candidate's max_epochs"),
        size=None, size_help=f"portfolio size per family, defaults included "
                             f"(default {SIZES})")
    return parser.parse_args(argv)


def main(argv=None):
    """Run the selection; returns a dict of what it measured and chose."""
    args = parse_args(argv)

    from skautodl.training.trial import feature_key

    start_run(args.threads)
    cands = _candidates(args.families, args.candidates)
    names = [n for _, n, _ in cands]
    datasets, max_rows, seeds = run_options(args, DATASETS, QUICK_DATASETS, 1000,
                                            QUICK_MAX_ROWS)
    max_epochs = args.max_epochs or (QUICK_MAX_EPOCHS if args.quick else None)

    t_start = time.perf_counter()
    print(f"portfolio selection (dev suite): {len(names)} candidates x "
          f"{len(datasets)} data sets x {len(seeds)} seeds, max_rows={max_rows}, "
          f"max_epochs cap={max_epochs}, torch threads={args.threads}, "
          f"cores={os.cpu_count()}, load average {load_average()}")
    print("\ncandidates:")
    for family, name, entry in cands:
        print(f"  {name}  {family:<12} {_fmt_config(entry)}")

    runs = np.full((len(names), len(datasets), len(seeds)), np.nan)
    times = np.zeros_like(runs)
    for j, ds in enumerate(datasets):
        prep = prepare(ds, max_rows)
        print(f"\n{ds} ({prep['n']} rows, {prep['metric']}):", end="", flush=True)
        for i, (family, name, entry) in enumerate(cands):
            config, dropped = trial_config(family, entry, prep["task"])
            dropped = [k for k in dropped
                       if not (k == LS and not prep["task"].is_classification)]
            if dropped:
                print(f"\n  {name}: outside the space, ran with the defaults: "
                      f"{dropped}", end="")
            if max_epochs is not None:
                config["max_epochs"] = min(config["max_epochs"], max_epochs)
            data = prep["features"].get(feature_key(prep["task"], config))
            runs[i, j], times[i, j], _ = run_seeds(name, config, data, prep, seeds)
        print()
    # a candidate failing on any seed counts as failed on that data set
    scores = runs.mean(axis=2)

    print("\nraw validation scores (accuracy / r2):")
    print("\n".join(score_table(names, datasets, scores)))
    norm, mean = report_normalized(names, datasets, scores, runs,
                                   over=", over all candidates")

    portfolios = {}
    labels = [_fmt_config(entry) for _, _, entry in cands]
    for family in args.families:
        rows = [i for i, (f, _, _) in enumerate(cands) if f == family]
        if not rows:
            continue
        default = DEFAULTS[family]
        final = choose_portfolio(
            norm, rows, names, datasets, labels, size=args.size or SIZES[family],
            default=default, prefix=f"{family}: ",
            title=f"{family} portfolio ({default} first, then the greedy picks):")
        portfolios[family] = [names[i] for i in final]

    total = time.perf_counter() - t_start
    slowest = np.unravel_index(times.argmax(), times.shape)
    print(f"\nseconds per trial: mean {times.mean():.2f}, median "
          f"{np.median(times):.2f}, max {times.max():.2f} ({names[slowest[0]]} on "
          f"{datasets[slowest[1]]}); per data set: " + ", ".join(
              f"{d} {t:.2f}" for d, t in zip(datasets, times.mean(axis=(0, 2)),
                                            strict=True)))
    print("seconds per trial per family: " + ", ".join(
        f"{f} {times[[i for i, c in enumerate(cands) if c[0] == f]].mean():.2f}"
        for f in portfolios))
    print(f"total {total:.0f} s for {times.size} trials; load average at the end "
          f"{load_average()}")
    for family, chosen in portfolios.items():
        print_constant(CONSTANTS[family],
                       [(name, CANDIDATES[family][name]) for name in chosen])
    return {"datasets": datasets, "names": names, "scores": norm, "raw": scores,
            "portfolios": portfolios}


if __name__ == "__main__":
    main()
    sys.exit(0)
