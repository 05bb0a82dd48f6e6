"""CNN portfolio selection: pick the known-good CNN configs on development data.

The CNN counterpart of ``benchmarks/portfolio_selection.py``, on generated
images only: no data set that ``benchmarks/quality.py`` scores (MNIST,
scikit-learn's digits) is used, so the portfolio is not tuned on test data.

Every candidate config below is adapted to the task's search space as the
portfolio itself is (:func:`skautodl.search.portfolio.adapt`: the stem is
dropped for images under 16 pixels, values outside the space fall back to
the defaults), then trained with :func:`skautodl.training.trial.run_trial`
on one holdout split of each data set, exactly as a search trial would be
(``make_splits(..., validation_fraction=0.2, seed=0)``, per-channel image
standardization, AdamW, a cosine schedule) but for a FIXED number of epochs
(``--epochs``, default 20, for every candidate: no time limit, since
timings on shared cores are noisy, and early stopping's patience set to the
epoch count so that every epoch runs; as in a trial, the weights of the
epoch with the best validation loss are kept). It is scored on the
validation part with accuracy. Each candidate is trained with the training
seeds 0 and 1 (``--seeds``) and its scores are averaged; a failure on
either seed counts as a failure. Seconds per epoch are recorded for
information only (they do not enter the selection).

Data sets (all generated, none scored by the quality benchmark)
---------------------------------------------------------------
``shapes``
    The dev suite's set (:func:`benchmarks.devsuite.make_shapes`): 2000
    16x16 grayscale images of 8 shapes, noise 0.15, seed 1.
``shapes28``
    ``make_shapes(n_samples=2000, size=28, random_state=2, noise=0.35)``:
    larger images (the stem downsamples them, as MNIST-sized input) with
    more noise.
``textures``
    :func:`make_textures`: 2000 20x20 images of 6 low-contrast textures
    (stripes in four orientations, checkerboard, dot grid) under noise 0.5,
    seed 3.

Data sets with more than ``--max-rows`` rows (default 1500) are subsampled
(stratified, ``random_state=0``) to keep the run short.

Selection
---------
As in ``portfolio_selection.py``: scores are normalized per data set over
the candidates (``(score - min) / (max - min)``; 0 for a failed trial), then
greedy portfolio construction picks the candidate with the best mean
normalized score and repeatedly the one that most raises the mean over data
sets of the portfolio's best normalized score, until ``--size`` picks or no
candidate helps. The portfolio skautodl ships starts with the family
defaults (``k00``, which tests rely on running first), followed by the
greedy picks other than ``k00``; if the greedy construction stops before
``--size`` picks (a candidate that is best on every data set leaves nothing
to gain), the remaining places go to the other candidates in order of mean
normalized score.

Caveats: one split per data set, two training seeds, 300 validation
images (one image moves accuracy by 0.33 %); generated images are
easier and more uniform than natural ones; all on a CPU with a fixed epoch
count, so a config that is slow per epoch is not penalized here although a
time-limited ``fit`` on a CPU would run fewer of its epochs (see the
seconds per epoch), while on a GPU the wider configs cost little more.

Usage::

    python benchmarks/cnn_portfolio_selection.py    # full: 55 min, load 6
    python benchmarks/cnn_portfolio_selection.py --quick    # ~30 s smoke run
    python benchmarks/cnn_portfolio_selection.py --datasets shapes --seeds 1

Trials run one at a time with one torch thread (``--threads``). The load
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

FAMILY = "cnn"
DATASETS = ("shapes", "shapes28", "textures")
QUICK_DATASETS = ("shapes",)
QUICK_CANDIDATES = ("k00", "k01", "k05")
QUICK_EPOCHS = 5
QUICK_MAX_ROWS = 400
DEFAULT_EPOCHS = 20
DEFAULT_MAX_ROWS = 1500
VALIDATION_FRACTION = 0.2
RANDOM_STATE = 0


def _k(n_stages, width, kernel, stem, dropout, lr, weight_decay, batch_size,
       max_epochs, pooling="max", **extra):
    return {
        "module__n_stages": n_stages, "module__width": width,
        "module__kernel_size": kernel, "module__pooling": pooling,
        "module__dropout": dropout, "module__stem": stem, "lr": lr,
        "optimizer__weight_decay": weight_decay, "batch_size": batch_size,
        "max_epochs": max_epochs, **extra,
    }


LS = "criterion__label_smoothing"
SHIFT = "augment__shift"
MIXUP = "augment__mixup_alpha"

#: the candidates: k00 is the family defaults (cnn.DEFAULTS plus
#: space.TRAINING_DEFAULTS), k01-k03 the portfolio chosen on 2026-11-29, the
#: others vary width, kernel, stem, pooling, dropout, learning rate, weight
#: decay, batch size, label smoothing, 1-pixel shifts and mixup.
#: ``max_epochs`` is what the portfolio entry carries (used by ``fit``
#: without fidelity); this script trains every candidate for ``--epochs``.
CANDIDATES = {
    #        stages width k stem  drop  lr    wd    batch epochs  extras
    "k00": _k(3, 16, 3, "pool", 0.1, 1e-3, 1e-4, 64, 60),
    "k01": _k(3, 16, 5, "stride", 0.1, 2e-3, 1e-4, 128, 40, **{LS: 0.1}),
    "k02": _k(3, 32, 3, "pool", 0.1, 2e-3, 1e-3, 128, 60, **{SHIFT: 1}),
    "k03": _k(3, 64, 3, "pool", 0.2, 1e-3, 5e-4, 128, 80,
              **{SHIFT: 1, MIXUP: 0.2}),
    "k04": _k(3, 32, 3, "pool", 0.1, 3e-3, 1e-4, 128, 60),
    "k05": _k(3, 16, 3, "pool", 0.2, 2e-3, 1e-3, 64, 60, **{LS: 0.1, SHIFT: 1}),
    "k06": _k(3, 16, 3, "stride", 0.0, 3e-3, 1e-4, 64, 40),
    "k07": _k(3, 32, 5, "stride", 0.2, 1e-3, 1e-3, 128, 60, **{MIXUP: 0.2}),
    "k08": _k(2, 32, 3, "pool", 0.1, 2e-3, 1e-4, 64, 60, pooling="avg"),
    "k09": _k(3, 16, 5, "pool", 0.3, 1e-3, 1e-4, 64, 60, **{LS: 0.1, SHIFT: 1}),
    "k10": _k(3, 32, 3, "pool", 0.2, 1e-3, 1e-2, 64, 60, **{LS: 0.1, SHIFT: 1}),
    "k11": _k(3, 16, 3, "pool", 0.1, 3e-3, 1e-2, 128, 60, **{MIXUP: 0.2}),
}
DEFAULT = "k00"


# ---------------------------------------------------------------------- data
def _benchmarks_on_path():
    """Make ``devsuite`` and ``portfolio_selection`` importable."""
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)


def make_textures(n_samples=2000, size=20, random_state=3, noise=0.5):
    """Generated grayscale images of 6 textures (a dev image set).

    Classes: 0 horizontal stripes, 1 vertical stripes, 2 and 3 diagonal
    stripes (both directions), 4 checkerboard, 5 grid of dots. Each image
    has a random period (3 to 6 pixels), phase and contrast (0.2 to 0.6),
    plus Gaussian pixel noise of scale ``noise``, clipped to [0, 1].

    Returns
    -------
    X : ndarray of shape (n_samples, size, size), float32 in [0, 1]
    y : ndarray of shape (n_samples,)
    """
    rng = np.random.RandomState(random_state)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    X = np.zeros((n_samples, size, size), np.float32)
    y = rng.randint(0, 6, n_samples)
    for i, label in enumerate(y):
        period = rng.uniform(3.0, 6.0)
        py, px = rng.uniform(0, period, 2)
        wy, wx = 2 * np.pi * (yy + py) / period, 2 * np.pi * (xx + px) / period
        if label == 0:
            wave = np.sin(wy)
        elif label == 1:
            wave = np.sin(wx)
        elif label == 2:
            wave = np.sin((wy + wx) / np.sqrt(2))
        elif label == 3:
            wave = np.sin((wy - wx) / np.sqrt(2))
        elif label == 4:
            wave = np.sign(np.sin(wy) * np.sin(wx))
        else:
            wave = 2.0 * ((np.cos(wy) > 0.5) & (np.cos(wx) > 0.5)) - 1.0
        contrast = rng.uniform(0.2, 0.6)
        X[i] = 0.5 + 0.5 * contrast * wave
    X += noise * rng.randn(*X.shape).astype(np.float32)
    return np.clip(X, 0.0, 1.0), y


def load(name, max_rows):
    """``(X, y)`` of data set ``name`` as (n, H, W) images, at most ``max_rows``."""
    from sklearn.model_selection import train_test_split

    _benchmarks_on_path()
    from devsuite import make_shapes

    if name == "shapes":
        X, y = make_shapes()
    elif name == "shapes28":
        X, y = make_shapes(n_samples=2000, size=28, random_state=2, noise=0.35)
    elif name == "textures":
        X, y = make_textures()
    else:
        raise ValueError(f"unknown data set {name!r}; choose from {DATASETS}")
    if len(y) > max_rows:
        X, _, y, _ = train_test_split(X, y, train_size=max_rows,
                                      random_state=RANDOM_STATE, stratify=y)
    return X, np.asarray(y)


def prepare(name, max_rows):
    """Featurized holdout split, task, scorer, classes and space, as ``fit``
    makes them for an image classifier."""
    from dataclasses import replace

    from sklearn.metrics import get_scorer
    from sklearn.preprocessing import LabelEncoder

    from skautodl.data.featurize import ImageFeaturizer, prepare_splits
    from skautodl.data.splits import make_splits
    from skautodl.data.validation import detect_task
    from skautodl.networks.registry import get_family
    from skautodl.search.space import SearchSpace

    X, y = load(name, max_rows)
    shape = (1, *X.shape[1:])
    X = X.reshape(len(X), -1).astype(np.float32)
    encoder = LabelEncoder()
    y_fit = encoder.fit_transform(y).astype(np.int64)
    classes = encoder.classes_
    task = detect_task(y, classifier=True, n_classes=len(classes))
    task = replace(task, input_kind="image", image_shape=shape)
    splits = make_splits(X, y, cv=None, validation_fraction=VALIDATION_FRACTION,
                         classification=True, seed=RANDOM_STATE)
    data = prepare_splits(X, y_fit, y, splits, featurizer=ImageFeaturizer(shape))
    space = SearchSpace.for_task([get_family(FAMILY)], task)
    return {"data": data, "task": task, "scorer": get_scorer("accuracy"),
            "classes": classes, "space": space, "n": len(y), "shape": shape,
            "n_valid": len(splits[0][1])}


def trial_config(space, entry, epochs):
    """``entry`` adapted to ``space`` as the portfolio is, for ``epochs``
    epochs without early stopping."""
    from skautodl.search.portfolio import adapt

    config = {"family": FAMILY, **adapt(space, FAMILY, entry)}
    config["max_epochs"] = int(epochs)
    config["callbacks__early_stopping__patience"] = int(epochs)
    return config


# ---------------------------------------------------------------------- selection
def _selection():
    """``normalize`` and ``greedy_portfolio`` of the MLP's selection script."""
    _benchmarks_on_path()
    import portfolio_selection

    return portfolio_selection.normalize, portfolio_selection.greedy_portfolio


