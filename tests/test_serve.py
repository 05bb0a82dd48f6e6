"""``skautodl serve``: a real uvicorn server on a free loopback port, each
endpoint and each kind of bad request."""

import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from skautodl import AutoDLClassifier, save  # noqa: E402
from skautodl.utils._testing import CHECK_PARAMS  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(url, body=None, method=None, headers=None):
    """``(status, parsed JSON)`` of one HTTP request."""
    data = (body if body is None or isinstance(body, bytes)
            else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json",
                                          **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    rng = np.random.RandomState(0)
    X = pd.DataFrame({"x": rng.randn(80), "colour": rng.choice(["red", "blue"], 80)})
    y = np.where(X["x"] + (X["colour"] == "red") > 0.5, "yes", "no")
    clf = AutoDLClassifier(**CHECK_PARAMS).fit(X, y)
    save(clf, root / "m.skautodl", metadata={"target": "label"})
    return root / "m.skautodl", clf, X


def start(path, *options):
    """``(process, url)`` of ``skautodl serve path`` once it answers /health."""
    port = free_port()
    # the server's log goes to a file: an unread pipe would fill up and
    # block the server
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [sys.executable, "-m", "skautodl", "serve", str(path), "--port", str(port),
         *options],
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        try:
            if request(url + "/health")[0] == 200:
                break
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            log.seek(0)
            pytest.fail("the server did not start: "
                        + log.read().decode(errors="replace")[-2000:])
        time.sleep(0.3)
    return proc, url


@pytest.fixture(scope="module")
def server(model):
    path, clf, X = model
    proc, url = start(path, "--max-body-bytes", "20000")
    yield url, clf, X
    proc.terminate()
    proc.wait(timeout=30)


def test_several_worker_processes_serve_the_same_predictions(model):
    path, clf, X = model
    proc, url = start(path, "--workers", "2")
    try:
        status, out = request(url + "/predict", X.iloc[:10].to_dict(orient="records"))
        assert status == 200
        assert out["predictions"] == list(clf.predict(X.iloc[:10]))
        assert request(url + "/health") == (200, {"status": "ok"})
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_health_and_metadata(server):
    url, clf, _ = server
    assert request(url + "/health") == (200, {"status": "ok"})
    status, meta = request(url + "/metadata")
    assert status == 200
    assert meta["features"] == [{"name": "x", "kind": "numeric"},
                                {"name": "colour", "kind": "categorical"}]
    assert meta["classes"] == ["no", "yes"] and meta["task"] == "classification"
    assert meta["skautodl_version"] and meta["trained"].startswith("20")
    assert meta["metadata"] == {"target": "label"}


def test_predictions_equal_the_estimators(server):
    url, clf, X = server
    records = X.iloc[:25].to_dict(orient="records")
    status, out = request(url + "/predict", records)
    assert status == 200
    assert out["predictions"] == list(clf.predict(X.iloc[:25]))
    np.testing.assert_allclose(out["probabilities"], clf.predict_proba(X.iloc[:25]),
                               rtol=1e-12)
    assert out["classes"] == ["no", "yes"]
    # {"records": [...]}, a missing value, and the columns in another order
    status, out = request(url + "/predict",
                          {"records": [{"colour": "red", "x": None}]})
    assert status == 200
    expected = clf.predict(pd.DataFrame({"x": [np.nan], "colour": ["red"]}))
    assert out["predictions"] == list(expected)


@pytest.mark.parametrize("body, status, message", [
    (b"{not json", 400, "not valid JSON"),
    ([], 422, "non-empty list of records"),
    ({"x": 1.0}, 422, "non-empty list of records"),
    ([1, 2], 422, "record 0 is not an object"),
    ([{"x": 1.0}], 422, "missing column(s) ['colour']"),
    ([{"x": 1.0, "colour": "red", "size": 3}], 422, "unexpected column(s) ['size']"),
    ([{"x": "big", "colour": "red"}], 422, "column 'x' is numeric; got 'big'"),
    ([{"x": 1.0, "colour": ["red"]}], 422, "column 'colour' holds categories"),
    ([{"x": 1.0, "colour": 7}], 422, "colour"),
    ([{"x": 1.0, "colour": "red"}] * 1000, 413, "larger than 20000 bytes"),
])
def test_bad_requests_get_a_4xx_with_a_message(server, body, status, message):
    url, _, _ = server
    got, answer = request(url + "/predict", body)
    assert got == status, answer
    assert message in answer["detail"]


def test_serve_defaults_to_the_loopback_address():
    import inspect

    from skautodl.cli import build_parser
    from skautodl.serve import serve

    args = build_parser().parse_args(["serve", "m.skautodl"])
    assert args.host == "127.0.0.1"
    assert inspect.signature(serve).parameters["host"].default == "127.0.0.1"
