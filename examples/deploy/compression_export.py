"""
===================================================
Compress, save, load and export a model
===================================================

The way from a fitted :class:`~skautodl.AutoDLClassifier` to a file that
predicts elsewhere, on scikit-learn's breast cancer data (569 tumours, 30
numeric columns, as a pandas DataFrame):

1. fit and score on a held-out test set;
2. compress it (pruning and int8 quantization) and read the report;
3. save both in skautodl's safe format and load them back;
4. export the uncompressed model to TorchScript and ONNX, and run the ONNX
   graph with onnxruntime.

Each step checks its result against the estimator's own predictions and
stops with an error if they differ. The ONNX step needs the ``onnx`` extra
(``pip install "skautodl[onnx]"``) and says so when it is missing. Serving
the saved file over HTTP is the next example.

Run it with ``python examples/deploy/compression_export.py``;
``SKAUTODL_EXAMPLE_BUDGET`` caps the time budget (default 30 seconds). The
files go to a temporary directory, removed at the end.
"""

# %%
# Fit and score
# -------------
# The labels are the class names ("malignant", "benign"), so predictions
# and files speak in names.
import importlib.util
import os
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

import skautodl
from skautodl import AutoDLClassifier
from skautodl.export import graph_inputs

budget = min(30, float(os.environ.get("SKAUTODL_EXAMPLE_BUDGET", 30)))


def check(ok, what):
    """Print that ``what`` holds, or stop the script saying it does not."""
    if not ok:
        sys.exit(f"check failed: {what}")
    print(f"  ok: {what}")


data = load_breast_cancer(as_frame=True)
X = data.data
y = pd.Series(np.asarray(data.target_names)[data.target], name="diagnosis")
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0)
workdir = tempfile.TemporaryDirectory(prefix="skautodl-deploy-")
out_dir = Path(workdir.name)

clf = AutoDLClassifier(time_budget=budget, random_state=0, verbose=0)
clf.fit(X_train, y_train)
print(f"{clf.n_trials_} trials, {len(clf.ensemble_)} ensemble member(s); "
      f"test accuracy: {clf.score(X_test, y_test):.4f}")

# %%
# Compress: pruning and int8 quantization
# ---------------------------------------
# Half of each linear layer's weights are set to zero, the networks are
# fine-tuned briefly on the training rows with those zeros kept, then their
# linear layers become int8. ``compress`` returns a new estimator; ``clf``
# is unchanged. ``compression_report_`` says what it cost and saved.
small = clf.compress(X_train, y_train, sparsity=0.5, quantize=True,
                     random_state=0)
report = small.compression_report_
print("compression report:          before        after")
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
# prints it; a server's ``GET /metadata`` answers it).
model_path = out_dir / "model.skautodl"
small_path = out_dir / "model-small.skautodl"
skautodl.save(clf, model_path, metadata={"target": "diagnosis"})
skautodl.save(small, small_path, metadata={"target": "diagnosis"})
for path in (model_path, small_path):
    print(f"  {path.name}: {path.stat().st_size / 1e3:.1f} kB")
loaded = skautodl.load(model_path)
loaded_small = skautodl.load(small_path)
check(np.array_equal(loaded.predict_proba(X_test), clf.predict_proba(X_test)),
      "the loaded model predicts as the fitted one")
check(np.array_equal(loaded_small.predict_proba(X_test),
                     small.predict_proba(X_test)),
      "the loaded compressed model predicts as the compressed one")

# %%
# Export to TorchScript and ONNX
# ------------------------------
# Both files hold the whole prediction: the featurizers (numeric columns
# fold into the graph), every network of the ensemble, the blend and the
# temperature. The graph returns ``predict_proba``'s probabilities; its
# inputs come from :func:`skautodl.export.graph_inputs` (here one float64
# matrix ``X`` of the raw columns). The compressed model's int8 layers are
# not exported; export the uncompressed one.
inputs = graph_inputs(clf, X_test)
expected = clf.predict_proba(X_test)
torchscript_path = clf.export_torchscript(out_dir / "model.pt")
print(f"  {Path(torchscript_path).name}: "
      f"{os.path.getsize(torchscript_path) / 1e3:.1f} kB")
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit's notice
    module = torch.jit.load(torchscript_path)
with torch.no_grad():
    proba = module(*(torch.tensor(v) for v in inputs.values())).numpy()
check(np.allclose(proba, expected, rtol=0, atol=1e-6),
      f"TorchScript matches predict_proba (largest difference "
      f"{np.abs(proba - expected).max():.1e})")

# %%
# ONNX needs the ``onnx`` extra; onnxruntime runs the graph anywhere.
if not all(importlib.util.find_spec(m) for m in ("onnx", "onnxscript",
                                                   "onnxruntime")):
    print('  skipped ONNX: onnx, onnxscript and onnxruntime are not all '
          'installed (pip install "skautodl[onnx]")')
else:
    import onnxruntime as ort

    onnx_path = clf.export_onnx(out_dir / "model.onnx")
    print(f"  {Path(onnx_path).name}: {os.path.getsize(onnx_path) / 1e3:.1f} kB")
    # float64 graphs match to ~1e-16; those onnxruntime runs in float32
    # only (images, GELU networks: export_onnx picks that) to ~1e-7
    session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    proba = session.run(None, inputs)[0]
    check(np.allclose(proba, expected, rtol=0, atol=1e-5),
          f"onnxruntime matches predict_proba (largest difference "
          f"{np.abs(proba - expected).max():.1e})")
    check(np.array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X_test)),
          "onnxruntime's labels equal predict")

# %%
# Remove the temporary files.
workdir.cleanup()
print("done")