# ---------------------------------------------------------------------- report
def _fmt_config(c):
    extras = []
    if c.get(LS):
        extras.append(f"ls {c[LS]}")
    if c.get(SHIFT):
        extras.append(f"shift {c[SHIFT]}")
    if c.get(MIXUP):
        extras.append(f"mixup {c[MIXUP]}")
    arch = (f"{c['module__n_stages']}/{c['module__width']}/"
            f"{c['module__kernel_size']}/{c['module__stem']}"
            + ("/avg" if c["module__pooling"] == "avg" else ""))
    return (f"{arch:<15} drop={c['module__dropout']:.1f} lr={c['lr']:.0e} "
            f"wd={c['optimizer__weight_decay']:.0e} bs={c['batch_size']:<3} "
            f"{', '.join(extras) or '-'}")


def _table(names, columns, values, fmt="{:6.3f}"):
    width = max(6, *(len(c) for c in columns))
    lines = ["cand  " + " ".join(f"{c:>{width}}" for c in columns)]
    for i, name in enumerate(names):
        row = " ".join(f"{fmt.format(v) if np.isfinite(v) else 'failed':>{width}}"
                       for v in values[i])
        lines.append(f"{name:<5} {row}")
    return lines


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{', '.join(QUICK_CANDIDATES)} on "
                             f"{', '.join(QUICK_DATASETS)}, {QUICK_MAX_ROWS} "
                             f"rows, {QUICK_EPOCHS} epochs, 1 seed (~30 s)")
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=None)
    parser.add_argument("--candidates", nargs="+", choices=list(CANDIDATES),
                        default=None)
    parser.add_argument("--max-rows", type=int, default=None,
                        help=f"subsample larger data sets (default "
                             f"{DEFAULT_MAX_ROWS}, quick {QUICK_MAX_ROWS})")
    parser.add_argument("--epochs", type=int, default=None,
                        help=f"epochs of every candidate (default "
                             f"{DEFAULT_EPOCHS}, quick {QUICK_EPOCHS})")
    parser.add_argument("--size", type=int, default=4,
                        help="portfolio size, defaults included (default 4)")
    parser.add_argument("--seeds", type=int, default=None,
                        help="training seeds per candidate and data set, scores "
                             "averaged (default 2, quick 1)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)

    import torch

    from skautodl.training.trial import run_trial

    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=UserWarning)
    normalize, greedy_portfolio = _selection()
    names = list(args.candidates or (QUICK_CANDIDATES if args.quick else CANDIDATES))
    datasets = args.datasets or list(QUICK_DATASETS if args.quick else DATASETS)
    max_rows = args.max_rows or (QUICK_MAX_ROWS if args.quick else DEFAULT_MAX_ROWS)
    epochs = args.epochs or (QUICK_EPOCHS if args.quick else DEFAULT_EPOCHS)
    seeds = list(range(args.seeds or (1 if args.quick else 2)))

    load0 = os.getloadavg()
    t_start = time.perf_counter()
    print(f"CNN portfolio selection: {len(names)} candidates x {len(datasets)} "
          f"data sets x {len(seeds)} seeds, {epochs} epochs each, max_rows="
          f"{max_rows}, torch threads={args.threads}, cores={os.cpu_count()}, "
          f"load average {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}")
    print("\ncandidates (stages/width/kernel/stem):")
    for name in names:
        print(f"  {name}  {_fmt_config(CANDIDATES[name])}")

    runs = np.full((len(names), len(datasets), len(seeds)), np.nan)
    epoch_s = np.full_like(runs, np.nan)
    for j, ds in enumerate(datasets):
        prep = prepare(ds, max_rows)
        print(f"\n{ds} ({prep['n']} images {prep['shape']}, {prep['n_valid']} "
              f"validation, accuracy):", end="", flush=True)
        # a throwaway epoch first, so that one-time setup costs do not land
        # in the first candidate's seconds per epoch
        run_trial(trial_config(prep["space"], CANDIDATES[DEFAULT], 1), prep["data"],
                  prep["task"], scorer=prep["scorer"], classes=prep["classes"],
                  device="cpu", seed=0)
        for i, name in enumerate(names):
            config = trial_config(prep["space"], CANDIDATES[name], epochs)
            for k, seed in enumerate(seeds):
                result = run_trial(config, prep["data"], prep["task"],
                                   scorer=prep["scorer"], classes=prep["classes"],
                                   device="cpu", seed=seed)
                runs[i, j, k] = result.score if result.ok else np.nan
                if result.epochs_run:
                    epoch_s[i, j, k] = result.fit_time / result.epochs_run
                if not result.ok:
                    print(f"\n  {name} (seed {seed}) failed: {result.error}", end="")
            print(f" {name}={runs[i, j].mean():.3f}", end="", flush=True)
        print()
    # a candidate failing on any seed counts as failed on that data set
    scores = runs.mean(axis=2)
    seconds = np.nanmean(epoch_s, axis=2)

    norm = normalize(scores)
    mean = norm.mean(axis=1)
    print("\nvalidation accuracy (mean over seeds) and seconds per epoch "
          "(informational):")
    print("\n".join(_table(names, [*datasets, *(f"s/ep {d}" for d in datasets)],
                           np.column_stack([scores, seconds]))))
    print("\nnormalized scores ((score - min) / (max - min) per data set):")
    print("\n".join(_table(names, [*datasets, "mean"],
                           np.column_stack([norm, mean]))))
    print(f"(last column: mean over the {len(datasets)} data sets)")
    if len(seeds) > 1:
        spread = np.nanmax(scores, axis=0) - np.nanmin(scores, axis=0)
        noise = np.nanmean(runs.std(axis=2), axis=0)
        print("seed noise (mean over candidates of the std over seeds) relative to "
              "the spread between candidates: " + ", ".join(
                  f"{d} {n / s:.2f}" if s > 0 else f"{d} -"
                  for d, n, s in zip(datasets, noise, spread, strict=True)))

    picks = greedy_portfolio(norm, args.size)
    print("\ngreedy picks (mean normalized score of the config; gain in the "
          "per-data-set best of the portfolio):")
    best = np.zeros(len(datasets))
    for k, (i, gain) in enumerate(picks):
        best = best + gain
        gains = ", ".join(f"{datasets[j]} +{g:.2f}" for j, g in enumerate(gain)
                          if g > 1e-12) or "-"
        print(f"  {k + 1}. {names[i]}  mean {mean[i]:.3f}  portfolio best-of mean "
              f"{best.mean():.3f}  gains: {gains}")

    default = names.index(DEFAULT) if DEFAULT in names else None
    final = ([default] if default is not None else []) + [
        i for i, _ in picks if i != default]
    # when the greedy construction stops early (one candidate is best on
    # every data set), the remaining places go by mean normalized score
    final += [i for i in np.argsort(-mean, kind="stable") if i not in final]
    final = [int(i) for i in final[:args.size]]
    best_of = norm[final].max(axis=0)
    print(f"\nportfolio ({DEFAULT} first, the greedy picks, then by mean):")
    print(f"  {'cand':<5} {'mean':>6}  config")
    for i in final:
        print(f"  {names[i]:<5} {mean[i]:6.3f}  {_fmt_config(CANDIDATES[names[i]])}")
    print("  best-of-portfolio per data set: " + ", ".join(
        f"{d} {b:.2f}" for d, b in zip(datasets, best_of, strict=True)))
    if default is not None:
        print(f"  mean best-of-portfolio {best_of.mean():.3f} vs {DEFAULT} alone "
              f"{norm[default].mean():.3f}")

    total = time.perf_counter() - t_start
    load1 = os.getloadavg()
    print(f"\ntotal {total:.0f} s for {runs.size} trials of {epochs} epochs; "
          f"load average at the end {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")
    print("\nCNN_PORTFOLIO = [")
    for i in final:
        print(f"    {CANDIDATES[names[i]]!r},  # {names[i]}")
    print("]")
    return {"names": names, "datasets": datasets, "scores": scores,
            "seconds": seconds, "norm": norm,
            "portfolio": [names[i] for i in final]}


if __name__ == "__main__":
    main()
    sys.exit(0)
