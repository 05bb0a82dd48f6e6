"""Training overhead: skautodl's training path against a plain PyTorch loop.

Times one epoch of the same MLP (``n_layers`` x ``n_units``, ReLU, dropout
0.1, no norm), trained with AdamW (lr 1e-3, weight decay 1e-4), batch 128,
gradient-norm clipping at 1.0 and a cosine learning-rate schedule, on the
same float32 tensors (synthetic classification, 64 features, 10 classes,
80 % train / 20 % validation), through

* **skautodl**: ``build_net(config, task, n_inputs, classes=..., valid=...)``
  then ``net.fit(X_train, y_train)``, exactly as ``run_trial`` builds and
  fits a trial (``TensorBatchLoader``, ``DivergenceGuard``, ``TimeLimit``,
  ``GradientNormClipping``, ``LRScheduler``, ``PruningReporter``,
  ``EarlyStopping(load_best=True)`` on the validation set; patience is set
  above the epoch count so every run trains all its epochs);
* **plain-torch**: a hand-written loop over the same tensors: ``randperm``,
  slicing, forward, loss, backward, ``clip_grad_norm_``, ``step``,
  ``loss.item()`` per batch (skorch records it too), one scheduler step per
  epoch and one validation pass per epoch computing the loss;
* **skorch**: plain ``skorch.NeuralNetClassifier`` with its default
  ``DataLoader`` on the numpy arrays, the same callbacks (gradient clipping,
  cosine schedule) and the same predefined validation set, skorch's default
  callbacks otherwise (for reference).

Protocol: the three paths run interleaved (skautodl, plain-torch, skorch,
skautodl, ...) for ``--repeats`` rounds after one untimed warm-up round, each
run training ``--epochs`` epochs from ``torch.manual_seed(seed)`` with the
same ``torch.set_num_threads``. A run's time is the wall clock of the whole
training call (model, optimizer and scheduler construction included, as in
``run_trial``'s ``fit_time``) divided by its epochs; the table reports the
median over repeats, ``samples/s`` (training rows per second of that
median epoch; the validation pass is inside the epoch time) and the ratio to
plain-torch. The target is ``skautodl / plain-torch <= 1.2``.

The last column, ``valid_loss``, is the final epoch's validation loss of the
last repeat: skautodl and plain-torch draw the same random numbers in the
same order, so they agree to float32 rounding, which shows that both loops
do the same work. skorch's ``DataLoader`` shuffles with its own draws.

A line under the table times what ``run_trial`` does once per trial after
the fit: ``predict_proba`` on the validation rows (skautodl's float64
forward, ``_forward64``) against a float32 forward of the same module.

Usage::

    python benchmarks/overhead.py                   # 20,000 rows, 10 epochs, 5 repeats
    python benchmarks/overhead.py --quick           # 5,000 rows, 3 epochs, 3 repeats
    python benchmarks/overhead.py --threads 1 --n-samples 50000
    python benchmarks/overhead.py --profile 3       # plus cProfile of skautodl's path

Wall-clock timings: other jobs on the machine slow every path; the load
average is printed before and after, with a warning above the core count.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from skautodl.data.validation import TaskInfo  # noqa: E402
from skautodl.networks.mlp import MLP  # noqa: E402
from skautodl.training.net import (  # noqa: E402
    AutoNetClassifier,
    build_net,
    standardized_valid_dataset,
)

N_FEATURES = 64
N_CLASSES = 10
PATHS = ("skautodl", "plain-torch", "skorch")


def make_data(n_samples, n_features=N_FEATURES, n_classes=N_CLASSES, seed=0):
    """Synthetic float32 classification data split 80/20 (train, valid)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=0.3, size=(n_classes, n_features))
    y = rng.integers(0, n_classes, size=n_samples)
    X = centers[y] + rng.normal(size=(n_samples, n_features))
    X = np.ascontiguousarray(X, dtype=np.float32)
    y = y.astype(np.int64)
    n_train = int(round(0.8 * n_samples))
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


def _module_kwargs(args):
    return {"n_layers": args.layers, "n_units": args.units, "dropout": 0.1,
            "norm": "none", "activation": "relu"}


