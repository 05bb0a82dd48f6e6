"""Safe persistence: :func:`save` and :func:`load` a fitted estimator.

Pickle (and joblib, which uses it) runs code named by the file when it
loads: a model file from an untrusted source can do anything the reading
process can. The format written here runs no code from the file:

* the network weights are stored with safetensors (tensors only, read by a
  parser that builds nothing else);
* everything else (the estimator's parameters and fitted attributes, the
  featurizers, the networks' constructor arguments, tree members) is stored
  with skops, which rebuilds objects only of types on an explicit list: the
  types skops trusts by default (builtins, numpy, scipy, scikit-learn's
  estimators) plus :data:`TRUSTED_TYPES`, skautodl's own featurizers and
  tree members. A file naming any other type is refused before anything
  is built. The network classes come from the same kind of list: only
  ``torch.nn.Module`` subclasses defined in :mod:`skautodl.networks`.

A file is a zip archive of three entries: ``manifest.json`` (format name and
version, the versions that wrote it, the estimator's class and a SHA-256 of
each other entry), ``estimator.skops`` and ``weights.safetensors``. A file
that was truncated, edited, or written by an incompatible format version
fails with :class:`~skautodl.exceptions.ModelFileError`, which says which.
The checksums catch accidents, not forgers (anyone can recompute them):
safety against a hostile file comes from the two parsers, not the sums.

The networks are rebuilt for prediction: their weights, constructor
arguments and what ``predict`` needs (classes, target scaling), not their
optimizer state or training history, so a loaded estimator predicts exactly
as the saved one did and its file is smaller than a pickle. ``searcher_``
(the search strategy's internal state) is not saved; it is ``None`` after
:func:`load`. ``fit`` on a loaded estimator starts a new search, as on any
scikit-learn estimator.
"""

from __future__ import annotations

import datetime
import hashlib
import importlib
import json
import os
import zipfile

import numpy as np
import pandas as pd
import sklearn
import torch

from skautodl.exceptions import ModelFileError

#: the format's name in the manifest, and its version: a file of a higher
#: version is refused (this release cannot know what it added)
FORMAT = "skautodl-model"
FORMAT_VERSION = 1

#: skautodl's own types a model file may contain, besides the types skops
#: trusts by default; anything else is refused at load
TRUSTED_TYPES = (
    "skautodl.data.featurize.TabularFeaturizer",
    "skautodl.data.featurize.ImageFeaturizer",
    "skautodl.data.featurize._Prescale",
    "skautodl.data.featurize._RobustScaler",
    "skautodl.data.featurize._CodeEncoder",
    "skautodl.data.featurize._smooth_clip",
    "skautodl.networks.hgb.HGBClassifierModel",
    "skautodl.networks.hgb.HGBRegressorModel",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "numpy.dtype",
    "sklearn.model_selection._split.KFold",
    "sklearn.model_selection._split.StratifiedKFold",
    "sklearn.model_selection._split.ShuffleSplit",
    "sklearn.model_selection._split.StratifiedShuffleSplit",
    "sklearn.model_selection._split.PredefinedSplit",
)

_ESTIMATORS = ("AutoDLClassifier", "AutoDLRegressor")
_NETS = ("AutoNetClassifier", "AutoNetRegressor", "AutoNetMultilabel")
#: fitted attributes stored in their own form (or not at all)
_SPECIAL = ("ensemble_", "best_estimator_", "leaderboard_", "searcher_")
#: what a net needs at predict besides its weights: a regressor's target
#: scaling; what :mod:`skautodl.compression` did to it
_NET_EXTRAS = ("target_mean_", "target_scale_", "target_ndim_", "compression_",
               "label_dtype")


def _skops():
    try:
        import skops.io as sio
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise ImportError("skautodl.save/load need skops: pip install skops") from exc
    return sio


def _is_net(obj):
    from skorch import NeuralNet

    return isinstance(obj, NeuralNet)


