"""
=====================================
Serve a model over HTTP
=====================================

``skautodl serve model.skautodl`` runs a saved model behind a FastAPI app
(the ``serve`` extra: ``pip install "skautodl[serve]"``) on uvicorn, bound
to ``127.0.0.1`` unless ``--host`` says otherwise. It answers
``GET /health``, ``GET /metadata`` and ``POST /predict``, whose body is a
list of records: one JSON object per row, column name to value, ``null``
for a missing value.

This example builds the same app in this process with
:func:`skautodl.serve.make_app` and talks to it through FastAPI's
``TestClient`` (which needs ``httpx``), so no port is opened. Against a
running server, the requests are the same: ``curl -s
localhost:8000/predict -H 'Content-Type: application/json' -d '[{...}]'``.

Run it with ``python examples/deploy/serving.py``;
``SKAUTODL_EXAMPLE_BUDGET`` caps the time budget (default 20 seconds).
"""

# %%
# Fit and save a model
# --------------------
# A table with a numeric and a categorical column, and missing values.
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from fastapi.testclient import TestClient
from sklearn.datasets import load_diabetes

import skautodl
from skautodl import AutoDLClassifier
from skautodl.persistence import read_manifest
from skautodl.serve import make_app

budget = min(20, float(os.environ.get("SKAUTODL_EXAMPLE_BUDGET", 20)))

raw = load_diabetes(scaled=False, as_frame=True).frame
X = pd.DataFrame({"age": raw["age"], "bmi": raw["bmi"], "bp": raw["bp"],
                  "sex": raw["sex"].map({1.0: "group 1", 2.0: "group 2"})})
y = np.where(raw["target"] > raw["target"].median(), "fast", "slow")
clf = AutoDLClassifier(time_budget=budget, random_state=0, verbose=0).fit(X, y)

workdir = tempfile.TemporaryDirectory(prefix="skautodl-serve-")
path = Path(workdir.name) / "progression.skautodl"
skautodl.save(clf, path, metadata={"target": "progression", "owner": "example"})
print(f"saved {path.name}: {path.stat().st_size / 1e3:.1f} kB")

# %%
# The app
# -------
# ``skautodl serve`` loads the file and builds this app; here we build it
# ourselves and send requests through a test client.
model = skautodl.load(path)
app = make_app(model, read_manifest(path))
http = TestClient(app)
print("GET /health:", http.get("/health").json())
metadata = http.get("/metadata").json()
print("GET /metadata (some keys):",
      json.dumps({k: metadata[k] for k in ("task", "classes", "metadata")
                  if k in metadata}))

# %%
# Predictions
# -----------
# Records as a list of objects; ``null`` is a missing value. The answer
# holds the predicted labels, and for a classifier each row's probabilities
# in the order of ``classes``.
records = [
    {"age": 59, "bmi": 32.1, "bp": 101, "sex": "group 2"},
    {"age": 48, "bmi": None, "bp": 87, "sex": "group 1"},
    {"age": 30, "bmi": 21.0, "bp": None, "sex": None},
]
answer = http.post("/predict", json=records)
result = answer.json()
print(f"POST /predict: {answer.status_code}")
print(f"  predictions:   {result['predictions']}")
print(f"  classes:       {result['classes']}")
print(f"  probabilities: {np.round(result['probabilities'], 3).tolist()}")
same = result["predictions"] == model.predict(pd.DataFrame(records)).tolist()
print(f"  the same as model.predict: {same}")

# %%
# Bad requests
# ------------
# A client's mistake gets a 4xx answer with a ``detail`` message, never a
# server error: here a missing column and text in a numeric column.
for bad in ([{"age": 59, "bmi": 32.1, "sex": "group 2"}],
            [{"age": "old", "bmi": 32.1, "bp": 101, "sex": "group 2"}]):
    answer = http.post("/predict", json=bad)
    print(f"{answer.status_code}: {answer.json()['detail']}")

# %%
# Results
# -------
workdir.cleanup()
print(f"served predictions for {len(result['predictions'])} records")