# ---------------------------------------------------------------- skautodl
def build_skautodl(data, args, epochs):
    X_tr, y_tr, X_va, y_va = data
    config = {"family": "mlp", "lr": 1e-3, "max_epochs": epochs,
              "batch_size": args.batch_size, "optimizer__weight_decay": 1e-4,
              "callbacks__early_stopping__patience": epochs + 1}
    config.update({f"module__{k}": v for k, v in _module_kwargs(args).items()})
    task = TaskInfo(kind="multiclass", n_outputs=N_CLASSES, n_samples=len(X_tr))
    valid = standardized_valid_dataset(AutoNetClassifier, X_va, y_va, y_tr)
    return build_net(config, task, X_tr.shape[1], classes=list(range(N_CLASSES)),
                     device="cpu", valid=valid)


def run_skautodl(data, args, epochs, seed):
    X_tr, y_tr = data[0], data[1]
    net = build_skautodl(data, args, epochs)
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    net.fit(X_tr, y_tr)
    elapsed = time.perf_counter() - t0
    assert len(net.history) == epochs, "early stopping cut the run short"
    return elapsed, float(net.history[-1, "valid_loss"]), net


# ------------------------------------------------------------- plain torch
def run_plain(data, args, epochs, seed):
    X_tr, y_tr, X_va, y_va = (torch.from_numpy(a) for a in data)
    bs = args.batch_size
    n = X_tr.shape[0]
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    model = MLP(X_tr.shape[1], N_CLASSES, **_module_kwargs(args))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    crit = torch.nn.CrossEntropyLoss()
    valid_loss = float("nan")
    for _ in range(epochs):
        model.train()
        order = torch.randperm(n)
        train_loss = 0.0
        for start in range(0, n, bs):
            idx = order[start:start + bs]
            xb, yb = X_tr[idx], y_tr[idx]
            opt.zero_grad()
            loss = crit(model(xb), yb)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            train_loss += loss.item() * len(idx)
        sched.step()
        model.eval()
        total = 0.0
        with torch.no_grad():
            for start in range(0, X_va.shape[0], bs):
                xb, yb = X_va[start:start + bs], y_va[start:start + bs]
                total += crit(model(xb), yb).item() * len(xb)
        valid_loss = total / X_va.shape[0]
    elapsed = time.perf_counter() - t0
    return elapsed, valid_loss, model


# ------------------------------------------------------------ plain skorch
def run_skorch(data, args, epochs, seed):
    from skorch import NeuralNetClassifier
    from skorch.callbacks import GradientNormClipping, LRScheduler
    from skorch.dataset import Dataset
    from skorch.helper import predefined_split

    X_tr, y_tr, X_va, y_va = data
    net = NeuralNetClassifier(
        MLP, module__n_inputs=X_tr.shape[1], module__n_outputs=N_CLASSES,
        **{f"module__{k}": v for k, v in _module_kwargs(args).items()},
        criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.AdamW,
        optimizer__weight_decay=1e-4, lr=1e-3, batch_size=args.batch_size,
        max_epochs=epochs, iterator_train__shuffle=True,
        train_split=predefined_split(Dataset(X_va, y_va)),
        callbacks=[
            ("grad_clip", GradientNormClipping(gradient_clip_value=1.0)),
            ("lr_schedule", LRScheduler(
                policy=torch.optim.lr_scheduler.CosineAnnealingLR, T_max=epochs)),
        ],
        device="cpu", verbose=0,
    )
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    net.fit(X_tr, y_tr)
    elapsed = time.perf_counter() - t0
    return elapsed, float(net.history[-1, "valid_loss"]), net


RUNNERS = {"skautodl": run_skautodl, "plain-torch": run_plain,
           "skorch": run_skorch}


# ----------------------------------------------------------------- helpers
def _load():
    try:
        return os.getloadavg()
    except OSError:  # pragma: no cover - not on Unix
        return (float("nan"),) * 3


def _load_line(label):
    load = _load()
    cores = os.cpu_count() or 1
    line = (f"{label}: load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
            f"({cores} cores)")
    if load[0] > cores:
        line += "  WARNING: load above the core count, timings are unreliable"
    return line


def time_inference(net, X_va, repeats=3):
    """Seconds of skautodl's float64 predict_proba and of a float32 forward."""
    t64, t32 = [], []
    X32 = torch.from_numpy(X_va)
    bs = int(net.batch_size)
    for _ in range(repeats):
        t0 = time.perf_counter()
        net.predict_proba(X_va)
        t64.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        module = net.module_
        module.eval()
        with torch.no_grad():
            out = torch.cat([module(X32[i:i + bs]) for i in range(0, len(X32), bs)])
            torch.softmax(out, dim=1).numpy()
        t32.append(time.perf_counter() - t0)
    return min(t64), min(t32)