class _Writer:
    """Turns members into plain specs, collecting the networks' tensors.

    A net object met again (``best_estimator_`` is usually also an ensemble
    member) gets the spec of its first visit, so its weights are stored once.
    """

    def __init__(self):
        self.tensors = {}
        # id(net) -> (net, spec); the net is kept so its id stays its own
        self._written = {}

    def net(self, net):
        if id(net) in self._written:
            return dict(self._written[id(net)][1])
        if type(net).__name__ not in _NETS:
            raise ModelFileError(
                f"Cannot save a network of type {type(net).__name__} safely; only "
                f"skautodl's own nets ({', '.join(_NETS)}) are supported.")
        module_cls = net.module if isinstance(net.module, type) else type(net.module)
        key = f"net{len(self._written)}"
        state = net.module_.state_dict()
        if getattr(net, "compression_", None):
            # int8 layers hold packed weights: stored as plain tensors
            from skautodl.compression import state_for_saving

            state = state_for_saving(net.module_)
        for name, tensor in state.items():
            # a copy: safetensors refuses tensors that share memory
            self.tensors[f"{key}.{name}"] = tensor.detach().cpu().contiguous().clone()
        params = net.get_params(deep=False)
        spec = {
            "kind": "net",
            "net_class": type(net).__name__,
            "module": f"{module_cls.__module__}.{module_cls.__qualname__}",
            "module_params": {k[len("module__"):]: v for k, v in params.items()
                              if k.startswith("module__")},
            "classes": (None if getattr(net, "classes", None) is None
                        else np.asarray(net.classes)),
            "batch_size": int(net.batch_size),
            "extras": {k: getattr(net, k) for k in _NET_EXTRAS if hasattr(net, k)},
            "weights": key,
        }
        self._written[id(net)] = (net, spec)
        return dict(spec)

    def member(self, model):
        from sklearn.pipeline import Pipeline

        from skautodl.ensemble import BaggedModel

        if isinstance(model, BaggedModel):
            return {"kind": "bagged", "models": [self.member(m) for m in model.models]}
        if isinstance(model, Pipeline) and _is_net(model.steps[-1][1]):
            return {"kind": "pipeline",
                    "steps": [(name, step) for name, step in model.steps[:-1]],
                    "net_name": model.steps[-1][0],
                    "net": self.net(model.steps[-1][1])}
        if _is_net(model):
            return self.net(model)
        return {"kind": "sklearn", "model": model}


def _network_class(path):
    """The module class named ``path``, only if skautodl's networks define it."""
    module_name, _, name = path.rpartition(".")
    if not (module_name == "skautodl.networks"
            or module_name.startswith("skautodl.networks.")):
        raise ModelFileError(
            f"The model file names the network class {path!r}, which is not one "
            "of skautodl's networks; refusing to load it.")
    try:
        cls = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as exc:
        raise ModelFileError(
            f"The network class {path!r} of the model file does not exist in this "
            "version of skautodl.") from exc
    if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
        raise ModelFileError(f"{path!r} is not a network class; refusing to load it.")
    return cls


