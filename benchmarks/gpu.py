"""GPU against CPU: epoch throughput, search speed and GPU memory.

Measures, for the MLP and the CNN family on MNIST-sized data (``--n-samples``
synthetic 28x28 single-channel uint8 images, 10 classes, made here from a
fixed seed: one random template per class plus uniform noise; the MLP gets
the same images flattened to 784 columns):

* **epoch throughput** (training samples per second) on the CPU and on the
  GPU, through skautodl's training path: the images are standardized by
  ``ImageFeaturizer`` (flat float32 rows, as ``fit`` featurizes them), then
  ``build_net({"family": ..., "max_epochs": E}, TaskInfo(...), 784,
  device=...)`` and ``net.fit`` for ``--epochs`` epochs (the package's
  default training recipe and architecture of the family, batch 128, no
  validation split). The epoch time is the median of the net's history
  ``dur`` (skorch's per-epoch wall clock; ``loss.item()`` per batch keeps the
  GPU in step with it). One untimed 1-epoch fit on a small subset warms each
  device up first (CUDA context, cuDNN, thread pools);
* **trials per minute** of a short search on each device:
  ``AutoDLClassifier(time_budget=B, device=..., families=[family],
  random_state=0, verbose=0)`` on the first ``--search-samples`` images
  (``(n, 28, 28)`` uint8 for the CNN, ``(n, 784)`` for the MLP); the rate is
  ``60 * n_trials_ / search_time_`` (Hyperband promotions count as trials);
* **GPU memory** (``torch.cuda.memory_allocated``) before and after each GPU
  search, and the peak (``torch.cuda.max_memory_allocated`` after
  ``reset_peak_memory_stats`` at the start of the search), in MiB; plus what
  the CUDA caching allocator still reserved after the search
  (``torch.cuda.memory_reserved``) and after
  ``skautodl.training.device_data.release_cuda_memory()``;
* **mixed precision and device-resident data** (GPU only), side by side, on
  the same rows as the GPU throughput: float32 with host numpy inputs (the
  ``gpu samples/s`` column), mixed precision (``precision="auto"``: bf16
  where the GPU has it natively, else fp16 with a gradient scaler) with host
  numpy inputs, and mixed precision with the inputs already on the GPU
  (``DeviceSplitCache``: the float32 matrix copied once, each batch sliced on
  the device; ``on host`` when it does not fit in half the free memory), each
  with its peak GPU memory (``build_net(..., precision=...)``; the
  searches use both features as ``fit`` does).

On the CPU, the epoch is timed on a subset sized so that one epoch takes
about ``--cpu-epoch-seconds`` (estimated from the warm-up): the CNN on 60,000
images would take minutes per epoch on a few cores. The rows each device
trained on are printed; samples/s is comparable across sizes.

Without CUDA the script still runs: the CPU numbers are measured, every
GPU column reads ``n/a (no CUDA)`` and the mixed-precision table ``n/a``.

Usage::

    python benchmarks/gpu.py            # 60,000 images, 3 epochs, 20 s searches
    python benchmarks/gpu.py --quick    # 10,000 images, 2 epochs, 10 s searches
    python benchmarks/gpu.py --n-samples 20000 --epochs 2 --budget 30

A full run takes about 3 to 4 minutes on a machine with a GPU (four searches
of ``--budget`` seconds, plus the throughput runs: three per family on the
GPU), and under 2 minutes on a
2-core machine without one. Wall-clock timings: the load average is printed
before and after, with a warning above the core count.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from skautodl import AutoDLClassifier  # noqa: E402
from skautodl.data.featurize import ImageFeaturizer  # noqa: E402
from skautodl.data.validation import TaskInfo  # noqa: E402
from skautodl.training.device_data import (  # noqa: E402
    DeviceSplitCache,
    release_cuda_memory,
)
from skautodl.training.net import build_net  # noqa: E402
from skautodl.training.precision import (  # noqa: E402
    resolve_precision,
)

IMAGE_SHAPE = (1, 28, 28)
N_PIXELS = 28 * 28
N_CLASSES = 10
FAMILIES = (("MLP", "mlp"), ("CNN", "cnn"))
NA = "n/a (no CUDA)"
MIB = 2.0 ** 20


def make_images(n_samples, seed=0):
    """``n_samples`` uint8 images (n, 28, 28) and labels 0..9, fixed seed.

    Each class has a random template (values 0..127); an image is its
    class's template plus uniform noise 0..127, so the classes are learnable
    but every pixel is noisy.
    """
    rng = np.random.default_rng(seed)
    templates = rng.integers(0, 128, size=(N_CLASSES, 28, 28), dtype=np.uint8)
    y = rng.integers(0, N_CLASSES, size=n_samples).astype(np.int64)
    noise = rng.integers(0, 128, size=(n_samples, 28, 28), dtype=np.uint8)
    X = templates[y] + noise  # at most 254: no overflow
    return X, y


# ------------------------------------------------------------- throughput
def _task(family, n_train):
    if family == "cnn":
        return TaskInfo(kind="multiclass", n_outputs=N_CLASSES, input_kind="image",
                        n_samples=n_train, image_shape=IMAGE_SHAPE)
    return TaskInfo(kind="multiclass", n_outputs=N_CLASSES, n_samples=n_train)


def _sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def precision_name(device):
    """What ``precision="auto"`` trains with on ``device``."""
    return resolve_precision("auto", device).name


def train_epochs(family, X, y, device, epochs, batch_size, seed=0, precision="fp32"):
    """Fit through ``build_net`` for ``epochs`` epochs; per-epoch seconds.

    ``X`` may be a numpy array or a float32 tensor already on ``device``.
    """
    config = {"family": family, "max_epochs": epochs, "batch_size": batch_size}
    net = build_net(config, _task(family, len(X)), N_PIXELS,
                    classes=list(range(N_CLASSES)), device=device,
                    precision=precision)
    torch.manual_seed(seed)
    _sync(device)
    t0 = time.perf_counter()
    net.fit(X, y)
    _sync(device)
    wall = time.perf_counter() - t0
    try:
        durs = [float(d) for d in net.history[:, "dur"]]
    except (KeyError, IndexError):  # pragma: no cover - skorch always records it
        durs = []
    if len(durs) != epochs or not all(d > 0 for d in durs):
        durs = [wall / epochs] * epochs
    del net
    return durs


def throughput(family, X, y, device, args, precision="fp32"):
    """Samples/s of one device: warm-up, size the CPU subset, timed fit."""
    n_warm = min(len(X), 1024)
    warm = train_epochs(family, X[:n_warm], y[:n_warm], device, 1, args.batch_size,
                        precision=precision)
    n_rows = len(X)
    if device == "cpu":
        rate = n_warm / warm[0]
        n_rows = int(min(len(X), max(n_warm, rate * args.cpu_epoch_seconds)))
    cuda = device.startswith("cuda")
    if cuda:
        _sync(device)
        torch.cuda.reset_peak_memory_stats()
    durs = train_epochs(family, X[:n_rows], y[:n_rows], device, args.epochs,
                        args.batch_size, seed=args.seed, precision=precision)
    epoch_s = statistics.median(durs)
    row = {"rows": n_rows, "epoch_s": epoch_s, "samples_s": n_rows / epoch_s,
           "durs": durs}
    if cuda:
        row["mem_peak"] = torch.cuda.max_memory_allocated() / MIB
    return row


def amp_throughput(family, X, y, device, args):
    """GPU samples/s with mixed precision: host numpy vs device-resident inputs.

    Returns ``{"precision", "host", "resident", "placed"}``; ``placed`` says
    whether the inputs fit on the device (else ``resident`` trained on the
    host arrays too).
    """
    out = {"precision": precision_name(device)}
    out["host"] = throughput(family, X, y, device, args, precision="auto")
    cache = DeviceSplitCache()
    split = SimpleNamespace(X_train=X, y_train=y, X_valid=None, y_valid_fit=None)
    (placed,) = cache.get([split], device)
    out["placed"] = bool(cache.on_device(device))
    out["resident"] = throughput(family, placed.X_train, y, device, args,
                                 precision="auto")
    del placed
    cache.clear()
    release_cuda_memory()
    return out


# ----------------------------------------------------------------- search
def _mem():
    return torch.cuda.memory_allocated() / MIB


def search(family, X_img, y, device, args):
    """A short AutoDLClassifier search; trials/min and GPU memory."""
    X = X_img if family == "cnn" else X_img.reshape(len(X_img), N_PIXELS)
    row = {"n_trials": None, "search_s": None, "trials_min": None,
           "fit_s": None, "error": None}
    cuda = device.startswith("cuda")
    if cuda:
        gc.collect()
        torch.cuda.empty_cache()
        row["mem_before"] = _mem()
        torch.cuda.reset_peak_memory_stats()
    clf = AutoDLClassifier(time_budget=args.budget, device=device,
                           families=[family], random_state=0, verbose=0)
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.fit(X, y)
    except Exception as exc:  # report it in the table, keep measuring
        row["error"] = f"{type(exc).__name__}: {exc}"
    else:
        row["n_trials"] = int(clf.n_trials_)
        row["search_s"] = float(clf.search_time_)
        row["trials_min"] = 60.0 * clf.n_trials_ / max(clf.search_time_, 1e-9)
    row["fit_s"] = time.perf_counter() - t0
    if cuda:
        _sync(device)
        row["mem_after"] = _mem()
        row["mem_peak"] = torch.cuda.max_memory_allocated() / MIB
    del clf
    gc.collect()
    if cuda:
        released = release_cuda_memory()
        row["reserved_after"] = released.reserved_before / MIB
        row["reserved_released"] = released.reserved_after / MIB
    return row


# ----------------------------------------------------------------- helpers
def _load_line(label):
    try:
        load = os.getloadavg()
    except OSError:  # pragma: no cover - not on Unix
        load = (float("nan"),) * 3
    cores = os.cpu_count() or 1
    line = (f"{label}: load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
            f"({cores} cores)")
    if load[0] > cores:
        line += "  WARNING: load above the core count, timings are unreliable"
    return line


def _fmt(value, spec):
    if value is None:
        return "failed"
    return format(value, spec)


def format_table(rows, args, gpu_name):
    w = 15
    lines = [
        f"gpu benchmark: {args.n_samples} synthetic 28x28x1 uint8 images, "
        f"{N_CLASSES} classes (seed {args.seed}); MLP on the flattened 784 "
        f"pixels; batch {args.batch_size}, {args.epochs} timed epochs, package "
        "default architecture of each family",
        f"search: AutoDLClassifier(time_budget={args.budget:g}, families=[f], "
        f"random_state=0) on {args.search_samples} images; torch threads "
        f"{torch.get_num_threads()}; GPU: {gpu_name or NA}",
        "",
        f"{'family':<7} {'cpu rows':>9} {'cpu samples/s':>{w}} {'gpu rows':>{w}} "
        f"{'gpu samples/s':>{w}} {'speedup':>{w}} {'cpu trials/min':>{w}} "
        f"{'gpu trials/min':>{w}}",
    ]
    for label, _ in FAMILIES:
        r = rows[label]
        cpu, gpu = r["cpu"], r.get("gpu")
        s_cpu, s_gpu = r["search_cpu"], r.get("search_gpu")
        if gpu is None:
            g_rows = g_sps = speed = g_tpm = NA
        else:
            g_rows = str(gpu["rows"])
            g_sps = f"{gpu['samples_s']:.0f}"
            speed = f"{gpu['samples_s'] / cpu['samples_s']:.1f}x"
            g_tpm = _fmt(s_gpu["trials_min"], ".1f")
        lines.append(
            f"{label:<7} {cpu['rows']:>9} {cpu['samples_s']:>{w}.0f} {g_rows:>{w}} "
            f"{g_sps:>{w}} {speed:>{w}} {_fmt(s_cpu['trials_min'], '.1f'):>{w}} "
            f"{g_tpm:>{w}}")
    amp = precision_name("cuda") if gpu_name else None
    setup = ("no GPU" if amp is None
             else f"on the GPU, precision {amp}, inputs device-resident")
    lines += [
        "",
        f"searches: {setup}; reserved = the CUDA allocator's cache after the "
        "search / after release_cuda_memory()",
        f"{'search':<7} {'device':>9} {'trials':>{w}} {'search_s':>{w}} "
        f"{'fit_s':>{w}} {'gpu MiB before':>{w}} {'gpu MiB after':>{w}} "
        f"{'gpu MiB peak':>{w}} {'reserved':>{w}} {'after release':>{w}}"]
    for label, _ in FAMILIES:
        for dev in ("cpu", "gpu"):
            s = rows[label].get(f"search_{dev}")
            if s is None:
                lines.append(f"{label:<7} {dev:>9} " + " ".join(
                    f"{NA:>{w}}" for _ in range(8)))
                continue
            mem = [f"{s[k]:.1f}" if k in s else "-" for k in
                   ("mem_before", "mem_after", "mem_peak", "reserved_after",
                    "reserved_released")]
            lines.append(
                f"{label:<7} {dev:>9} {_fmt(s['n_trials'], 'd'):>{w}} "
                f"{_fmt(s['search_s'], '.1f'):>{w}} {s['fit_s']:>{w}.1f} "
                + " ".join(f"{m:>{w}}" for m in mem))
    errors = [(label, dev, rows[label][f"search_{dev}"]["error"])
              for label, _ in FAMILIES for dev in ("cpu", "gpu")
              if rows[label].get(f"search_{dev}")
              and rows[label][f"search_{dev}"]["error"]]
    for label, dev, err in errors:
        lines.append(f"search {label} on {dev} failed: {err}")
    lines += ["", _amp_table(rows, w)]
    return "\n".join(lines)


def _amp_table(rows, w):
    """GPU samples/s: fp32 vs mixed precision, host vs device-resident inputs."""
    lines = [
        "mixed precision and device-resident inputs on the GPU (same rows as "
        "'gpu rows'; peak = max GPU memory allocated during the timed fit)",
        f"{'family':<7} {'precision':>9} {'fp32 host/s':>{w}} {'amp host/s':>{w}} "
        f"{'amp resident/s':>{w}} {'amp speedup':>{w}} {'resident gain':>{w}} "
        f"{'peak MiB f/a/r':>{w + 4}}",
    ]
    for label, _ in FAMILIES:
        gpu, amp = rows[label].get("gpu"), rows[label].get("amp")
        if gpu is None or amp is None:
            lines.append(f"{label:<7} " + " ".join(
                [f"{'n/a':>9}"] + [f"{'n/a':>{w}}"] * 5 + [f"{'n/a':>{w + 4}}"]))
            continue
        host, res = amp["host"], amp["resident"]
        where = "" if amp["placed"] else " (on host)"
        peaks = "/".join(f"{r.get('mem_peak', float('nan')):.0f}"
                         for r in (gpu, host, res))
        res_s = f"{res['samples_s']:.0f}{where}"
        lines.append(
            f"{label:<7} {amp['precision']:>9} {gpu['samples_s']:>{w}.0f} "
            f"{host['samples_s']:>{w}.0f} {res_s:>{w}} "
            f"{host['samples_s'] / gpu['samples_s']:>{w - 1}.2f}x "
            f"{res['samples_s'] / host['samples_s']:>{w - 1}.2f}x "
            f"{peaks:>{w + 4}}")
    return "\n".join(lines)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="a short run; explicit options still override it")
    p.add_argument("--n-samples", type=int, default=None,
                   help="synthetic images (default 60000, --quick 10000)")
    p.add_argument("--epochs", type=int, default=None,
                   help="timed epochs per device and family (default 3, --quick 2)")
    p.add_argument("--budget", type=float, default=None,
                   help="time_budget of each search, seconds (default 20, "
                   "--quick 10)")
    p.add_argument("--search-samples", type=int, default=None,
                   help="images the searches use (default 5000, --quick 2000)")
    p.add_argument("--cpu-epoch-seconds", type=float, default=None,
                   help="size the CPU subset so one epoch takes about this "
                   "(default 8, --quick 3)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--no-gpu", action="store_true",
                   help="measure the CPU only, as on a machine without CUDA")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    quick = {"n_samples": 10000, "epochs": 2, "budget": 10.0,
             "search_samples": 2000, "cpu_epoch_seconds": 3.0}
    full = {"n_samples": 60000, "epochs": 3, "budget": 20.0,
            "search_samples": 5000, "cpu_epoch_seconds": 8.0}
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.n_samples < 20 or args.epochs < 1 or args.budget <= 0 \
            or args.search_samples < 20 or args.cpu_epoch_seconds <= 0:
        p.error("--n-samples and --search-samples must be >= 20, --epochs >= 1, "
                "--budget and --cpu-epoch-seconds > 0")
    args.search_samples = min(args.search_samples, args.n_samples)
    return args


def main(argv=None):
    """Run the benchmark, print the table, return the rows by family label."""
    args = parse_args(argv)
    t_start = time.perf_counter()
    cuda = torch.cuda.is_available() and not args.no_gpu
    gpu_name = torch.cuda.get_device_name(0) if cuda else None
    print(_load_line("before"), flush=True)
    X_img, y = make_images(args.n_samples, seed=args.seed)
    # what fit's featurizer makes of the images: flat standardized float32
    X_flat = ImageFeaturizer(IMAGE_SHAPE).fit_transform(X_img)
    devices = ["cpu"] + (["cuda"] if cuda else [])

    rows = {}
    for label, family in FAMILIES:
        row = rows[label] = {}
        for device in devices:
            key = "gpu" if device == "cuda" else "cpu"
            row[key] = throughput(family, X_flat, y, device, args)
            print(f"  {label} {key}: {row[key]['rows']} rows, "
                  f"{row[key]['epoch_s']:.3f} s/epoch, "
                  f"{row[key]['samples_s']:.0f} samples/s", flush=True)
        if cuda:
            amp = row["amp"] = amp_throughput(family, X_flat, y, "cuda", args)
            print(f"  {label} gpu {amp['precision']}: "
                  f"{amp['host']['samples_s']:.0f} samples/s (host inputs), "
                  f"{amp['resident']['samples_s']:.0f} samples/s ("
                  f"{'device-resident' if amp['placed'] else 'did not fit: host'}"
                  " inputs)", flush=True)
    del X_flat
    X_s, y_s = X_img[:args.search_samples], y[:args.search_samples]
    for label, family in FAMILIES:
        for device in devices:
            key = "gpu" if device == "cuda" else "cpu"
            s = rows[label][f"search_{key}"] = search(family, X_s, y_s, device, args)
            print(f"  search {label} {key}: {s['n_trials']} trials in "
                  f"{_fmt(s['search_s'], '.1f')} s", flush=True)
    print()
    print(format_table(rows, args, gpu_name))
    print()
    print(_load_line("after"))
    print(f"total {time.perf_counter() - t_start:.0f} s")
    return rows


if __name__ == "__main__":
    main()