def profile_skautodl(data, args, epochs, seed, top=25):
    """cProfile of skautodl's fit: the top functions by cumulative and own time."""
    prof = cProfile.Profile()
    net = build_skautodl(data, args, epochs)
    torch.manual_seed(seed)
    prof.enable()
    net.fit(data[0], data[1])
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out).strip_dirs()
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def format_table(rows, args, n_train, n_valid):
    base = rows["plain-torch"]["epoch_s"]
    lines = [
        f"overhead: MLP {args.layers}x{args.units} relu dropout 0.1, AdamW, "
        f"batch {args.batch_size}, clip 1.0, cosine; {n_train} train + {n_valid} "
        f"valid rows x {N_FEATURES} features, {N_CLASSES} classes",
        f"epochs {args.epochs}, repeats {args.repeats} (interleaved), torch "
        f"threads {torch.get_num_threads()}, seed {args.seed}",
        "",
        f"{'path':<12} {'epoch_s(med)':>12} {'epoch_s(min)':>12} {'samples/s':>10} "
        f"{'ratio':>6} {'valid_loss':>10}",
    ]
    for name in PATHS:
        row = rows[name]
        row["ratio"] = row["epoch_s"] / base
        lines.append(
            f"{name:<12} {row['epoch_s']:>12.4f} {row['epoch_min']:>12.4f} "
            f"{row['samples_s']:>10.0f} {row['ratio']:>6.2f} "
            f"{row['valid_loss']:>10.5f}")
    lines.append("")
    lines.append(f"ratio skautodl / plain-torch = {rows['skautodl']['ratio']:.2f} "
                 f"(target <= 1.2: "
                 f"{'met' if rows['skautodl']['ratio'] <= 1.2 else 'NOT met'}); "
                 f"skorch / plain-torch = {rows['skorch']['ratio']:.2f}")
    return "\n".join(lines)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=None,
                   help="epochs per run (default 10, --quick 3)")
    p.add_argument("--repeats", type=int, default=None,
                   help="timed rounds per path (default 5, --quick 3)")
    p.add_argument("--n-samples", type=int, default=None,
                   help="rows before the 80/20 split (default 20000, --quick 5000)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads for every path (default: torch's default)")
    p.add_argument("--quick", action="store_true",
                   help="a short run; explicit options still override it")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--units", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-warmup", action="store_true",
                   help="skip the untimed warm-up round")
    p.add_argument("--profile", type=int, default=0, metavar="EPOCHS",
                   help="also cProfile skautodl's fit for EPOCHS epochs")
    args = p.parse_args(argv)
    quick = {"epochs": 3, "repeats": 3, "n_samples": 5000}
    full = {"epochs": 10, "repeats": 5, "n_samples": 20000}
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.epochs < 1 or args.repeats < 1 or args.n_samples < 10:
        p.error("--epochs and --repeats must be >= 1, --n-samples >= 10")
    return args


def main(argv=None):
    """Run the benchmark, print the table, return the rows by path name."""
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    data = make_data(args.n_samples, seed=args.seed)
    n_train, n_valid = len(data[0]), len(data[2])
    print(_load_line("before"), flush=True)

    if not args.no_warmup:
        for name in PATHS:
            RUNNERS[name](data, args, 1, args.seed)

    times = {name: [] for name in PATHS}
    last = {}
    for _ in range(args.repeats):
        for name in PATHS:
            elapsed, valid_loss, model = RUNNERS[name](data, args, args.epochs,
                                                       args.seed)
            times[name].append(elapsed / args.epochs)
            last[name] = (valid_loss, model)

    rows = {}
    for name in PATHS:
        med = statistics.median(times[name])
        rows[name] = {"epoch_s": med, "epoch_min": min(times[name]),
                      "samples_s": n_train / med, "valid_loss": last[name][0],
                      "times": times[name]}
    print(format_table(rows, args, n_train, n_valid))
    t64, t32 = time_inference(last["skautodl"][1], data[2])
    print(f"after fit (once per trial in run_trial): predict_proba on {n_valid} "
          f"valid rows, float64 _forward64 {t64 * 1e3:.1f} ms vs float32 forward "
          f"{t32 * 1e3:.1f} ms ({t64 / t32:.1f}x)")
    rows["inference"] = {"float64_s": t64, "float32_s": t32}
    print(_load_line("after"), flush=True)

    if args.profile:
        print(f"\ncProfile of skautodl's fit, {args.profile} epochs:")
        print(profile_skautodl(data, args, args.profile, args.seed))
    return rows


if __name__ == "__main__":
    main()