class _Reader:
    """Rebuilds members from their specs; one net object per weights key."""

    def __init__(self, tensors, device):
        self.tensors = tensors
        self.device = device
        # weights key -> the net rebuilt from it: a net saved once for two
        # places (an ensemble member and best_estimator_) is one object again
        self._nets = {}

    def net(self, spec):
        if spec["weights"] not in self._nets:
            self._nets[spec["weights"]] = self._build(spec)
        return self._nets[spec["weights"]]

    def _build(self, spec):
        from skautodl.training.net import (
            AutoNetClassifier,
            AutoNetMultilabel,
            AutoNetRegressor,
        )

        if spec["net_class"] not in _NETS:
            raise ModelFileError(f"Unknown network wrapper {spec['net_class']!r}.")
        net_cls = {"AutoNetClassifier": AutoNetClassifier,
                   "AutoNetRegressor": AutoNetRegressor,
                   "AutoNetMultilabel": AutoNetMultilabel}[spec["net_class"]]
        kwargs = {f"module__{k}": v for k, v in spec["module_params"].items()}
        if spec["classes"] is not None:
            kwargs["classes"] = list(spec["classes"])
        criterion = {AutoNetClassifier: torch.nn.CrossEntropyLoss,
                     AutoNetRegressor: torch.nn.MSELoss,
                     AutoNetMultilabel: torch.nn.BCEWithLogitsLoss}[net_cls]
        net = net_cls(_network_class(spec["module"]), criterion=criterion,
                      batch_size=spec["batch_size"], device=self.device,
                      train_split=None, verbose=0, **kwargs)
        with torch.random.fork_rng():  # initialization must not move the
            net.initialize()           # caller's random state
        prefix = spec["weights"] + "."
        state = {k[len(prefix):]: v for k, v in self.tensors.items()
                 if k.startswith(prefix)}
        try:
            if spec["extras"].get("compression_"):
                # a compressed net: its int8 layers are rebuilt from plain tensors
                from skautodl.compression import restore

                restore(net.module_, state, spec["extras"]["compression_"])
            else:
                net.module_.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ModelFileError(
                f"The weights of {spec['weights']} do not fit its network "
                f"({exc}).") from exc
        net.module_.to(self.device)
        for k, v in spec["extras"].items():
            setattr(net, k, v)
        return net

    def member(self, spec):
        from sklearn.pipeline import Pipeline

        from skautodl.ensemble import BaggedModel

        kind = spec["kind"]
        if kind == "bagged":
            return BaggedModel([self.member(m) for m in spec["models"]])
        if kind == "pipeline":
            return Pipeline([*[(n, s) for n, s in spec["steps"]],
                             (spec["net_name"], self.net(spec["net"]))])
        if kind == "net":
            return self.net(spec)
        if kind == "sklearn":
            return spec["model"]
        raise ModelFileError(f"Unknown member kind {kind!r} in the model file.")


def _frame_state(frame):
    return {"columns": list(frame.columns), "index": np.asarray(frame.index),
            "data": [frame[c].to_numpy() for c in frame.columns]}


def _frame(state):
    # positional keys: column names may repeat or be of any hashable type
    data = dict(enumerate(state["data"]))
    return pd.DataFrame(data, index=state["index"]).set_axis(state["columns"], axis=1)


def _versions():
    from skautodl import __version__

    return {"skautodl": __version__, "torch": torch.__version__,
            "scikit-learn": sklearn.__version__, "numpy": np.__version__}


def is_multilabel(estimator):
    """Tell whether a fitted classifier was fitted on a label-indicator ``y``.

    Parameters
    ----------
    estimator : AutoDLClassifier or AutoDLRegressor
        A fitted estimator (a regressor is never multi-label).

    Returns
    -------
    bool
        True when ``classes_`` is a list, one ``[0, 1]`` array per label.
    """
    return isinstance(getattr(estimator, "classes_", None), list)


def describe(estimator):
    """Describe a fitted estimator's interface as plain, JSON-ready data.

    The task, the input features with their kinds (``"numeric"`` or
    ``"categorical"``, as the featurizer treats them) or the image shape,
    the classes, the scoring and the search's headline numbers. Recorded in
    the manifest by :func:`save`; ``skautodl serve`` answers it at
    ``GET /metadata``.

    Parameters
    ----------
    estimator : AutoDLClassifier or AutoDLRegressor
        A fitted estimator.

    Returns
    -------
    dict
        Keys ``estimator``, ``task`` (``"classification"``,
        ``"multilabel-classification"`` or ``"regression"``), ``n_labels``,
        ``features`` (a list of ``{"name", "kind"}``),
        ``feature_names_known``, ``image_shape``, ``classes``, ``scoring``
        (None for a callable), ``best_score``, ``ensemble_score``,
        ``n_members`` and ``n_trials``.

    See Also
    --------
    read_manifest : The manifest of a saved file, which holds this under
        ``"model"``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skautodl import AutoDLClassifier
    >>> from skautodl.persistence import describe
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = AutoDLClassifier(time_budget=None, n_trials=1, families=["mlp"],
    ...                        cv=None, search_space={"max_epochs": 5},
    ...                        verbose=0, random_state=0).fit(X, y)
    >>> info = describe(clf)
    >>> info["task"], info["classes"], len(info["features"])
    ('classification', [0, 1, 2], 4)
    """
    def plain(values):
        return [v.item() if isinstance(v, np.generic) else v for v in values]

    names = getattr(estimator, "feature_names_in_", None)
    n_features = int(estimator.n_features_in_)
    names = plain(names) if names is not None else list(range(n_features))
    from skautodl.ensemble import member_models

    first = member_models(estimator.ensemble_[0][0])[0]
    featurizer = first[0] if hasattr(first, "steps") else None
    kinds = getattr(featurizer, "column_kinds_", None) or ["numeric"] * n_features
    classes = getattr(estimator, "classes_", None)
    multilabel = is_multilabel(estimator)
    image_shape = getattr(estimator, "image_shape_", None)
    return {
        "estimator": type(estimator).__name__,
        "task": ("multilabel-classification" if multilabel else
                 "classification" if classes is not None else "regression"),
        "n_labels": len(classes) if multilabel else None,
        "features": [{"name": n, "kind": k} for n, k in zip(names, kinds,
                                                           strict=True)],
        "feature_names_known": getattr(estimator, "feature_names_in_", None)
        is not None,
        "image_shape": None if image_shape is None else list(image_shape),
        "classes": (None if classes is None else
                    [plain(c) for c in classes] if multilabel else plain(classes)),
        "scoring": estimator.scoring if isinstance(estimator.scoring, str) else None,
        "best_score": float(estimator.best_score_),
        "ensemble_score": float(getattr(estimator, "ensemble_score_",
                                        estimator.best_score_)),
        "n_members": len(estimator.ensemble_),
        "n_trials": int(estimator.n_trials_),
    }


