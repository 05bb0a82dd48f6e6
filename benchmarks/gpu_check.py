"""GPU code paths of the estimators: one script, a PASS/FAIL/SKIP table.

Runs short fits of ``AutoDLClassifier`` (``time_budget=None``, a few trials
of a few epochs, ``verbose=0``, ``random_state=0``) and checks what only
shows up on a GPU, or when a model moves between a GPU and a CPU. Every
check is one row of the table; it runs on CUDA when this machine has it
(and ``--no-gpu`` is not given), otherwise on the CPU where that makes
sense, and it is marked SKIP where it does not (the rows that need CUDA):

``fit_n_jobs2``
    ``AutoDLClassifier(device=D, n_jobs=2)`` on a ``make_classification``
    table fits and predicts (test accuracy above 0.6); every row of
    ``leaderboard_`` ran on ``D`` (its ``device`` column) and the trials
    were spread over two worker processes other than this one (its
    ``worker`` column, ``host:pid``).
``pickle_cpu_only_load``
    The fitted model of the first check (or a new one) is pickled here and
    loaded in a subprocess that sees no GPU (``CUDA_VISIBLE_DEVICES=""``);
    its ``predict_proba`` on the test rows must match the original's
    (``atol`` 1e-5 for a CPU model, 1e-4 for a CUDA one). A CUDA model that
    predicts under autocast (``precision="auto"`` trains and predicts in
    bf16/fp16 on a GPU) is compared with its own float32 prediction
    (``net.precision = "fp32"`` for that call); the difference to its
    autocast prediction is reported in the detail column.
``pickle_no_lr_scheduler``
    After ``pickle.loads(pickle.dumps(model))`` no callback of the skorch
    net (``best_estimator_[-1].callbacks_``) holds a torch LR scheduler
    (``lr_scheduler_`` is None) or a torch optimizer. The tensors the
    pickle stores directly (outside skorch's device-aware
    ``torch.save`` of the module and optimizer) are counted; one on a GPU
    fails the check (it would not load without CUDA).
``precision_auto``, ``precision_bf16``, ``precision_fp16``
    ``search_space={"precision": p}`` (routed to the skorch net's
    ``precision`` parameter) fits, reaches a test accuracy above 0.6, every
    trial's config carries ``p``, the refitted net keeps it, and the net
    resolves it as expected: on CUDA ``auto`` is bf16 where the GPU has
    native bfloat16, else fp16; ``bf16`` is bf16 (fp16, with a warning,
    without native support); ``fp16`` is fp16. On the CPU ``auto`` is plain
    float32 and ``bf16`` autocasts to bfloat16 (slow, but it works);
    ``fp16`` needs CUDA (SKIP). The autocast dtype is confirmed with a
    forward hook: the output dtype of the first ``nn.Linear`` during
    ``net.infer`` on a batch of featurized test rows.
``embed_mixed_frame``
    ``families=["embed"]`` on a pandas DataFrame with four numeric columns
    (10 % NaN) and a string column with 10 levels (5 % None), string
    labels: every trial is an ``embed`` network, and it predicts the test
    frame (accuracy above 0.6).
``cnn_images``
    scikit-learn's ``load_digits`` as ``(n, 8, 8)`` images with
    ``families="auto"``: the estimator detects images, every trial is a
    ``cnn``, and it predicts the test images (accuracy above 0.5; 10
    classes).
``cuda_memory_baseline`` (CUDA only)
    ``torch.cuda.memory_allocated()`` before a fit (n_jobs=1, so the trials
    run in this process; a 20,000 x 64 float32 table, 8,000 rows with
    ``--quick``, so that search data left on the GPU would show) and after
    it, after ``gc.collect()``: what stays allocated must be at most what
    the fitted net itself holds on the GPU (parameters, gradients, buffers,
    optimizer state) plus 2 MiB; after ``del`` of the estimator and
    ``gc.collect()``, at most 1 MiB above the baseline. CUDA, cuBLAS and
    autocast are warmed up first and cuBLAS's workspaces released before
    each reading (they are not the estimator's). ``memory_reserved()``
    after ``torch.cuda.empty_cache()`` is reported too.

Each check runs in its own ``try``/``except``: one that raises is a FAIL
row with the exception in the detail column, and the others still run.
The exit code is 0 when no row FAILed, 1 otherwise.

Usage (from the repository root; the script puts the repository on
``sys.path`` itself, like the other scripts in ``benchmarks/``)::

    python benchmarks/gpu_check.py                  # about 1-2 min with a GPU
    python benchmarks/gpu_check.py --quick          # smaller data, fewer epochs
    python benchmarks/gpu_check.py --out gpu_check.json
    python benchmarks/gpu_check.py --no-gpu         # the CPU rows only
    python benchmarks/gpu_check.py --only precision_bf16,cnn_images

``--out PATH`` also writes the rows (plus the environment, the counts and
any traceback) as JSON, one entry per check run. Without CUDA the script
runs with one torch thread (``--threads N`` to change it; the setting is
restored at the end): on 2 shared cores two threads that wait for each
other made single rows ten times slower. Without CUDA the whole run takes
about 20 s on 2 cores with ``--quick`` (the smoke test,
``tests/test_gpu_check_smoke.py``) and about a minute without; with a GPU
it stays well below 5 minutes (the longest steps are starting the two
worker processes and the subprocess that loads the pickle).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pickle
import platform
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.datasets import load_digits, make_classification
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from skautodl import AutoDLClassifier  # noqa: E402

MIB = 2.0 ** 20
#: the easy problems: any working network clears these on the test split
MIN_ACCURACY = 0.6
MIN_ACCURACY_DIGITS = 0.5
#: seconds the CPU-only subprocess may take to load the pickle and predict
CHILD_TIMEOUT = 300
#: detail text shown in the table (the JSON keeps all of it)
DETAIL_WIDTH = 200


class CheckFailed(Exception):
    """A check ran, and what it verified was not so."""


def require(condition, message):
    if not condition:
        raise CheckFailed(message)


@dataclass(frozen=True)
class Check:
    name: str
    func: object  # func(ctx) -> detail str
    needs_cuda: bool = False


class Context:
    """What the checks share: options, device, data and fitted models."""

    def __init__(self, args, cuda):
        self.args = args
        self.cuda = cuda
        self.device = "cuda" if cuda else "cpu"
        self.n_trials = args.n_trials
        self.max_epochs = args.max_epochs
        X, y = make_classification(
            n_samples=args.n_samples, n_features=12, n_informative=6,
            n_redundant=2, class_sep=1.5, random_state=0)
        (self.X_train, self.X_test,
         self.y_train, self.y_test) = train_test_split(
            X.astype(np.float32), y, test_size=0.25, stratify=y, random_state=0)
        self.table_model = None  # the fitted model of fit_n_jobs2

    def estimator(self, **params):
        space = {"max_epochs": self.max_epochs, **params.pop("search_space", {})}
        base = {"time_budget": None, "n_trials": self.n_trials,
                "search_space": space, "device": self.device, "n_jobs": 1,
                "verbose": 0, "random_state": 0, "cv": None}
        return AutoDLClassifier(**{**base, **params})

    def model(self):
        """The fitted table model: fit_n_jobs2's, or a new one (n_jobs=1)."""
        if self.table_model is None:
            self.table_model = fit(self.estimator(), self.X_train, self.y_train)[0]
        return self.table_model


