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
    :func:`benchmarks.devsuite.make_textures`: 2000 20x20 images of 6
    low-contrast textures (stripes in four orientations, checkerboard, dot
    grid) under noise 0.5, seed 3.

Data sets with more than ``--max-rows`` rows (default 1500) are subsampled
(stratified, ``random_state=0``) to keep the run short.

Selection
---------
As in ``portfolio_selection.py``, with its code: scores are normalized
per data set over the candidates (``(score - min) / (max - min)``; 0 for a
failed trial), then greedy portfolio construction picks the candidate with
the best mean normalized score and repeatedly the one that most raises the
mean over data sets of the portfolio's best normalized score, until
``--size`` picks or no candidate helps. The portfolio skautodl ships
starts with the family defaults (``k00``, which tests rely on running
first), followed by the greedy picks other than ``k00``; if the greedy
construction stops before ``--size`` picks (a candidate that is best on
every data set leaves nothing to gain), the remaining places go to the
other candidates in order of mean normalized score.

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

import os
import sys
import time
from pathlib import Path

import numpy as np

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:  # devsuite and portfolio_selection, also on import
    sys.path.insert(0, _HERE)

from devsuite import make_shapes, make_textures  # noqa: E402
from portfolio_selection import (  # noqa: E402
    choose_portfolio,
    holdout_task,
    load_average,
    print_constant,
    report_normalized,
    run_options,
    run_seeds,
    score_table,
    selection_parser,
    start_run,
    subsample,
)

FAMILY = "cnn"
DATASETS = ("shapes", "shapes28", "textures")
QUICK_DATASETS = ("shapes",)
QUICK_CANDIDATES = ("k00", "k01", "k05")
QUICK_EPOCHS = 5
QUICK_MAX_ROWS = 400
DEFAULT_EPOCHS = 20
DEFAULT_MAX_ROWS = 1500


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
def load(name, max_rows):
    """``(X, y)`` of data set ``name`` as (n, H, W) images, at most ``max_rows``."""
    if name == "shapes":
        X, y = make_shapes()
    elif name == "shapes28":
        X, y = make_shapes(n_samples=2000, size=28, random_state=2, noise=0.35)
    elif name == "textures":
        X, y = make_textures()
    else:
        raise ValueError(f"unknown data set {name!r}; choose from {DATASETS}")
    X, y = subsample(X, y, max_rows, stratify=True)
    return X, np.asarray(y)


def prepare(name, max_rows):
    """Featurized holdout split, task, scorer, classes and space, as ``fit``
    makes them for an image classifier."""
    from dataclasses import replace

    from skautodl.data.featurize import ImageFeaturizer, prepare_splits
    from skautodl.networks.registry import get_family
    from skautodl.search.space import SearchSpace

    X, y = load(name, max_rows)
    shape = (1, *X.shape[1:])
    X = X.reshape(len(X), -1).astype(np.float32)
    y, y_fit, classes, task, scorer, splits = holdout_task(X, y, True)
    task = replace(task, input_kind="image", image_shape=shape)
    data = prepare_splits(X, y_fit, y, splits, featurizer=ImageFeaturizer(shape))
    space = SearchSpace.for_task([get_family(FAMILY)], task)
    return {"data": data, "task": task, "scorer": scorer,
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


def parse_args(argv=None):
    parser = selection_parser(
        __doc__, quick_help=f"{', '.join(QUICK_CANDIDATES)} on "
                            f"{', '.join(QUICK_DATASETS)}, {QUICK_MAX_ROWS} "
                            f"rows, {QUICK_EPOCHS} epochs, 1 seed (~30 s)",
        datasets=DATASETS, candidates={"choices": list(CANDIDATES)},
        max_rows_help=f"subsample larger data sets (default "
                      f"{DEFAULT_MAX_ROWS}, quick {QUICK_MAX_ROWS})",
        epochs=("--epochs", f"epochs of every candidate (default "
                            f"{DEFAULT_EPOCHS}, quick {QUICK_EPOCHS})"),
        size=4, size_help="portfolio size, defaults included (default 4)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)

    from skautodl.training.trial import run_trial

    start_run(args.threads)
    names = list(args.candidates or (QUICK_CANDIDATES if args.quick else CANDIDATES))
    datasets, max_rows, seeds = run_options(args, DATASETS, QUICK_DATASETS,
                                            DEFAULT_MAX_ROWS, QUICK_MAX_ROWS)
    epochs = args.epochs or (QUICK_EPOCHS if args.quick else DEFAULT_EPOCHS)

    t_start = time.perf_counter()
    print(f"CNN portfolio selection: {len(names)} candidates x {len(datasets)} "
          f"data sets x {len(seeds)} seeds, {epochs} epochs each, max_rows="
          f"{max_rows}, torch threads={args.threads}, cores={os.cpu_count()}, "
          f"load average {load_average()}")
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
            runs[i, j], _, results = run_seeds(name, config, prep["data"], prep,
                                               seeds)
            for k, result in enumerate(results):
                if result.epochs_run:
                    epoch_s[i, j, k] = result.fit_time / result.epochs_run
        print()
    # a candidate failing on any seed counts as failed on that data set
    scores = runs.mean(axis=2)
    seconds = np.nanmean(epoch_s, axis=2)

    print("\nvalidation accuracy (mean over seeds) and seconds per epoch "
          "(informational):")
    print("\n".join(score_table(
        names, [*datasets, *(f"s/ep {d}" for d in datasets)],
        np.column_stack([scores, seconds]))))
    norm, _ = report_normalized(names, datasets, scores, runs)

    final = choose_portfolio(
        norm, list(range(len(names))), names, datasets,
        [_fmt_config(CANDIDATES[name]) for name in names], size=args.size,
        default=DEFAULT, prefix="",
        title=f"\nportfolio ({DEFAULT} first, the greedy picks, then by mean):",
        fill=True)

    total = time.perf_counter() - t_start
    print(f"\ntotal {total:.0f} s for {runs.size} trials of {epochs} epochs; "
          f"load average at the end {load_average()}")
    print_constant("CNN_PORTFOLIO", [(names[i], CANDIDATES[names[i]]) for i in final])
    return {"names": names, "datasets": datasets, "scores": scores,
            "seconds": seconds, "norm": norm,
            "portfolio": [names[i] for i in final]}


if __name__ == "__main__":
    main()
    sys.exit(0)