def save(estimator, path, *, metadata=None):
    """Save a fitted estimator to ``path`` in skautodl's safe format.

    Parameters
    ----------
    estimator : AutoDLClassifier or AutoDLRegressor
        A fitted estimator.
    path : str or path-like
        The file to write (by convention ``*.skautodl``). It is written to
        a temporary file first and then renamed, so an existing file at
        ``path`` is replaced only by a complete one.
    metadata : dict, optional
        Your own JSON-serializable notes (for example the target column's
        name or the data's origin), kept in the manifest under
        ``"metadata"`` and returned by :func:`read_manifest`.

    Returns
    -------
    str
        The path written.

    Raises
    ------
    TypeError
        If ``estimator`` is not an ``AutoDLClassifier`` or
        ``AutoDLRegressor``, or ``metadata`` is not JSON-serializable.
    sklearn.exceptions.NotFittedError
        If ``estimator`` is not fitted.
    ModelFileError
        If the estimator holds something the safe format cannot store
        (for example a ``scoring`` callable defined in user code); pickle
        or joblib can still save it.

    See Also
    --------
    load : Read the file back.
    read_manifest : Read only the file's manifest.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_iris
    >>> from skautodl import AutoDLClassifier, load, save
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = AutoDLClassifier(time_budget=None, n_trials=1, families=["mlp"],
    ...                        cv=None, search_space={"max_epochs": 5},
    ...                        verbose=0, random_state=0).fit(X, y)
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = save(clf, os.path.join(tmp.name, "iris.skautodl"),
    ...             metadata={"data": "iris"})
    >>> bool((load(path).predict(X) == clf.predict(X)).all())
    True
    >>> tmp.cleanup()
    """
    from sklearn.utils.validation import check_is_fitted

    sio = _skops()
    name = type(estimator).__name__
    if name not in _ESTIMATORS:
        raise TypeError(f"skautodl.save saves {' or '.join(_ESTIMATORS)}; got {name}.")
    check_is_fitted(estimator)
    writer = _Writer()
    fitted = {k: v for k, v in vars(estimator).items()
              if k.endswith("_") and not k.startswith("_") and k not in _SPECIAL}
    state = {
        "class": name,
        "params": estimator.get_params(deep=False),
        "fitted": fitted,
        "ensemble": [(writer.member(m), float(w)) for m, w in estimator.ensemble_],
        "best_estimator": writer.member(estimator.best_estimator_),
        "leaderboard": _frame_state(estimator.leaderboard_),
    }
    try:
        payload = sio.dumps(state)
    except Exception as exc:
        raise ModelFileError(
            f"The estimator cannot be saved in the safe format: {exc}. Pickle or "
            "joblib can save it (see the user guide on what that costs).") from exc
    untrusted = [t for t in sio.get_untrusted_types(data=payload)
                 if t not in TRUSTED_TYPES]
    if untrusted:
        raise ModelFileError(
            f"The estimator holds objects of types the safe format does not load "
            f"({', '.join(untrusted)}), for example a callable passed as a "
            "parameter. Save it with joblib or pickle instead, or use built-in "
            "values (such as a scoring name).")
    from safetensors.torch import save as save_tensors

    weights = save_tensors(writer.tensors) if writer.tensors else b""
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "estimator": name,
        "created": datetime.datetime.now(datetime.UTC).isoformat(),
        "versions": _versions(),
        "model": describe(estimator),
        "metadata": _json_ready(metadata or {}),
        "sha256": {"estimator.skops": hashlib.sha256(payload).hexdigest(),
                   "weights.safetensors": hashlib.sha256(weights).hexdigest()},
    }
    path = os.fspath(path)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("manifest.json", json.dumps(manifest, indent=1))
            zf.writestr("estimator.skops", payload)
            zf.writestr("weights.safetensors", weights)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def _json_ready(metadata):
    try:
        return json.loads(json.dumps(metadata))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"metadata must be JSON-serializable: {exc}") from exc


