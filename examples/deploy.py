"""
==========================================================
Deployment: compress, save, load, export and serve a model
==========================================================

The way from a fitted :class:`~skautodl.AutoDLClassifier` to predictions
outside the Python session that trained it, on scikit-learn's breast cancer
data (569 tumours, 30 numeric columns, as a pandas DataFrame):

1. fit and score on a held-out test set;
2. compress it (pruning and int8 quantization) and read the report;
3. save both in skautodl's safe format and load them back;
4. export the uncompressed model to ONNX and TorchScript, and run the ONNX
   graph with onnxruntime;
5. serve the saved model over HTTP with ``python -m skautodl serve`` and
   query it with JSON records.

Each step checks its result against the estimator's own predictions and
stops with an error if they differ. Steps that need an optional extra are
skipped with a message when it is not installed: ONNX (``pip install
"skautodl[onnx]"``) and serving (``pip install "skautodl[serve]"``).

Run it with ``python examples/deploy.py`` (options: ``--time-budget``,
default 60 seconds, and ``--out-dir`` to keep the files; by default they go
to a temporary directory that is removed at the end). The environment
variable ``SKAUTODL_EXAMPLE_BUDGET`` caps the time budget (the test suite
runs this script with a few seconds).
"""

# %%
# Options and helpers
# -------------------
import argparse
import importlib.util
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

import skautodl
from skautodl import AutoDLClassifier
from skautodl.export import graph_inputs


def example_budget(seconds):
    """``seconds``, capped by the environment variable SKAUTODL_EXAMPLE_BUDGET."""
    cap = os.environ.get("SKAUTODL_EXAMPLE_BUDGET")
    return min(seconds, float(cap)) if cap else seconds


def check(ok, what):
    """Print that ``what`` holds, or stop the script saying it does not."""
    if not ok:
        sys.exit(f"check failed: {what}")
    print(f"  ok: {what}")


def installed(*modules):
    """Whether every one of ``modules`` can be imported."""
    return all(importlib.util.find_spec(m) is not None for m in modules)


parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[1])
parser.add_argument("--time-budget", type=float, default=60,
                    help="seconds for fit (default 60; capped by "
                         "SKAUTODL_EXAMPLE_BUDGET)")
parser.add_argument("--out-dir", default=None,
                    help="where to write the model files (default: a "
                         "temporary directory, removed at the end)")
args, _ = parser.parse_known_args()  # sphinx-gallery passes its own
budget = example_budget(args.time_budget)
if args.out_dir is None:
    tmp = tempfile.TemporaryDirectory(prefix="skautodl-deploy-")
    out_dir = Path(tmp.name)
else:
    tmp = None
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

# %%
# Fit and score
# -------------
# The labels are the class names ("malignant", "benign"), so predictions,
# files and HTTP answers all speak in names. ``verbose=0`` keeps the output
# to the lines printed here.
data = load_breast_cancer(as_frame=True)
X = data.data
y = pd.Series(np.asarray(data.target_names)[data.target], name="diagnosis")
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
print(f"train: {X_train.shape}, test: {X_test.shape}, time budget: {budget:g} s")

clf = AutoDLClassifier(time_budget=budget, random_state=0, verbose=0)
start = time.perf_counter()
clf.fit(X_train, y_train)
print(f"fit: {clf.n_trials_} trials in {time.perf_counter() - start:.1f} s, "
      f"{len(clf.ensemble_)} ensemble member(s)")
print(f"test accuracy: {clf.score(X_test, y_test):.4f}")

# %%
# Compress: pruning and int8 quantization
# ---------------------------------------
# Half of each linear layer's weights are set to zero, the networks are
# fine-tuned briefly on the training rows with those zeros kept, then their
# linear layers become int8. ``compress`` returns a new estimator; ``clf``
# is unchanged.
small = clf.compress(X_train, y_train, sparsity=0.5, quantize=True,
                     random_state=0)
report = small.compression_report_
print("\ncompression report:          before        after")
counts = ["file_bytes", "n_parameters", "n_nonzero"]
for key in [*counts, "weight_sparsity", "latency_ms", "validation_score"]:
    # None where a figure was not measured (report["notes"] says why)
    cells = ["-" if v is None else f"{int(v):,}" if key in counts else f"{v:.4g}"
             for v in (report["before"][key], report["after"][key])]
    print(f"  {key:<18} {cells[0]:>12} {cells[1]:>12}")
print(f"  file ratio: {report['file_ratio']:.2f}, "
      f"fine-tune epochs: {report['fine_tune_epochs']}")
for note in report["notes"]:
    print(f"  note: {note}")
print(f"test accuracy after compression: {small.score(X_test, y_test):.4f}")

# %%
# Save and load
# -------------
# :func:`skautodl.save` writes a zip of the weights (safetensors), the rest
# (skops, with a list of trusted types) and a manifest; loading runs no code
# from the file. ``metadata`` is kept in the manifest (``skautodl info``
# prints it; ``GET /metadata`` of the server answers it).
print("\nsave and load:")
model_path = out_dir / "model.skautodl"
small_path = out_dir / "model-small.skautodl"
skautodl.save(clf, model_path, metadata={"target": "diagnosis"})
skautodl.save(small, small_path, metadata={"target": "diagnosis"})
for path in (model_path, small_path):
    print(f"  {path.name}: {path.stat().st_size / 1e3:.1f} kB")