# ------------------------------------------------------------------ helpers
def fit(clf, X, y):
    """``clf.fit(X, y)``, returning ``(clf, notable warnings)``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf.fit(X, y)
    names = {}
    for w in caught:
        if issubclass(w.category, (DeprecationWarning, FutureWarning)):
            continue
        names[w.category.__name__] = names.get(w.category.__name__, 0) + 1
    return clf, names


def warn_text(names):
    if not names:
        return ""
    return "; warnings " + ", ".join(f"{k} x{v}" for k, v in sorted(names.items()))


def accuracy(clf, X, y):
    return float(accuracy_score(y, clf.predict(X)))


def all_ok(clf):
    board = clf.leaderboard_
    failed = board[board["status"] != "ok"]
    require(len(failed) < len(board), f"every trial failed: {list(board['error'])}")
    return len(board) - len(failed), len(board)


def net_of(clf):
    return clf.best_estimator_[-1]


def cuda_bytes_held(net):
    """Bytes of distinct CUDA tensors a fitted skorch net holds.

    Parameters, their gradients, buffers and the optimizer's state.
    """
    seen = {}

    def add(t):
        if isinstance(t, torch.Tensor) and t.is_cuda:
            seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()

    for p in net.module_.parameters():
        add(p)
        add(p.grad)
    for b in net.module_.buffers():
        add(b)
    optimizer = getattr(net, "optimizer_", None)
    if optimizer is not None:
        for state in optimizer.state.values():
            for value in state.values():
                add(value)
    return sum(seen.values())


class _TensorCounter(pickle.Pickler):
    """Pickles to nowhere, recording the tensors the stream holds itself.

    skorch's ``__getstate__`` stores the module, optimizer and criterion
    with ``torch.save`` (device aware, ``map_location`` on load); those
    tensors never reach this pickler. Any tensor it does see is pickled
    plainly and, if it lives on a GPU, cannot be unpickled without CUDA.
    """

    def __init__(self):
        import io

        super().__init__(io.BytesIO(), protocol=pickle.HIGHEST_PROTOCOL)
        self.devices = []

    def reducer_override(self, obj):
        if isinstance(obj, torch.Tensor):
            self.devices.append(str(obj.device))
        return NotImplemented


def raw_tensor_devices(obj):
    counter = _TensorCounter()
    counter.dump(obj)
    return counter.devices


def first_linear_dtype(net, X_feat):
    """Output dtype of the first ``nn.Linear`` during ``net.infer(X_feat)``."""
    linear = next((m for m in net.module_.modules()
                   if isinstance(m, torch.nn.Linear)), None)
    if linear is None:
        return None
    seen = []
    handle = linear.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    was_training = net.module_.training
    net.module_.eval()
    try:
        with torch.no_grad():
            X_t = torch.as_tensor(np.asarray(X_feat, dtype=np.float32),
                                  device=net.device)
            net.infer(X_t)
    finally:
        handle.remove()
        net.module_.train(was_training)
    return seen[0] if seen else None


def bf16_native():
    return bool(torch.cuda.is_bf16_supported(including_emulation=False))


# ------------------------------------------------------------------- checks
def check_fit_n_jobs2(ctx):
    import joblib

    cores = joblib.cpu_count()
    expected_workers = min(2, cores)
    clf = ctx.estimator(n_jobs=2, n_trials=max(ctx.n_trials, 6))
    clf, warned = fit(clf, ctx.X_train, ctx.y_train)
    ctx.table_model = clf
    ok, n = all_ok(clf)
    board = clf.leaderboard_
    devices = sorted(set(board["device"]))
    require(all(str(d).startswith(ctx.device) for d in devices),
            f"trials ran on {devices}, expected {ctx.device}")
    workers = sorted(set(board["worker"]))
    require(len(workers) == expected_workers,
            f"{len(workers)} worker process(es) {workers}, expected "
            f"{expected_workers} ({cores} cores)")
    if expected_workers > 1:
        me = f"{socket.gethostname()}:{os.getpid()}"
        require(me not in workers,
                f"a trial ran in this process ({me}), not in a worker")
    net_device = str(net_of(clf).device)
    require(net_device.startswith(ctx.device),
            f"the refitted net is on {net_device}")
    acc = accuracy(clf, ctx.X_test, ctx.y_test)
    require(acc > MIN_ACCURACY, f"test accuracy {acc:.3f} <= {MIN_ACCURACY}")
    pids = ",".join(w.rsplit(":", 1)[-1] for w in workers)
    return (f"{ok}/{n} trials ok on {'/'.join(map(str, devices))}; "
            f"{len(workers)} workers (pids {pids}); test acc {acc:.3f}"
            + warn_text(warned))


_CHILD = r"""
import json, pickle, sys, warnings
import numpy as np
import torch
folder = sys.argv[1]
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    with open(folder + "/model.pkl", "rb") as f:
        clf = pickle.load(f)
    proba = clf.predict_proba(np.load(folder + "/X.npy"))
