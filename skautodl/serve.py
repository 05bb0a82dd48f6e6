"""The HTTP app of ``skautodl serve``: FastAPI on uvicorn (the ``serve`` extra).

Endpoints:

``POST /predict``
    A JSON body: a list of records (``[{"column": value, ...}, ...]``) or
    ``{"records": [...]}``. The answer is ``{"predictions": [...]}``, plus
    ``"probabilities"`` (one list per row, columns in the order of
    ``"classes"``) for a classifier.
``GET /health``
    ``{"status": "ok"}`` once the model is loaded.
``GET /metadata``
    The model's features with their kinds, classes, task, scores, the
    skautodl version and the training date (from the model file's manifest).

Bad requests get a 4xx answer whose ``detail`` says what is wrong, never a
500: invalid JSON (400), a body that is not a list of records, missing or
unexpected columns, values of the wrong type (422), a body over
``max_body_bytes`` (413, default 10 MB). The server binds to 127.0.0.1
unless told otherwise. Predictions run in FastAPI's thread pool on the one
loaded estimator, which a prediction never changes (safe to share).
"""

# no ``from __future__ import annotations``: FastAPI reads the endpoint's
# ``Request`` annotation, imported inside make_app, at definition time
import json
import math
import numbers

import numpy as np

#: default largest request body, in bytes
MAX_BODY_BYTES = 10 * 1024 * 1024