def read_manifest(path):
    """Read the manifest of a model file without loading the model.

    Reads nothing but the manifest; no object is built, so it is safe on
    any file.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save`.

    Returns
    -------
    dict
        ``format``, ``format_version``, ``estimator`` (the class name),
        ``created`` (UTC, ISO 8601), ``versions`` (of skautodl, torch,
        scikit-learn and numpy that wrote it), ``model`` (see
        :func:`describe`), ``metadata`` (what :func:`save` was given) and
        ``sha256`` (a checksum of each other entry).

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ModelFileError
        If the file is not a skautodl model file, its manifest is
        unreadable, or it was written in a newer format version.

    See Also
    --------
    save : Write a model file.
    load : Load the model itself.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_diabetes
    >>> from skautodl import AutoDLRegressor, save
    >>> from skautodl.persistence import read_manifest
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = AutoDLRegressor(time_budget=None, n_trials=1, families=["mlp"],
    ...                       cv=None, search_space={"max_epochs": 5},
    ...                       verbose=0, random_state=0).fit(X, y)
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = save(reg, os.path.join(tmp.name, "diabetes.skautodl"),
    ...             metadata={"target": "disease progression"})
    >>> manifest = read_manifest(path)
    >>> manifest["estimator"], manifest["model"]["task"], manifest["metadata"]
    ('AutoDLRegressor', 'regression', {'target': 'disease progression'})
    >>> tmp.cleanup()
    """
    with _open(path) as zf:
        return _manifest(zf, path)


def _open(path):
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No model file at {path!r}.")
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise ModelFileError(
            f"{path!r} is not a skautodl model file, or it is truncated "
            "(not a complete zip archive).") from exc


def _manifest(zf, path):
    try:
        manifest = json.loads(zf.read("manifest.json"))
    except KeyError as exc:
        raise ModelFileError(f"{path!r} has no manifest: not a skautodl model "
                             "file.") from exc
    except (ValueError, zipfile.BadZipFile, OSError) as exc:
        raise ModelFileError(f"The manifest of {path!r} is unreadable ({exc}); the "
                             "file is corrupt.") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelFileError(f"{path!r} is not a skautodl model file (its manifest "
                             f"names the format {manifest.get('format')!r}).")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise ModelFileError(
            f"{path!r} was written in format version {version!r} (by skautodl "
            f"{manifest.get('versions', {}).get('skautodl')}); this skautodl "
            f"reads versions up to {FORMAT_VERSION}. Upgrade skautodl to load it.")
    return manifest


def _entry(zf, manifest, name, path):
    try:
        data = zf.read(name)
    except KeyError as exc:
        raise ModelFileError(f"{path!r} lacks its {name!r} entry; the file is "
                             "incomplete.") from exc
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ModelFileError(f"{path!r}: the entry {name!r} is corrupt ({exc}).") \
            from exc
    if hashlib.sha256(data).hexdigest() != manifest.get("sha256", {}).get(name):
        raise ModelFileError(
            f"{path!r}: the entry {name!r} does not match the checksum in its "
            "manifest; the file was modified or corrupted after it was saved.")
    return data


