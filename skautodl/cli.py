"""The ``skautodl`` command: fit, predict, evaluate, export, compress, serve, info.

::

    skautodl fit train.csv --target label --time-budget 120 --out model.skautodl
    skautodl predict model.skautodl new.csv --out predictions.csv
    skautodl evaluate model.skautodl test.csv --target label
    skautodl export model.skautodl --format onnx
    skautodl compress model.skautodl train.csv --target label --out small.skautodl
    skautodl serve model.skautodl --port 8000
    skautodl info model.skautodl

Data files are CSV (``.csv``, ``.csv.gz``, ...) or Parquet (``.parquet``,
``.pq``; needs pyarrow). Models are written and read in the safe format of
:mod:`skautodl.persistence`. Every expected failure (a missing file, a
missing target column, columns that differ from the model's, an unreadable
or unsafe model file) prints one line, ``skautodl: error: ...``, to stderr
and exits with status 2; ``--debug`` shows the traceback instead. The
command sits above the estimators and uses only the public API and
:mod:`skautodl.persistence`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

#: exit status of every expected failure (argparse uses 2 for usage errors)
EXIT_ERROR = 2


class CommandError(Exception):
    """An expected failure of a command: printed as one line, no traceback.

    :func:`main` prints ``skautodl: error: <message>`` to stderr and returns
    ``EXIT_ERROR`` (2).
    """


def read_table(path):
    """Read a CSV or Parquet file (by its extension) into a DataFrame.

    Parameters
    ----------
    path : str or path-like
        A ``.parquet`` or ``.pq`` file (needs pyarrow), or a CSV file
        (``.csv``, or compressed, ``.csv.gz``...: whatever
        :func:`pandas.read_csv` reads).

    Returns
    -------
    pandas.DataFrame
        The table.

    Raises
    ------
    CommandError
        If the file does not exist or cannot be read (one line that names
        it), or it is Parquet and pyarrow is missing.

    See Also
    --------
    write_table : Write a table by its path's extension.
    """
    import pandas as pd

    path = os.fspath(path)
    if not os.path.exists(path):
        raise CommandError(f"no such file: {path}")
    lower = path.lower()
    try:
        if lower.endswith((".parquet", ".pq")):
            try:
                return pd.read_parquet(path)
            except ImportError as exc:
                raise CommandError(
                    f"reading Parquet needs pyarrow: pip install pyarrow ({path})"
                ) from exc
        return pd.read_csv(path)
    except CommandError:
        raise
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise CommandError(f"cannot read {path}: {type(exc).__name__}: {first}") \
            from exc


def write_table(frame, path):
    """Write ``frame`` to CSV or Parquet by ``path``'s extension, or to stdout.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table, written without its index.
    path : str, path-like or None
        A ``.parquet`` / ``.pq`` file, any other name for CSV; None or
        ``"-"`` writes CSV to stdout.

    See Also
    --------
    read_table : Read a table by its path's extension.
    """
    if path in (None, "-"):
        frame.to_csv(sys.stdout, index=False)
        return
    if os.fspath(path).lower().endswith((".parquet", ".pq")):
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)


def _split_target(frame, target, path):
    """``(X, y)``: ``y`` a Series for one target column, a DataFrame for
    several (multi-label or multi-output)."""
    targets = [target] if isinstance(target, str) else list(target)
    for name in targets:
        if name not in frame.columns:
            shown = ", ".join(map(str, list(frame.columns)[:10]))
            more = ", ..." if frame.shape[1] > 10 else ""
            raise CommandError(f"target column {name!r} is not in {path} "
                               f"(its columns: {shown}{more})")
        missing = int(frame[name].isna().sum())
        if missing:
            raise CommandError(f"target column {name!r} of {path} has {missing} "
                               "missing value(s); drop those rows")
    y = frame[targets[0]] if len(targets) == 1 else frame[targets]
    return frame.drop(columns=targets), y


def _task(y, task):
    """``"classification"`` or ``"regression"``: as given, else from ``y``
    (several target columns of 0/1 are a multi-label classification)."""
    if task is not None:
        return task
    from sklearn.utils.multiclass import type_of_target

    kind = type_of_target(y.to_numpy())
    if y.ndim == 2:
        return "classification" if kind == "multilabel-indicator" else "regression"
    if kind in ("binary", "multiclass"):
        # integer-valued floats with many distinct values are a quantity
        import pandas as pd

        if pd.api.types.is_float_dtype(y.dtype) and y.nunique() > 20:
            return "regression"
        return "classification"
    return "regression"


def model_columns(manifest):
    """Return the feature names a model expects, from its manifest.

    Parameters
    ----------
    manifest : dict
        The model file's manifest (:func:`skautodl.persistence.read_manifest`).

    Returns
    -------
    list or None
        The column names, in the model's order; None when the model was
        fitted on an array (no column names).
    """
    model = manifest.get("model", {})
    if not model.get("feature_names_known", False):
        return None
    return [f["name"] for f in model["features"]]


def align_columns(frame, manifest, path, *, target=None):
    """Put ``frame``'s columns in the model's order.

    The target column(s), when present, are dropped first.

    Parameters
    ----------
    frame : pandas.DataFrame
        The rows read from ``path``.
    manifest : dict
        The model file's manifest (:func:`skautodl.persistence.read_manifest`).
    path : str
        The file ``frame`` came from, for the error message.
    target : str, list of str or None, default=None
        The target column(s) to drop; None: those recorded in the
        manifest's ``metadata`` (as ``skautodl fit`` records them).

    Returns
    -------
    pandas.DataFrame or ndarray
        The columns in the model's order; an array when the model was
        fitted without column names (then only their number is checked).

    Raises
    ------
    CommandError
        If columns are missing or unexpected (naming them), or the number
        of columns is wrong.
    """
    expected = model_columns(manifest)
    if target is None:
        target = manifest.get("metadata", {}).get("target")
    targets = [] if target is None else [target] if isinstance(target, str) \
        else list(target)
    present = [t for t in targets if t in frame.columns]
    if present:
        frame = frame.drop(columns=present)
    if expected is None:
        n = len(manifest["model"]["features"])
        if frame.shape[1] != n:
            raise CommandError(f"{path} has {frame.shape[1]} columns; the model "
                               f"expects {n}")
        return frame.to_numpy()
    names = {str(c): c for c in frame.columns}
    missing = [c for c in expected if str(c) not in names]
    extra = [c for c in names if c not in {str(e) for e in expected}]
    if missing or extra:
        parts = []
        if missing:
            parts.append("missing column(s) " + ", ".join(map(repr, missing)))
        if extra:
            parts.append("unexpected column(s) " + ", ".join(map(repr, extra)))
        raise CommandError(f"{path} does not have the model's columns: "
                           + "; ".join(parts))
    return frame[[names[str(c)] for c in expected]]


def _load(path):
    from skautodl.persistence import load, read_manifest

    return load(path), read_manifest(path)


def cmd_fit(args):
    """Run ``skautodl fit``: search a model for a table and save it.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed arguments of the sub-command (see :func:`build_parser`).

    Returns
    -------
    int
        The exit status, 0.

    Raises
    ------
    CommandError
        If the table cannot be read, a target column is missing or has missing
        values, or a regression target is not numeric.
    """
    from skautodl import AutoDLClassifier, AutoDLRegressor, save

    frame = read_table(args.data)
    X, y = _split_target(frame, args.target, args.data)
    task = _task(y, args.task)
    cls = AutoDLClassifier if task == "classification" else AutoDLRegressor
    params = {"time_budget": args.time_budget, "checkpoint_dir": args.checkpoint_dir,
              "n_jobs": args.n_jobs, "random_state": args.random_state,
              "verbose": args.verbose}
    if args.n_trials is not None:
        params["n_trials"] = args.n_trials
    if args.device is not None:
        params["device"] = args.device
    if args.warm_start is not None:
        params["warm_start"] = args.warm_start
    estimator = cls(**params)
    numeric = all(_numeric(y[c]) for c in y.columns) if y.ndim == 2 else _numeric(y)
    if task == "regression" and not numeric:
        raise CommandError(f"target column(s) {', '.join(args.target)} not numeric; "
                           "use --task classification")
    estimator.fit(X, y.to_numpy())
    target = args.target[0] if len(args.target) == 1 else list(args.target)
    save(estimator, args.out, metadata={"target": target,
                                        "data": os.path.basename(args.data)})
    score_name = estimator.scoring or ("accuracy" if task == "classification"
                                       else "r2")
    print(f"{cls.__name__}: {estimator.n_trials_} trials in "
          f"{estimator.fit_time_:.1f}s, best validation {score_name} "
          f"{estimator.best_score_:.4f} (ensemble of {len(estimator.ensemble_)}: "
          f"{estimator.ensemble_score_:.4f}); saved to {args.out}")
    return 0


def _numeric(y):
    import pandas as pd

    return pd.api.types.is_numeric_dtype(y.dtype) and not pd.api.types.is_bool_dtype(
        y.dtype)


def predictions_frame(estimator, X, *, proba):
    """Predict ``X`` and return the predictions as a DataFrame.

    Parameters
    ----------
    estimator : AutoDLClassifier or AutoDLRegressor
        A fitted estimator.
    X : array-like or pandas.DataFrame
        Rows as ``estimator.predict`` takes them.
    proba : bool
        Add the class probabilities (classifiers only).

    Returns
    -------
    pandas.DataFrame
        A ``prediction`` column (``prediction_<j>`` per output of a 2-D
        target) and, with ``proba``, one ``proba_<class>`` column per class
        (``proba_<j>`` per label of a multi-label model).
    """
    import numpy as np
    import pandas as pd

    from skautodl.persistence import is_multilabel

    pred = np.asarray(estimator.predict(X))
    if pred.ndim == 2:
        out = pd.DataFrame(pred, columns=[f"prediction_{j}"
                                          for j in range(pred.shape[1])])
    else:
        out = pd.DataFrame({"prediction": pred})
    if proba and is_multilabel(estimator):
        for j, p in enumerate(estimator.predict_proba(X)):  # multi-label
            out[f"proba_{j}"] = p[:, 1]
    elif proba and hasattr(estimator, "predict_proba"):
        p = estimator.predict_proba(X)
        for j, c in enumerate(estimator.classes_):
            out[f"proba_{c}"] = p[:, j]
    return out


def cmd_predict(args):
    """Run ``skautodl predict``: write the predictions of a table's rows.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed arguments of the sub-command (see :func:`build_parser`).

    Returns
    -------
    int
        The exit status, 0.

    Raises
    ------
    CommandError
        If the table cannot be read or its columns differ from the model's.
    """
    estimator, manifest = _load(args.model)
    X = align_columns(read_table(args.data), manifest, args.data)
    write_table(predictions_frame(estimator, X, proba=args.proba), args.out)
    if args.out not in (None, "-"):
        print(f"{len(X)} predictions written to {args.out}", file=sys.stderr)
    return 0


def scores(estimator, X, y):
    """Score a fitted estimator on ``X, y`` with the usual metrics.

    Parameters
    ----------
    estimator : AutoDLClassifier or AutoDLRegressor
        A fitted estimator (not multi-label).
    X : array-like or pandas.DataFrame
        Rows as ``estimator.predict`` takes them.
    y : array-like of shape (n_samples,)
        The true targets; labels read back from a file as text (``"1"``
        for ``1``) are matched to the classes as text.

    Returns
    -------
    dict of str to float
        A classifier's ``accuracy``, ``balanced_accuracy``, ``log_loss``
        and, for two classes, ``roc_auc``; a regressor's ``r2``, ``mae``
        and ``rmse``.

    Raises
    ------
    CommandError
        For a multi-label model, or labels the model never saw.
    """
    import numpy as np
    from sklearn import metrics

    from skautodl.persistence import is_multilabel

    if is_multilabel(estimator):
        raise CommandError("evaluate takes one --target column; this is a "
                           "multi-label model (score it from Python)")
    if hasattr(estimator, "predict_proba"):
        y = np.asarray(y)
        unknown = sorted(set(map(str, np.unique(y)))
                         - set(map(str, estimator.classes_)))
        if unknown:
            raise CommandError(f"the target holds label(s) the model never saw: "
                               f"{', '.join(unknown[:5])}")
        if y.dtype != np.asarray(estimator.classes_).dtype:
            # labels read back from a file (e.g. 1 vs "1") compared as text
            lookup = {str(c): c for c in estimator.classes_}
            y = np.array([lookup[str(v)] for v in y], dtype=object)
        proba = estimator.predict_proba(X)
        pred = np.asarray(estimator.classes_)[proba.argmax(axis=1)]
        out = {"accuracy": metrics.accuracy_score(y.astype(str), pred.astype(str)),
               "balanced_accuracy": metrics.balanced_accuracy_score(
                   y.astype(str), pred.astype(str)),
               "log_loss": metrics.log_loss(y.astype(str), proba,
                                            labels=np.asarray(
                                                estimator.classes_).astype(str))}
        if len(estimator.classes_) == 2:
            out["roc_auc"] = metrics.roc_auc_score(
                (y.astype(str) == str(estimator.classes_[1])).astype(int),
                proba[:, 1])
        return out
    pred = estimator.predict(X)
    y = np.asarray(y, dtype=np.float64)
    return {"r2": metrics.r2_score(y, pred),
            "mae": metrics.mean_absolute_error(y, pred),
            "rmse": float(np.sqrt(metrics.mean_squared_error(y, pred)))}


def cmd_evaluate(args):
    """Run ``skautodl evaluate``: print the scores of a model on a labelled table.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed arguments of the sub-command (see :func:`build_parser`).

    Returns
    -------
    int
        The exit status, 0.

    Raises
    ------
    CommandError
        If the table cannot be read, the target is missing, or the columns or
        labels do not match the model.
    """
    estimator, manifest = _load(args.model)
    frame = read_table(args.data)
    X, y = _split_target(frame, args.target, args.data)
    X = align_columns(X, manifest, args.data, target=args.target)
    result = {"rows": len(y), **{k: float(v) for k, v in
                                 scores(estimator, X, y.to_numpy()).items()}}
    if args.json:
        print(json.dumps(result))
    else:
        width = max(map(len, result))
        for key, value in result.items():
            shown = value if key == "rows" else f"{value:.4f}"
            print(f"{key:<{width}}  {shown}")
    return 0


def cmd_export(args):
    """Run ``skautodl export``: write a model as ONNX or TorchScript.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed arguments of the sub-command (see :func:`build_parser`).

    Returns
    -------
    int
        The exit status, 0.

    Raises
    ------
    NotImplementedError
        For a model that cannot be exported (multi-label, tree members).
    ImportError
        For ONNX without the ``onnx`` extra.
    """
    estimator, _ = _load(args.model)
    suffix = {"onnx": ".onnx", "torchscript": ".pt"}[args.format]
    out = args.out or os.path.splitext(args.model)[0] + suffix
    method = getattr(estimator, f"export_{args.format}")
    method(out)
    print(f"exported {args.model} as {args.format} to {out}")
    return 0


def cmd_compress(args):
    """Run ``skautodl compress``: prune and quantize a model file.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed arguments of the sub-command (see :func:`build_parser`).

    Returns
    -------
    int
        The exit status, 0.

    Raises
    ------
    CommandError
        If DATA is given without ``--target``, or cannot be read or aligned.
    """
    from skautodl import save

    estimator, manifest = _load(args.model)
    X = y = None
    if args.data is not None:
        if args.target is None:
            raise CommandError("compress needs --target with DATA (the rows for "
                               "the fine-tune and the validation score)")
        X, y = _split_target(read_table(args.data), args.target, args.data)
        X = align_columns(X, manifest, args.data, target=args.target)
        y = y.to_numpy()
    small = estimator.compress(X, y, sparsity=args.sparsity,
                               quantize=not args.no_quantize,
                               random_state=args.random_state)
    save(small, args.out, metadata=manifest.get("metadata", {}))
    report = small.compression_report_
    before, after = report["before"], report["after"]
    print(f"compressed {args.model} -> {args.out}: file "
          f"{before['file_bytes'] / 1e6:.2f} -> {after['file_bytes'] / 1e6:.2f} MB, "
          f"validation score {_shown(before.get('validation_score'))} -> "
          f"{_shown(after.get('validation_score'))}")
    return 0


def _shown(value):
    return "n/a" if value is None else f"{value:.4f}"


def cmd_serve(args):
    """Run ``skautodl serve``: serve a model over HTTP until stopped.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed arguments of the sub-command (see :func:`build_parser`).

    Returns
    -------
    int
        The exit status, 0.

    Raises
    ------
    CommandError
        If FastAPI or uvicorn is missing (the ``serve`` extra).
    """
    try:
        import fastapi  # noqa: F401 - checked here for a clear message
        import uvicorn  # noqa: F401

        from skautodl.serve import serve
    except ImportError as exc:  # fastapi / uvicorn missing
        raise CommandError(f"serving needs the 'serve' extra: pip install "
                           f"'skautodl[serve]' ({exc})") from exc
    serve(args.model, host=args.host, port=args.port,
          max_body_bytes=args.max_body_bytes, workers=args.workers)
    return 0


def cmd_info(args):
    """Run ``skautodl info``: print a model file's manifest as JSON.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed arguments of the sub-command (see :func:`build_parser`).

    Returns
    -------
    int
        The exit status, 0.

    Raises
    ------
    skautodl.exceptions.ModelFileError
        If the file is not a readable skautodl model file.
    """
    from skautodl.persistence import read_manifest

    manifest = read_manifest(args.model)
    manifest.pop("sha256", None)
    print(json.dumps(manifest, indent=1))
    return 0


def build_parser():
    """Build the ``skautodl`` argument parser, one sub-command per action.

    Returns
    -------
    argparse.ArgumentParser
        The parser; each sub-command sets ``func`` to its ``cmd_*``
        function.

    Examples
    --------
    >>> from skautodl.cli import build_parser
    >>> args = build_parser().parse_args(
    ...     ["fit", "train.csv", "--target", "label", "--out", "m.skautodl"])
    >>> args.command, args.target, args.time_budget, args.func.__name__
    ('fit', ['label'], 60.0, 'cmd_fit')
    """
    parser = argparse.ArgumentParser(
        prog="skautodl",
        description="Automated deep learning on tables and images: fit, predict, "
                    "evaluate, export and serve models.")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("fit", help="search for a model on a CSV / Parquet table")
    p.add_argument("data", help="training data (.csv or .parquet)")
    p.add_argument("--target", required=True, nargs="+",
                   help="the column to predict; several columns: multi-label "
                        "(0/1 columns) or multi-output regression")
    p.add_argument("--task", choices=("classification", "regression"),
                   help="default: read off the target column")
    p.add_argument("--time-budget", type=float, default=60.0,
                   help="seconds for the whole fit (default 60)")
    p.add_argument("--n-trials", type=int, default=None)
    p.add_argument("--checkpoint-dir", default=None,
                   help="save the search after every trial; rerun to resume")
    p.add_argument("--n-jobs", type=int, default=1)
    p.add_argument("--device", default=None, help='"cpu", "cuda" or "auto"')
    p.add_argument("--random-state", type=int, default=0)
    p.add_argument("--verbose", type=int, default=1)
    p.add_argument("--warm-start", default=None, metavar="MODEL_OR_CHECKPOINT",
                   help="start from an earlier model file's (or checkpoint "
                        "directory's) search")
    p.add_argument("--out", required=True, help="the model file to write")
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser("predict", help="predict the rows of a table")
    p.add_argument("model")
    p.add_argument("data")
    p.add_argument("--out", default=None,
                   help="predictions file (.csv or .parquet); default stdout")
    p.add_argument("--proba", action="store_true",
                   help="add one probability column per class")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("evaluate", help="score a model on a labelled table")
    p.add_argument("model")
    p.add_argument("data")
    p.add_argument("--target", required=True)
    p.add_argument("--json", action="store_true", help="print the scores as JSON")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("export", help="export a model to ONNX or TorchScript")
    p.add_argument("model")
    p.add_argument("--format", required=True, choices=("onnx", "torchscript"))
    p.add_argument("--out", default=None,
                   help="default: the model's path with .onnx / .pt")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("compress", help="prune and int8-quantize a model")
    p.add_argument("model")
    p.add_argument("data", nargs="?", default=None,
                   help="labelled rows for the fine-tune and the validation "
                        "score (optional)")
    p.add_argument("--target", nargs="+", default=None)
    p.add_argument("--sparsity", type=float, default=0.5)
    p.add_argument("--no-quantize", action="store_true",
                   help="prune only (no int8 layers)")
    p.add_argument("--random-state", type=int, default=0)
    p.add_argument("--out", required=True, help="the compressed model file")
    p.set_defaults(func=cmd_compress)

    p = sub.add_parser("serve", help="serve a model over HTTP (needs the "
                                     "'serve' extra)")
    p.add_argument("model")
    p.add_argument("--host", default="127.0.0.1",
                   help="default 127.0.0.1 (this machine only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--max-body-bytes", type=int, default=None,
                   help="largest request body accepted, in bytes (default 10 MiB)")
    p.add_argument("--workers", type=int, default=1,
                   help="server processes (each loads the model; default 1)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("info", help="print a model file's manifest")
    p.add_argument("model")
    p.set_defaults(func=cmd_info)
    return parser


def _expected_errors():
    from skautodl.exceptions import SkautodlError

    return (CommandError, SkautodlError, FileNotFoundError, PermissionError,
            IsADirectoryError, ValueError, TypeError, KeyError, ImportError,
            NotImplementedError)


def main(argv=None):
    """Run the ``skautodl`` command line.

    Parameters
    ----------
    argv : list of str or None, default=None
        The arguments after the program name; None reads ``sys.argv``.

    Returns
    -------
    int
        The exit status: 0 on success, ``EXIT_ERROR`` (2) after an expected
        failure (a one-line ``skautodl: error: ...`` on stderr; ``--debug``
        raises it instead), 130 when interrupted.

    Raises
    ------
    SystemExit
        For invalid arguments or ``--help`` (from argparse).

    Examples
    --------
    >>> import os, tempfile
    >>> import pandas as pd
    >>> from sklearn.datasets import load_iris
    >>> from skautodl import AutoDLClassifier, save
    >>> from skautodl.cli import main
    >>> tmp = tempfile.TemporaryDirectory()
    >>> table = load_iris(as_frame=True).frame
    >>> data = os.path.join(tmp.name, "iris.csv")
    >>> table.to_csv(data, index=False)
    >>> X, y = table.drop(columns="target"), table["target"]
    >>> clf = AutoDLClassifier(time_budget=None, n_trials=1, families=["mlp"],
    ...                        cv=None, search_space={"max_epochs": 5},
    ...                        verbose=0, random_state=0).fit(X, y)
    >>> model = save(clf, os.path.join(tmp.name, "iris.skautodl"),
    ...              metadata={"target": "target"})
    >>> out = os.path.join(tmp.name, "predictions.csv")
    >>> main(["predict", model, data, "--proba", "--out", out])
    0
    >>> list(pd.read_csv(out).columns)
    ['prediction', 'proba_0', 'proba_1', 'proba_2']
    >>> main(["evaluate", model, data, "--target", "target", "--json"])
    {"rows": 150, "accuracy": ..., "log_loss": ...}
    0
    >>> tmp.cleanup()

    The same from a shell: ``skautodl fit iris.csv --target target --out
    iris.skautodl``, then ``skautodl predict iris.skautodl iris.csv``.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("skautodl: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader of stdout left (``skautodl predict ... | head``): not an
        # error; stdout goes to /dev/null so the interpreter's flush is quiet
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except _expected_errors() as exc:
        if args.debug:
            raise
        text = " ".join(str(exc).split()) or type(exc).__name__
        if isinstance(exc, KeyError):
            text = f"missing key {text}"
        print(f"skautodl: error: {text}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