np.save(folder + "/proba.npy", proba)
net = clf.best_estimator_[-1]
info = {
    "cuda_available": torch.cuda.is_available(),
    "net_device": str(net.device),
    "param_devices": sorted({str(p.device) for p in net.module_.parameters()}),
    "warnings": sorted({w.category.__name__ for w in caught}),
}
with open(folder + "/info.json", "w") as f:
    json.dump(info, f)
"""


def check_pickle_cpu_only_load(ctx):
    clf = ctx.model()
    net = net_of(clf)
    X = ctx.X_test
    proba = clf.predict_proba(X)
    plan = net.amp_plan().name
    on_cuda = str(net.device).startswith("cuda")
    reference = proba
    # on a GPU, predict_proba runs under the net's autocast; on the CPU it is
    # a float64 forward whatever the precision
    autocast = on_cuda and plan != "fp32"
    if autocast:  # compare with the same model's float32 prediction
        saved = net.precision
        net.precision = "fp32"
        try:
            reference = clf.predict_proba(X)
        finally:
            net.precision = saved
    atol = 1e-4 if on_cuda else 1e-5
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as folder:
        blob = pickle.dumps(clf)
        Path(folder, "model.pkl").write_bytes(blob)
        np.save(Path(folder, "X.npy"), X)
        path = os.environ.get("PYTHONPATH")
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": "",
               "PYTHONPATH": str(ROOT) + (os.pathsep + path if path else "")}
        done = subprocess.run([sys.executable, "-c", _CHILD, folder], env=env,
                              capture_output=True, text=True,
                              timeout=CHILD_TIMEOUT)
        require(done.returncode == 0,
                f"the CPU-only subprocess exited with {done.returncode}: "
                + done.stderr.strip()[-1500:])
        loaded = np.load(Path(folder, "proba.npy"))
        info = json.loads(Path(folder, "info.json").read_text())
    require(not info["cuda_available"], "the subprocess saw CUDA")
    require(info["param_devices"] == ["cpu"] and info["net_device"] == "cpu",
            f"loaded net on {info['net_device']}, parameters on "
            f"{info['param_devices']}")
    require(loaded.shape == reference.shape,
            f"shapes differ: {loaded.shape} vs {reference.shape}")
    diff = float(np.max(np.abs(loaded - reference)))
    require(np.allclose(loaded, reference, rtol=0, atol=atol),
            f"predict_proba differs by up to {diff:.2e} (atol {atol:g})")
    detail = (f"{len(blob) / 1024:.0f} KiB pickle of a {net.device} model "
              f"(precision {plan}); loaded on cpu, max |diff| {diff:.1e} "
              f"(atol {atol:g})")
    if autocast:
        as_used = float(np.max(np.abs(loaded - proba)))
        agree = float(np.mean(loaded.argmax(1) == proba.argmax(1)))
        detail += (f"; vs its {plan} autocast prediction {as_used:.1e}, "
                   f"argmax agrees {agree:.1%}")
    if info["warnings"]:
        detail += "; load warnings " + ", ".join(info["warnings"])
    return detail


def check_pickle_no_lr_scheduler(ctx):
    clf = ctx.model()
    loaded = pickle.loads(pickle.dumps(clf))
    net = net_of(loaded)
    callbacks = list(getattr(net, "callbacks_", []) or [])
    require(callbacks, "the loaded net has no callbacks_")
    holding = [name for name, cb in callbacks
               if getattr(cb, "lr_scheduler_", None) is not None]
    require(not holding, f"callbacks holding lr_scheduler_ after loading: {holding}")
    torch_objects = (torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler)
    owners = [f"{name}.{attr}" for name, cb in callbacks
              for attr, value in vars(cb).items()
              if isinstance(value, torch_objects)]
    require(not owners, f"callbacks holding a torch optimizer/scheduler: {owners}")
    devices = raw_tensor_devices(clf)
    on_gpu = [d for d in devices if d != "cpu"]
    require(not on_gpu, f"{len(on_gpu)} tensor(s) on {sorted(set(on_gpu))} pickled "
            "outside skorch's device handling")
    names = ",".join(name for name, _ in callbacks)
    return (f"{len(callbacks)} callbacks ({names}) without lr_scheduler_ or "
            f"optimizer; {len(devices)} raw tensor(s) in the pickle")


def _precision_check(precision):
    def check(ctx):
        clf = ctx.estimator(search_space={"precision": precision})
        clf, warned = fit(clf, ctx.X_train, ctx.y_train)
        ok, n = all_ok(clf)
        board = clf.leaderboard_
        require("precision" in board.columns,
                "the leaderboard has no precision column (config key not kept)")
        values = sorted(set(board["precision"].astype(str)))
        require(values == [precision], f"trial configs have precision {values}")
        net = net_of(clf)
        require(net.precision == precision,
                f"the refitted net has precision={net.precision!r}")
        if ctx.cuda:
            native = bf16_native()
            expected = {"auto": "bf16" if native else "fp16",
                        "bf16": "bf16" if native else "fp16",
                        "fp16": "fp16"}[precision]
        else:
            expected = {"auto": "fp32", "bf16": "bf16"}[precision]
        resolved = net.amp_plan().name
        require(resolved == expected,
                f"the net resolves {precision!r} to {resolved}, expected {expected}")
        feat = clf.best_estimator_[0].transform(ctx.X_test[:32])
        dtype = first_linear_dtype(net, feat)
        dtype_name = {torch.bfloat16: "bf16", torch.float16: "fp16",
                      torch.float32: "fp32"}.get(dtype, str(dtype))
        if dtype is not None:
            require(dtype_name == expected,
                    f"forward computed in {dtype_name}, expected {expected}")
        acc = accuracy(clf, ctx.X_test, ctx.y_test)
        require(acc > MIN_ACCURACY, f"test accuracy {acc:.3f} <= {MIN_ACCURACY}")
        return (f"resolved {resolved} (Linear output {dtype_name}); {ok}/{n} "
                f"trials ok; test acc {acc:.3f}" + warn_text(warned))

    return check


def make_mixed_frame(n, seed=0):
    """Four numeric columns (10 % NaN), a 10-level string column (5 % None).

    The label ("no"/"yes") depends on two numeric columns and on the city.
    """
    rng = np.random.default_rng(seed)
    num = rng.normal(size=(n, 4))
    cities = np.array([f"city_{i}" for i in range(10)])
    effect = dict(zip(cities, rng.permutation(np.linspace(-2.0, 2.0, 10)),
                      strict=True))
    city = rng.choice(cities, n)
    logit = 1.5 * num[:, 0] - num[:, 1] + np.array([effect[c] for c in city])
    y = np.where(logit + 0.3 * rng.normal(size=n) > 0, "yes", "no")
    num[rng.random(num.shape) < 0.10] = np.nan
    city = city.astype(object)
    city[rng.random(n) < 0.05] = None
    frame = pd.DataFrame(num, columns=[f"num_{i}" for i in range(4)])
    frame["city"] = city
    return frame, y


def check_embed_mixed_frame(ctx):
    X, y = make_mixed_frame(ctx.args.n_samples, seed=0)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0)
    clf, warned = fit(ctx.estimator(families=["embed"]), X_train, y_train)
    ok, n = all_ok(clf)
    families = sorted(set(clf.leaderboard_["family"]))
    require(families == ["embed"], f"trial families {families}")
    proba = clf.predict_proba(X_test)
    require(proba.shape == (len(X_test), 2) and np.all(np.isfinite(proba)),
            f"predict_proba gave shape {proba.shape} or non-finite values")
    acc = accuracy(clf, X_test, y_test)
    require(acc > MIN_ACCURACY, f"test accuracy {acc:.3f} <= {MIN_ACCURACY}")
    n_nan = int(X.isna().sum().sum())
    return (f"{len(X)} rows, 4 numeric + 1 string column (10 levels), {n_nan} "
            f"missing cells; {ok}/{n} embed trials ok on {net_of(clf).device}; "
            f"test acc {acc:.3f}" + warn_text(warned))


def check_cnn_images(ctx):
    X, y = load_digits(return_X_y=True)
    n = min(len(X), ctx.args.n_images)
    X = X[:n].reshape(n, 8, 8).astype(np.float32)
    y = y[:n]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0)
    clf, warned = fit(ctx.estimator(), X_train, y_train)
    ok, count = all_ok(clf)
    families = sorted(set(clf.leaderboard_["family"]))
    require(families == ["cnn"], f"families='auto' searched {families} on images")
    shape = tuple(getattr(clf, "image_shape_", ()))
    require(shape == (1, 8, 8), f"image_shape_ is {shape}")
    acc = accuracy(clf, X_test, y_test)
    require(acc > MIN_ACCURACY_DIGITS,
            f"test accuracy {acc:.3f} <= {MIN_ACCURACY_DIGITS}")
    return (f"{n} digits as (n, 8, 8); {ok}/{count} cnn trials ok on "
            f"{net_of(clf).device}; test acc {acc:.3f}" + warn_text(warned))


def _clear_cublas():
    clear = getattr(torch._C, "_cuda_clearCublasWorkspaces", None)
    if clear is not None:
        clear()


def _settle():
    gc.collect()
    torch.cuda.synchronize()
    _clear_cublas()  # cuBLAS keeps a workspace per handle: not ours to count


def check_cuda_memory_baseline(ctx):
    # warm up CUDA, cuBLAS and autocast so their one-time allocations are
    # not counted against the fit
    x = torch.randn(64, 64, device="cuda", requires_grad=True)
    with torch.autocast("cuda", dtype=torch.bfloat16 if bf16_native()
                        else torch.float16):
        (x @ x).float().sum().backward()
    del x
    # a table of several MiB, so that search data left on the GPU (the
    # device-resident splits) would exceed the margins below
    n_rows = 8000 if ctx.args.quick else 20000
    X, y = make_classification(n_samples=n_rows, n_features=64, n_informative=16,
                               class_sep=1.5, random_state=1)
    X = X.astype(np.float32)
    _settle()
    torch.cuda.empty_cache()
    before = torch.cuda.memory_allocated()
    clf, warned = fit(ctx.estimator(), X, y)
    all_ok(clf)
    _settle()
    after = torch.cuda.memory_allocated()
    held = cuda_bytes_held(net_of(clf))
    margin = 2 * MIB
    grown = after - before
    require(grown <= held + margin,
            f"{grown / MIB:.2f} MiB more allocated after fit; the fitted net holds "
            f"{held / MIB:.2f} MiB (+{margin / MIB:.0f} MiB margin)")
    del clf
    _settle()
    freed = torch.cuda.memory_allocated()
    torch.cuda.empty_cache()
    reserved = torch.cuda.memory_reserved()
    require(freed - before <= 1 * MIB,
            f"{(freed - before) / MIB:.2f} MiB still allocated after del + "
            "gc.collect()")
    return (f"data {X.nbytes / MIB:.1f} MiB; allocated {before / MIB:.2f} -> "
            f"{after / MIB:.2f} MiB after fit (net holds {held / MIB:.2f} MiB) -> "
            f"{freed / MIB:.2f} MiB after del; reserved after empty_cache "
            f"{reserved / MIB:.1f} MiB" + warn_text(warned))


CHECKS = (
    Check("fit_n_jobs2", check_fit_n_jobs2),
    Check("pickle_cpu_only_load", check_pickle_cpu_only_load),
    Check("pickle_no_lr_scheduler", check_pickle_no_lr_scheduler),
    Check("precision_auto", _precision_check("auto")),
    Check("precision_bf16", _precision_check("bf16")),
    Check("precision_fp16", _precision_check("fp16"), needs_cuda=True),
    Check("embed_mixed_frame", check_embed_mixed_frame),
    Check("cnn_images", check_cnn_images),
    Check("cuda_memory_baseline", check_cuda_memory_baseline, needs_cuda=True),
)


# ------------------------------------------------------------------ running
def run_check(check, ctx, no_cuda_reason):
    row = {"check": check.name, "device": "cuda" if check.needs_cuda else ctx.device,
           "needs_cuda": check.needs_cuda, "result": "SKIP", "seconds": 0.0,
           "detail": ""}
    if check.needs_cuda and not ctx.cuda:
        row["detail"] = no_cuda_reason
        return row
    t0 = time.perf_counter()
    try:
        row["detail"] = check.func(ctx) or ""
        row["result"] = "PASS"
    except Exception as exc:  # a FAIL row; the other checks still run
        row["result"] = "FAIL"
        row["detail"] = (str(exc) if isinstance(exc, CheckFailed)
                         else f"{type(exc).__name__}: {exc}")
        row["traceback"] = traceback.format_exc()
    row["seconds"] = round(time.perf_counter() - t0, 2)
    if ctx.cuda:
        gc.collect()
        torch.cuda.empty_cache()
    return row


def format_table(rows):
    w_name = max([len("check")] + [len(r["check"]) for r in rows])
    lines = [f"{'check':<{w_name}}  {'device':<6}  {'result':<6}  "
             f"{'seconds':>7}  detail"]
    lines.append("-" * len(lines[0]))
    for r in rows:
        detail = " ".join(r["detail"].split())
        if len(detail) > DETAIL_WIDTH:
            detail = detail[:DETAIL_WIDTH - 3] + "..."
        lines.append(f"{r['check']:<{w_name}}  {r['device']:<6}  {r['result']:<6}  "
                     f"{r['seconds']:>7.1f}  {detail}")
    return "\n".join(lines)


def environment(cuda):
    env = {"python": platform.python_version(), "torch": torch.__version__,
           "cuda_available": torch.cuda.is_available(), "used_cuda": cuda,
           "host": platform.node(), "cores": os.cpu_count()}
    if cuda:
        env["gpu"] = torch.cuda.get_device_name(0)
        env["bf16_native"] = bf16_native()
    return env


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="smaller data, fewer trials and epochs (the smoke test)")
    p.add_argument("--out", metavar="PATH", default=None,
                   help="also write the rows as JSON to PATH")
    p.add_argument("--no-gpu", action="store_true",
                   help="run on the CPU even when CUDA is available")
    p.add_argument("--only", default=None,
                   help="comma-separated check names to run (default: all)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads of this process during the run, restored "
                   "afterwards (default: 1 for a CPU-only run, else torch's own "
                   "setting)")
    p.add_argument("--n-samples", type=int, default=None,
                   help="rows of the tables (default 1200, --quick 320)")
    p.add_argument("--n-images", type=int, default=None,
                   help="digits images (default all 1797, --quick 480)")
    p.add_argument("--n-trials", type=int, default=None,
                   help="trials per fit (default 6, --quick 4)")
    p.add_argument("--max-epochs", type=int, default=None,
                   help="epochs per trial (default 6, --quick 3)")
    args = p.parse_args(argv)
    defaults = ({"n_samples": 320, "n_images": 480, "n_trials": 4, "max_epochs": 3}
                if args.quick else
                {"n_samples": 1200, "n_images": 1797, "n_trials": 6,
                 "max_epochs": 6})
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.n_samples < 100 or args.n_images < 100 or args.n_trials < 1 \
            or args.max_epochs < 1 or (args.threads is not None and args.threads < 1):
        p.error("--n-samples and --n-images must be >= 100, --n-trials, "
                "--max-epochs and --threads >= 1")
    names = [c.name for c in CHECKS]
    if args.only:
        args.only = [s.strip() for s in args.only.split(",") if s.strip()]
        unknown = sorted(set(args.only) - set(names))
        if unknown:
            p.error(f"unknown check(s) {unknown}; known: {names}")
    return args


def run(args):
    """Run the checks; the rows, in the order of ``CHECKS``."""
    cuda = torch.cuda.is_available() and not args.no_gpu
    reason = "--no-gpu" if args.no_gpu else "CUDA not available"
    ctx = Context(args, cuda)
    rows = []
    for check in CHECKS:
        if args.only and check.name not in args.only:
            continue
        print(f"  {check.name} ...", end=" ", flush=True)
        row = run_check(check, ctx, reason)
        print(f"{row['result']} ({row['seconds']:.1f} s)", flush=True)
        rows.append(row)
    return rows, environment(cuda)


def main(argv=None):
    """Run the checks, print the table, write ``--out``; the exit code."""
    args = parse_args(argv)
    t0 = time.perf_counter()
    cuda = torch.cuda.is_available() and not args.no_gpu
    env = environment(cuda)
    previous_threads = torch.get_num_threads()
    threads = args.threads if args.threads is not None else (None if cuda else 1)
    if threads is not None:
        torch.set_num_threads(threads)
    print(f"gpu_check: torch {env['torch']}, "
          f"{'GPU ' + env['gpu'] if cuda else 'no GPU (CPU rows only)'}; "
          f"{'quick' if args.quick else 'full'} run: {args.n_samples} rows, "
          f"{args.n_images} images, {args.n_trials} trials x {args.max_epochs} "
          f"epochs; torch threads {torch.get_num_threads()}", flush=True)
    try:
        rows, env = run(args)
    finally:
        torch.set_num_threads(previous_threads)
    total = time.perf_counter() - t0
    counts = {k: sum(r["result"] == k for r in rows) for k in ("PASS", "FAIL", "SKIP")}
    print()
    print(format_table(rows))
    print()
    print(f"{counts['PASS']} passed, {counts['FAIL']} failed, {counts['SKIP']} "
          f"skipped in {total:.0f} s")
    for r in rows:
        if r["result"] == "FAIL" and "traceback" in r:
            print(f"\n--- {r['check']} ---\n{r['traceback']}", end="")
    if args.out:
        payload = {"environment": env, "quick": args.quick,
                   "total_seconds": round(total, 2), "counts": counts,
                   "checks": rows}
        Path(args.out).write_text(json.dumps(payload, indent=2) + "\n")
    return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
