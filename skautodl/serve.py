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
``max_body_bytes`` (413, default 10 MiB). The server binds to 127.0.0.1
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
    """A bad request: its HTTP status and a message for the client.

    Parameters
    ----------
    status : int
        The HTTP status to answer with (400, 413 or 422).
    message : str
        What is wrong, for the client (the answer's ``detail``).
    """

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def parse_records(body, metadata):
    """Parse the body of a ``/predict`` request into the model's input rows.

    Parameters
    ----------
    body : bytes or str
        The request body: JSON, a list of records (``[{"column": value,
        ...}, ...]``) or ``{"records": [...]}``.
    metadata : dict
        The model's description (:func:`skautodl.persistence.describe`):
        its ``features`` (names and kinds) and ``feature_names_known``.

    Returns
    -------
    pandas.DataFrame or ndarray
        The rows in the model's column order, numeric columns as float64
        (``None`` becomes NaN) and categorical ones as objects; a float64
        array when the model was fitted without column names.

    Raises
    ------
    RequestError
        With status 400 for invalid JSON, 422 for a body that is not a
        non-empty list of records, a record with missing or unexpected
        columns, or a value of the wrong type.

    Examples
    --------
    >>> from skautodl.serve import RequestError, parse_records
    >>> metadata = {"features": [{"name": "age", "kind": "numeric"},
    ...                          {"name": "city", "kind": "categorical"}]}
    >>> parse_records(b'[{"age": 31, "city": "Lyon"}, {"age": null, "city": "Oslo"}]',
    ...               metadata)
        age  city
    0  31.0  Lyon
    1   NaN  Oslo
    >>> try:
    ...     parse_records(b'[{"age": "old", "city": "Lyon"}]', metadata)
    ... except RequestError as exc:
    ...     print(exc.status, exc)
    422 record 0: column 'age' is numeric; got 'old'
    """
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
    """Predict the rows ``X`` and build the ``/predict`` answer.

    Parameters
    ----------
    estimator : AutoDLClassifier or AutoDLRegressor
        A fitted estimator.
    X : array-like or pandas.DataFrame
        Rows as ``estimator.predict`` takes them.

    Returns
    -------
    dict
        ``{"predictions": [...]}``; a classifier adds ``"probabilities"``
        (one list per row) and ``"classes"`` (their column order), a
        multi-label classifier the indicator rows as ``"predictions"`` and
        each label's probability as ``"probabilities"``. Non-finite values
        become None (JSON's null).
    """
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
    """Build the FastAPI app that serves ``estimator``.

    Parameters
    ----------
    estimator : AutoDLClassifier or AutoDLRegressor
        A fitted estimator; predictions never change it, so the app's
        threads share it.
    manifest : dict
        The manifest of its model file (:func:`skautodl.persistence.read_manifest`):
        ``GET /metadata`` answers its ``model`` description with the
        versions, the training date and the user's metadata.
    max_body_bytes : int or None, default=None
        The largest request body accepted; larger ones get 413. None:
        ``MAX_BODY_BYTES`` (10 MiB).

    Returns
    -------
    fastapi.FastAPI
        The app, with the endpoints ``POST /predict``, ``GET /health`` and
        ``GET /metadata`` (see the module's description).

    Raises
    ------
    ImportError
        If FastAPI is not installed (the ``serve`` extra).

    See Also
    --------
    serve : Load a model file and run this app with uvicorn.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_iris
    >>> from skautodl import AutoDLClassifier, load, save
    >>> from skautodl.persistence import read_manifest
    >>> from skautodl.serve import make_app
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = AutoDLClassifier(time_budget=None, n_trials=1, families=["mlp"],
    ...                        cv=None, search_space={"max_epochs": 5},
    ...                        verbose=0, random_state=0).fit(X, y)
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = save(clf, os.path.join(tmp.name, "iris.skautodl"))
    >>> app = make_app(load(path), read_manifest(path))
    >>> sorted(route.path for route in app.routes
    ...        if route.path in ("/predict", "/health", "/metadata"))
    ['/health', '/metadata', '/predict']
    >>> tmp.cleanup()
    """
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
    """Build the app of a worker process from the environment :func:`serve` set.

    With ``workers > 1`` uvicorn starts each worker through this factory:
    the model file and the body limit come from the environment variables
    ``SKAUTODL_SERVE_MODEL`` and ``SKAUTODL_SERVE_MAX_BODY_BYTES``.

    Returns
    -------
    fastapi.FastAPI
        The app of :func:`make_app` for the model file named there.

    Raises
    ------
    KeyError
        If ``SKAUTODL_SERVE_MODEL`` is not set.
    """
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
        The TCP port to listen on.
    max_body_bytes : int, optional
        The largest request body accepted (default 10 MiB); larger ones get
        413.
    log_level : str, default="info"
        The log level of uvicorn (``"critical"``, ``"error"``, ``"warning"``,
        ``"info"``, ``"debug"``, ``"trace"``).
    workers : int, default=1
        Server processes, each with its own copy of the model. Prediction
        holds Python's interpreter lock for most of its time, so one process
        answers one request at a time; more processes answer more at once
        (up to the number of cores). With more than one, each worker runs
        torch on one thread (``OMP_NUM_THREADS=1`` unless it is set).

    Raises
    ------
    ImportError
        If uvicorn or FastAPI is not installed (the ``serve`` extra).
    FileNotFoundError
        If there is no file at ``path``.
    skautodl.exceptions.ModelFileError
        If ``path`` is not a valid model file.

    See Also
    --------
    make_app : The app this serves.

    Examples
    --------
    >>> from skautodl.serve import serve
    >>> serve("iris.skautodl", port=8080)  # doctest: +SKIP
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