class RequestError(Exception):
    """A bad request: its HTTP status and a message for the client."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def parse_records(body, metadata):
    """The rows of a ``/predict`` body as a DataFrame in the model's column
    order, or a :class:`RequestError` that says what is wrong."""
    import pandas as pd

    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError(400, f"the body is not valid JSON: {exc}") from exc
    if isinstance(data, dict) and "records" in data:
        data = data["records"]
    if not isinstance(data, list) or not data:
        raise RequestError(422, 'the body must be a non-empty list of records '
                                '(or {"records": [...]})')
    features = metadata["features"]
    names = [str(f["name"]) for f in features]
    wanted = set(names)
    for i, record in enumerate(data):
        if not isinstance(record, dict):
            raise RequestError(422, f"record {i} is not an object of "
                                    "column: value pairs")
        keys = set(record)
        missing, extra = sorted(wanted - keys), sorted(keys - wanted)
        if missing or extra:
            parts = ([f"missing column(s) {missing}"] if missing else []) + \
                ([f"unexpected column(s) {extra}"] if extra else [])
            raise RequestError(422, f"record {i}: " + "; ".join(parts))
    columns = {}
    for feature, name in zip(features, names, strict=True):
        values = [record[name] for record in data]
        if feature["kind"] == "numeric":
            for i, v in enumerate(values):
                if v is not None and not isinstance(v, numbers.Real):
                    raise RequestError(422, f"record {i}: column {name!r} is "
                                            f"numeric; got {v!r}")
            values = np.array([np.nan if v is None else v for v in values],
                              dtype=np.float64)
        else:
            for i, v in enumerate(values):
                if isinstance(v, dict | list):
                    raise RequestError(422, f"record {i}: column {name!r} holds "
                                            f"categories; got {v!r}")
            values = pd.Series(values, dtype=object)
        columns[name] = values
    frame = pd.DataFrame(columns)
    if not metadata.get("feature_names_known", True):
        return frame.to_numpy(dtype=np.float64)
    original = [f["name"] for f in features]
    return frame.set_axis(original, axis=1)


def _plain(values):
    out = []
    for v in np.asarray(values).tolist():
        if isinstance(v, float) and not math.isfinite(v):
            v = None
        out.append(v)
    return out


def predict_payload(estimator, X):
    """The ``/predict`` answer for the rows ``X``."""
    from skautodl.persistence import is_multilabel

    if is_multilabel(estimator):
        # multi-label: the indicator row and each label's probability
        proba = estimator.predict_proba(X)
        return {"predictions": np.asarray(estimator.predict(X)).tolist(),
                "probabilities": np.column_stack([p[:, 1] for p in proba]).tolist()}
    if hasattr(estimator, "predict_proba"):
        proba = estimator.predict_proba(X)
        classes = np.asarray(estimator.classes_)
        return {"predictions": _plain(classes[proba.argmax(axis=1)]),
                "probabilities": np.asarray(proba, dtype=float).tolist(),
                "classes": _plain(classes)}
    return {"predictions": _plain(estimator.predict(X))}


def make_app(estimator, manifest, *, max_body_bytes=None):
    """The FastAPI app serving ``estimator`` (with its file's ``manifest``)."""
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    limit = int(max_body_bytes or MAX_BODY_BYTES)
    metadata = {**manifest.get("model", {}),
                "skautodl_version": manifest.get("versions", {}).get("skautodl"),
                "trained": manifest.get("created"),
                "versions": manifest.get("versions", {}),
                "metadata": manifest.get("metadata", {})}
    app = FastAPI(title="skautodl model", version=str(metadata["skautodl_version"]))

    def error(status, message):
        return JSONResponse({"detail": message}, status_code=status)

    @app.get("/health")
    def health():
        return {"status": "ok"}

    @app.get("/metadata")
    def get_metadata():
        return metadata

    @app.post("/predict")
    async def predict(request: Request):
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return error(413, f"the body is larger than {limit} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                return error(413, f"the body is larger than {limit} bytes")
        try:
            X = parse_records(bytes(body), metadata)
        except RequestError as exc:
            return error(exc.status, str(exc))
        from starlette.concurrency import run_in_threadpool

        try:
            return await run_in_threadpool(predict_payload, estimator, X)
        except (ValueError, TypeError) as exc:
            # the estimator's own input checks (e.g. a category column that
            # received numbers): the client's data, not the server, is wrong
            return error(422, " ".join(str(exc).split()))

    return app


#: environment variables through which worker processes find their model
_ENV_MODEL, _ENV_LIMIT = "SKAUTODL_SERVE_MODEL", "SKAUTODL_SERVE_MAX_BODY_BYTES"


def app_from_env():
    """The app of a worker process (``workers > 1``): the model file and the
    body limit come from the environment :func:`serve` set."""
    import os

    from skautodl.persistence import load, read_manifest

    path = os.environ[_ENV_MODEL]
    limit = os.environ.get(_ENV_LIMIT) or None
    return make_app(load(path), read_manifest(path),
                    max_body_bytes=None if limit is None else int(limit))


def serve(path, *, host="127.0.0.1", port=8000, max_body_bytes=None,
          log_level="info", workers=1):
    """Load the model file ``path`` and serve it with uvicorn until stopped.

    Parameters
    ----------
    path : str or path-like
        A model written by :func:`skautodl.save`.
    host : str, default="127.0.0.1"
        The address to bind; the default accepts connections from this
        machine only. ``"0.0.0.0"`` exposes the model to the network.
    port : int, default=8000
    max_body_bytes : int, optional
        The largest request body accepted (default 10 MB); larger ones get
        413.
    log_level : str, default="info"
    workers : int, default=1
        Server processes, each with its own copy of the model. Prediction
        holds Python's interpreter lock for most of its time, so one process
        answers one request at a time; more processes answer more at once
        (up to the number of cores). Each worker runs torch on one thread.
    """
    import os

    import uvicorn

    from skautodl.persistence import load, read_manifest

    if int(workers) > 1:
        read_manifest(path)  # a bad file fails here, once, not in each worker
        os.environ[_ENV_MODEL] = os.fspath(path)
        os.environ[_ENV_LIMIT] = "" if max_body_bytes is None else str(max_body_bytes)
        # set before the workers start, so each inherits it: workers times
        # torch's default threads would oversubscribe the cores
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        uvicorn.run("skautodl.serve:app_from_env", factory=True, host=host,
                    port=int(port), workers=int(workers), log_level=log_level)
        return
    estimator = load(path)
    app = make_app(estimator, read_manifest(path), max_body_bytes=max_body_bytes)
    uvicorn.run(app, host=host, port=int(port), log_level=log_level)