def _read(path, *, weights):
    """``(state, tensors)`` of a model file, checked; the tensors only with
    ``weights`` (``{}`` otherwise). Nothing but trusted types is built."""
    from safetensors import SafetensorError
    from safetensors.torch import load as load_tensors

    sio = _skops()
    with _open(path) as zf:
        manifest = _manifest(zf, path)
        payload = _entry(zf, manifest, "estimator.skops", path)
        blob = _entry(zf, manifest, "weights.safetensors", path) if weights else b""
    try:
        untrusted = sio.get_untrusted_types(data=payload)
    except Exception as exc:
        raise ModelFileError(f"{path!r}: the estimator entry is not a valid skops "
                             f"payload ({type(exc).__name__}: {exc}).") from exc
    refused = [t for t in untrusted if t not in TRUSTED_TYPES]
    if refused:
        raise ModelFileError(
            f"{path!r} contains objects of untrusted types ({', '.join(refused)}); "
            "refusing to load it. Only skautodl's own types and those skops "
            "trusts by default are loaded.")
    try:
        state = sio.loads(payload, trusted=list(untrusted) or None)
        tensors = load_tensors(blob) if blob else {}
    except (SafetensorError, ValueError, TypeError, KeyError) as exc:
        raise ModelFileError(f"{path!r} could not be decoded ({type(exc).__name__}: "
                             f"{exc}).") from exc
    if not isinstance(state, dict) or state.get("class") not in _ESTIMATORS:
        raise ModelFileError(f"{path!r} does not hold a skautodl estimator.")
    return state, tensors


def read_search(path):
    """Read the search results of a saved model without building its networks.

    What ``warm_start=<model file>`` needs: the earlier search's trials,
    not its models. The file is checked as :func:`load` checks it.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save`.

    Returns
    -------
    name : str
        The estimator's class name (``"AutoDLClassifier"`` or
        ``"AutoDLRegressor"``).
    cv_results : dict or None
        Its ``cv_results_``.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ModelFileError
        For the same reasons as :func:`load`.
    """
    state, _ = _read(path, weights=False)
    return state["class"], state["fitted"].get("cv_results_")


def load(path, *, device="cpu"):
    """Load an estimator saved by :func:`save`, running no code from the file.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save`.
    device : str, default="cpu"
        Where the networks are placed (``"cuda"`` to predict on a GPU). A
        model saved on a GPU machine loads on a CPU-only one.

    Returns
    -------
    AutoDLClassifier or AutoDLRegressor
        The fitted estimator; its predictions equal the saved estimator's.
        Its ``searcher_`` is None (the search strategy's state is not
        saved).

    Raises
    ------
    ModelFileError
        The file is not a skautodl model file, is truncated or was modified,
        was written by a newer format version, or names a type outside the
        trusted list (it is then refused before any object is built).
    FileNotFoundError
        There is no file at ``path``.

    See Also
    --------
    save : Write a model file.
    read_manifest : Inspect a file before loading it.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_diabetes
    >>> from skautodl import AutoDLRegressor, load, save
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = AutoDLRegressor(time_budget=None, n_trials=1, families=["mlp"],
    ...                       cv=None, search_space={"max_epochs": 5},
    ...                       verbose=0, random_state=0).fit(X, y)
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = save(reg, os.path.join(tmp.name, "diabetes.skautodl"))
    >>> loaded = load(path)
    >>> bool((loaded.predict(X) == reg.predict(X)).all())
    True
    >>> tmp.cleanup()
    """
    import skautodl.estimators as estimators

    state, tensors = _read(path, weights=True)
    estimator = getattr(estimators, state["class"])(**state["params"])
    reader = _Reader(tensors, device)
    for key, value in state["fitted"].items():
        setattr(estimator, key, value)
    estimator.ensemble_ = [(reader.member(m), w) for m, w in state["ensemble"]]
    estimator.best_estimator_ = reader.member(state["best_estimator"])
    estimator.leaderboard_ = _frame(state["leaderboard"])
    estimator.searcher_ = None
    return estimator


__all__ = ["FORMAT", "FORMAT_VERSION", "TRUSTED_TYPES", "describe",
           "is_multilabel", "load", "read_manifest", "read_search", "save"]