loaded = skautodl.load(model_path)
loaded_small = skautodl.load(small_path)
check(np.array_equal(loaded.predict(X_test), clf.predict(X_test)),
      "the loaded model predicts as the fitted one")
check(np.array_equal(loaded.predict_proba(X_test), clf.predict_proba(X_test)),
      "... with the same probabilities")
check(np.array_equal(loaded_small.predict_proba(X_test),
                     small.predict_proba(X_test)),
      "the loaded compressed model predicts as the compressed one")

# %%
# Export to ONNX and TorchScript
# ------------------------------
# Both files hold the whole prediction: the featurizers (numeric columns
# fold into the graph), every network of the ensemble, the blend and the
# temperature. The graph returns ``predict_proba``'s probabilities; its
# inputs come from :func:`skautodl.export.graph_inputs` (here one float64
# matrix ``X`` of the raw columns). The compressed model's int8 layers are
# not exported; export the uncompressed one.
print("\nexport:")
inputs = graph_inputs(clf, X_test)
expected = clf.predict_proba(X_test)
torchscript_path = clf.export_torchscript(out_dir / "model.pt")
print(f"  {Path(torchscript_path).name}: "
      f"{os.path.getsize(torchscript_path) / 1e3:.1f} kB")
import torch  # noqa: E402  (a dependency of skautodl; only needed here)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit's notice
    module = torch.jit.load(torchscript_path)
with torch.no_grad():
    proba = module(*(torch.tensor(v) for v in inputs.values())).numpy()
check(np.allclose(proba, expected, rtol=0, atol=1e-6),
      f"TorchScript matches predict_proba (largest difference "
      f"{np.abs(proba - expected).max():.1e})")

if not installed("onnx", "onnxscript"):
    print('  skipped ONNX: onnx and onnxscript are not installed '
          '(pip install "skautodl[onnx]")')
else:
    onnx_path = clf.export_onnx(out_dir / "model.onnx")
    print(f"  {Path(onnx_path).name}: {os.path.getsize(onnx_path) / 1e3:.1f} kB")
    if not installed("onnxruntime"):
        print("  skipped running the ONNX graph: onnxruntime is not installed")
    else:
        import onnxruntime as ort

        # float64 graphs match to ~1e-16; those onnxruntime runs in float32
        # only (images, GELU networks: export_onnx picks that) to ~1e-7
        session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
        tolerance = 1e-5
        proba = session.run(None, inputs)[0]
        check(np.allclose(proba, expected, rtol=0, atol=tolerance),
              f"onnxruntime matches predict_proba (largest difference "
              f"{np.abs(proba - expected).max():.1e})")
        labels = clf.classes_[proba.argmax(axis=1)]
        check(np.array_equal(labels, clf.predict(X_test)),
              "onnxruntime's labels equal predict")

# %%
# Serve over HTTP
# ---------------
# ``python -m skautodl serve`` (the ``skautodl serve`` command) loads the
# saved file and answers ``GET /health``, ``GET /metadata`` and
# ``POST /predict``, whose body is a list of records: one JSON object per
# row, column name to value. We start it on a free local port, wait until it
# is healthy, send five test rows with the standard library's urllib and
# stop it.


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_healthy(url, server, timeout=60):
    """Poll ``GET /health`` until it answers, the server exits or time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as answer:
                if answer.status == 200:
                    return True
        except OSError:  # not listening yet
            time.sleep(0.2)
    return False


print("\nserve:")
if not installed("fastapi", "uvicorn"):
    print('  skipped serving: fastapi and uvicorn are not installed '
          '(pip install "skautodl[serve]")')
else:
    url = f"http://127.0.0.1:{free_port()}"
    log_path = out_dir / "server.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "skautodl", "serve", str(model_path),
             "--port", url.rsplit(":", 1)[1]],
            stdout=log, stderr=subprocess.STDOUT)
    try:
        start = time.perf_counter()
        if not wait_until_healthy(url, server):
            sys.exit("the server did not become healthy; its log:\n"
                     + log_path.read_text(errors="replace"))
        print(f"  {url}/health answered after {time.perf_counter() - start:.1f} s")
        rows = X_test.head(5)
        body = json.dumps(rows.to_dict(orient="records")).encode()
        request = urllib.request.Request(
            url + "/predict", data=body, method="POST",
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as answer:
            result = json.loads(answer.read())
        print(f"  POST /predict with {len(rows)} records:")
        print(f"    predictions:   {result['predictions']}")
        print(f"    classes:       {result['classes']}")
        print("    probabilities: "
              f"{np.round(result['probabilities'], 4).tolist()}")
        check(result["predictions"] == loaded.predict(rows).tolist(),
              "the server's predictions equal the loaded model's")
        check(np.allclose(result["probabilities"], loaded.predict_proba(rows),
                          rtol=0, atol=1e-12),
              "... and so do its probabilities")
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    print("  server stopped")

if tmp is not None:
    tmp.cleanup()
print("\ndone")
