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
    """An expected failure of a command: printed as one line, no traceback."""


def read_table(path):
    """A CSV or Parquet file as a DataFrame, with a one-line error when it
    cannot be read."""
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
    """Write ``frame`` to CSV or Parquet by ``path``'s extension, or to stdout."""
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
    """The feature names a model expects (None when it was fitted on arrays)."""
    model = manifest.get("model", {})
    if not model.get("feature_names_known", False):
        return None
    return [f["name"] for f in model["features"]]


def align_columns(frame, manifest, path, *, target=None):
    """``frame``'s columns in the model's order; a clear error naming the
    columns that are missing or unexpected. The model's target column, if
    recorded, is dropped."""
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
    """Predictions (and class probabilities) of ``X`` as a DataFrame."""
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
    estimator, manifest = _load(args.model)
    X = align_columns(read_table(args.data), manifest, args.data)
    write_table(predictions_frame(estimator, X, proba=args.proba), args.out)
    if args.out not in (None, "-"):
        print(f"{len(X)} predictions written to {args.out}", file=sys.stderr)
    return 0


def scores(estimator, X, y):
    """The usual scores of a fitted estimator on ``X, y``, as a dict."""
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
    estimator, _ = _load(args.model)
    suffix = {"onnx": ".onnx", "torchscript": ".pt"}[args.format]
    out = args.out or os.path.splitext(args.model)[0] + suffix
    method = getattr(estimator, f"export_{args.format}")
    method(out)
    print(f"exported {args.model} as {args.format} to {out}")
    return 0


def cmd_compress(args):
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
          f"validation score {_shown(before.get('score'))} -> "
          f"{_shown(after.get('score'))}")
    return 0


def _shown(value):
    return "n/a" if value is None else f"{value:.4f}"


def cmd_serve(args):
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
    from skautodl.persistence import read_manifest

    manifest = read_manifest(args.model)
    manifest.pop("sha256", None)
    print(json.dumps(manifest, indent=1))
    return 0


def build_parser():
    """The ``skautodl`` argument parser (one sub-command per action)."""
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
                   help="largest request body accepted (default 10 MB)")
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
    """Run the command line; returns the exit status."""
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
