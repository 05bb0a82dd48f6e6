"""Serving under load: ``skautodl serve`` in one process, a bounded
concurrent load from another.

The script fits a model on breast cancer (or takes ``--model``), saves it in
the safe format, starts ``python -m skautodl serve`` on a free loopback port
and waits for ``GET /health``. Then this process sends ``--requests``
``POST /predict`` requests of ``--rows`` rows each from ``--concurrency``
threads (at most that many in flight: a bounded load), and prints:

* ``req_s``: requests answered per second of wall time;
* ``p50_ms`` / ``p99_ms``: latency percentiles of one request;
* ``errors``: answers that were not 200 or failed to arrive;
* ``workers``: server processes (``skautodl serve --workers``);
* ``mismatches``: answers whose predictions differ from the estimator's own
  ``predict`` on the same rows in this process (the target is 0 and 0).

Usage::

    PYTHONPATH=. python benchmarks/serve_load.py
    PYTHONPATH=. python benchmarks/serve_load.py --concurrency 1,8 --rows 1,100 \
        --workers 1,2
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url, payload):
    req = urllib.request.Request(url, data=payload, method="POST",
                                 headers={"Content-Type": "application/json"})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=60) as answer:
            body = json.loads(answer.read())
            status = answer.status
    except urllib.error.HTTPError as exc:
        body, status = None, exc.code
    except OSError:
        body, status = None, None
    return status, body, time.perf_counter() - start


def fit_model(path, budget, seed):
    import pandas as pd
    from sklearn.datasets import load_breast_cancer

    from skautodl import AutoDLClassifier, save

    data = load_breast_cancer(as_frame=True)
    X = data.data
    y = pd.Series(np.array(["malignant", "benign"])[data.target])
    clf = AutoDLClassifier(time_budget=budget, random_state=seed, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)
    save(clf, path)
    return X


def start_server(model, port, workers=1):
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep
           + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "skautodl", "serve", str(model), "--port", str(port),
         "--workers", str(workers)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server exited: " + proc.stderr.read().decode())
        try:
            with urllib.request.urlopen(url + "/health", timeout=5) as answer:
                if answer.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("the server did not answer /health within 120 s")


def run_load(url, estimator, X, *, requests, rows, concurrency, seed=0):
    """One load level: a dict of the measured figures."""
    rng = np.random.default_rng(seed)
    batches = [rng.integers(0, len(X), size=rows) for _ in range(requests)]
    bodies = [json.dumps(X.iloc[b].to_dict(orient="records")).encode()
              for b in batches]
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        answers = list(pool.map(lambda body: _post(url + "/predict", body), bodies))
    wall = time.perf_counter() - start
    latencies = np.array([a[2] for a in answers]) * 1000
    errors = sum(a[0] != 200 for a in answers)
    mismatches = 0
    for batch, (status, body, _) in zip(batches, answers, strict=True):
        if status == 200 and list(estimator.predict(X.iloc[batch])) != \
                body["predictions"]:
            mismatches += 1
    return {"concurrency": concurrency, "rows": rows, "requests": requests,
            "req_s": requests / wall, "rows_s": requests * rows / wall,
            "p50_ms": float(np.percentile(latencies, 50)),
            "p99_ms": float(np.percentile(latencies, 99)),
            "errors": int(errors), "mismatches": int(mismatches)}


def _ints(text):
    return [int(v) for v in text.split(",") if v]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None,
                        help="a saved model; default: fit one on breast cancer")
    parser.add_argument("--budget", type=float, default=30.0,
                        help="time_budget of the model fitted here")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rows", type=_ints, default=[1, 100])
    parser.add_argument("--concurrency", type=_ints, default=[1, 8])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=_ints, default=[1, 2],
                        help="server processes to compare")
    args = parser.parse_args(argv)

    from skautodl import load

    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or os.path.join(tmp, "model.skautodl")
        if args.model is None:
            X = fit_model(model, args.budget, args.seed)
        else:
            from sklearn.datasets import load_breast_cancer

            X = load_breast_cancer(as_frame=True).data
        estimator = load(model)
        results = []
        for workers in args.workers:
            proc, url = start_server(model, _free_port(), workers)
            try:
                results += [{"workers": workers,
                             **run_load(url, estimator, X, requests=args.requests,
                                        rows=rows, concurrency=c, seed=args.seed)}
                            for rows in args.rows for c in args.concurrency]
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    header = ("| workers | concurrency | rows/request | requests | req/s | rows/s "
              "| p50 ms | p99 ms | errors | mismatches |")
    print(header)
    print("|" + " --- |" * 10)
    for r in results:
        print(f"| {r['workers']} | {r['concurrency']} | {r['rows']} | "
              f"{r['requests']} | "
              f"{r['req_s']:.0f} | {r['rows_s']:.0f} | {r['p50_ms']:.1f} | "
              f"{r['p99_ms']:.1f} | {r['errors']} | {r['mismatches']} |")
    return results


if __name__ == "__main__":
    main()
