"""ONNX and TorchScript export (skautodl.export): each graph loaded back
predicts what the estimator predicts, on held-out rows of another count
than the export's example batch."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits

from skautodl import AutoDLClassifier, AutoDLRegressor
from skautodl.export import graph_inputs
from skautodl.utils._testing import CHECK_PARAMS

TOL = 1e-5
SMALL_CNN = {"max_epochs": 8, "lr": 0.01, "module__width": 8, "module__n_stages": 1,
             "batch_size": 32}
TINY_MLP = {"max_epochs": 5, "batch_size": 32, "module__n_layers": 1,
            "module__n_units": 16}


def _with_nan(X, share, seed=0):
    X = np.array(X, dtype=np.float64)
    X[np.random.default_rng(seed).random(X.shape) < share] = np.nan
    return X


def _fit(cls, X, y, **params):
    return cls(**{**CHECK_PARAMS, **params}).fit(X, y)


@pytest.fixture(scope="module")
def ensemble():
    """A blend of two bagged members (3 folds each) with a temperature: 6
    networks in one graph."""
    X, y = load_breast_cancer(return_X_y=True)
    rows = np.random.default_rng(0).permutation(len(X))[:240]
    X, y = _with_nan(X[rows], 0.05), y[rows]
    est = _fit(AutoDLClassifier, X[:200], y[:200], n_trials=3, ensemble_size=3,
               cv=3, random_state=0,
               search_space={**TINY_MLP, "lr": [1e-3, 3e-2],
                             "featurize__numeric_scaling": ["standard", "robust",
                                                            "quantile"]})
    assert len(est.ensemble_) == 2 and est.temperature_ != 1.0
    return est, X[200:]


@pytest.fixture(scope="module")
def regressor():
    """Quantile scaling of columns with missing values, one target."""
    X, y = load_diabetes(return_X_y=True)
    X = _with_nan(X, 0.1)
    est = _fit(AutoDLRegressor, X[:400], y[:400],
               search_space={**TINY_MLP, "featurize__numeric_scaling": "quantile"})
    return est, X[400:]


@pytest.fixture(scope="module")
def multioutput():
    """Robust scaling (with its smooth clip) and two targets."""
    X, y = load_diabetes(return_X_y=True)
    Y = np.column_stack([y, y / 10 + 100 * X[:, 2]])
    est = _fit(AutoDLRegressor, X[:400], Y[:400], families=["resnet"],
               search_space={"max_epochs": 5, "batch_size": 32, "module__n_blocks": 1,
                             "module__d_main": 16,
                             "featurize__numeric_scaling": "robust"})
    return est, X[400:]


@pytest.fixture(scope="module")
def images():
    X, y = load_digits(return_X_y=True)
    X = (X * 16).clip(0, 255).astype(np.uint8).reshape(-1, 8, 8)
    est = _fit(AutoDLClassifier, X[:300], y[:300], families="auto",
               search_space=SMALL_CNN)
    return est, X[300:337]


@pytest.fixture(scope="module")
def mixed():
    """A DataFrame with a categorical column and missing values."""
    rng = np.random.default_rng(0)
    n = 160
    X = pd.DataFrame({"size": rng.normal(size=n), "weight": rng.gamma(2.0, size=n),
                      "colour": rng.choice(["red", "green", "blue"], size=n)})
    X.loc[rng.random(n) < 0.1, "size"] = np.nan
    X.loc[rng.random(n) < 0.1, "colour"] = None
    y = (X["size"].fillna(0) + (X["colour"] == "red") > 0.5).astype(int)
    est = _fit(AutoDLClassifier, X[:120], y[:120], search_space=TINY_MLP)
    return est, X[120:]


#: (case, format); the multi-output regressor only as TorchScript, whose
#: export is 20x cheaper (its ONNX graph differs from the regressor's only
#: by the output's shape)
CASES = [(case, fmt) for case in ("ensemble", "regressor", "images")
         for fmt in ("onnx", "torchscript")] + [("multioutput", "torchscript")]


def _reference(est, X):
    return est.predict_proba(X) if hasattr(est, "classes_") else est.predict(X)


def _run_onnx(path, inputs):
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return session.run(None, inputs)[0]


def _run_torchscript(path, inputs):
    with warnings.catch_warnings():  # torch.jit is deprecated in torch 2.13
        warnings.simplefilter("ignore", DeprecationWarning)
        module = torch.jit.load(path)
    with torch.no_grad():
        return module(*(torch.as_tensor(v) for v in inputs.values())).numpy()


def _export(est, fmt, tmp_path, **kwargs):
    if fmt == "onnx":
        pytest.importorskip("onnx")
        pytest.importorskip("onnxscript")
        return est.export_onnx(tmp_path / "model.onnx", **kwargs), _run_onnx
    return est.export_torchscript(tmp_path / "model.pt", **kwargs), _run_torchscript


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """``exported(case, fmt)``: the fitted case, its file and its runner,
    exported once per module."""
    files = {}

    def get(request, case, fmt):
        if (case, fmt) not in files:
            est, X = request.getfixturevalue(case)
            path, run = _export(est, fmt, tmp_path_factory.mktemp(case))
            files[case, fmt] = est, X, path, run
        return files[case, fmt]

    return get


@pytest.mark.parametrize("case, fmt", CASES)
def test_graph_predicts_as_the_estimator(case, fmt, exported, request):
    est, X, path, run = exported(request, case, fmt)
    assert isinstance(path, str)
    inputs = graph_inputs(est, X)
    # every featurizer of a numeric table or of images is folded in
    assert list(inputs) == ["X"]
    expected = _reference(est, X)
    got = run(path, inputs)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOL)
    # the batch axis is dynamic: one row, and rows the graph never saw
    np.testing.assert_allclose(run(path, graph_inputs(est, X[:1])),
                               expected[:1], rtol=0, atol=TOL)


@pytest.mark.parametrize("case, dtype, shape", [("ensemble", "DOUBLE", [30]),
                                                ("images", "FLOAT", [1, 8, 8])])
def test_onnx_describes_its_inputs_and_output(case, dtype, shape, exported,
                                              request):
    est, _, path, _ = exported(request, case, "onnx")
    onnx = pytest.importorskip("onnx")
    model = onnx.load(path)
    (x,), (out,) = model.graph.input, model.graph.output
    assert (x.name, out.name) == ("X", "probabilities")
    dims = [d.dim_param or d.dim_value for d in x.type.tensor_type.shape.dim]
    assert isinstance(dims[0], str) and dims[1:] == shape  # a dynamic batch axis
    assert onnx.helper.tensor_dtype_to_string(
        x.type.tensor_type.elem_type) == f"TensorProto.{dtype}"
    meta = json.loads({p.key: p.value for p in model.metadata_props}["skautodl"])
    assert meta["classes"] == est.classes_.tolist()
    assert meta["inputs"][0]["name"] == "X"
    assert meta["output"]["name"] == "probabilities"


def test_categorical_featurizer_stays_in_python(mixed, tmp_path):
    est, X = mixed
    inputs = graph_inputs(est, X)
    # one input per network: its featurizer's output, computed in Python
    assert list(inputs) == ["features_0"]
    featurizer = est.ensemble_[0][0][0]
    np.testing.assert_array_equal(inputs["features_0"],
                                  featurizer.transform(X))
    expected = est.predict_proba(X)
    for fmt in ("onnx", "torchscript"):
        path, run = _export(est, fmt, tmp_path)
        np.testing.assert_allclose(run(path, inputs), expected, rtol=0, atol=TOL)


def test_unfolded_export_takes_each_networks_features(ensemble, tmp_path):
    est, X = ensemble
    inputs = graph_inputs(est, X, fold=False)
    assert list(inputs) == [f"features_{i}" for i in range(6)]
    path, run = _export(est, "torchscript", tmp_path, fold=False)
    np.testing.assert_allclose(run(path, inputs), est.predict_proba(X),
                               rtol=0, atol=TOL)


def test_tree_members_cannot_be_exported(tmp_path):
    X, y = load_breast_cancer(return_X_y=True)
    est = _fit(AutoDLClassifier, X[:80], y[:80], families=["hgb"],
               search_space={"hgb__max_iter": 10})
    with pytest.raises(NotImplementedError, match="tree model.*'hgb'"):
        est.export_torchscript(tmp_path / "model.pt")
    with pytest.raises(NotImplementedError, match="tree model"):
        graph_inputs(est, X[:5])


def test_bad_dtype_and_unfitted(ensemble, tmp_path):
    with pytest.raises(ValueError, match="dtype must be one of"):
        ensemble[0].export_torchscript(tmp_path / "model.pt", dtype="float16")
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        AutoDLRegressor().export_torchscript(tmp_path / "model.pt")


def test_gelu_networks_export_to_onnx_in_float32(tmp_path):
    # onnxruntime has no float64 Erf on the CPU: the default dtype falls back
    X, y = load_breast_cancer(return_X_y=True)
    est = _fit(AutoDLClassifier, X[:120], y[:120],
               search_space={**CHECK_PARAMS["search_space"], "max_epochs": 5,
                             "module__activation": "gelu"})
    path, run = _export(est, "onnx", tmp_path)
    out = run(path, graph_inputs(est, X[120:180]))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, est.predict_proba(X[120:180]), rtol=0, atol=1e-5)


def test_multilabel_models_are_not_exported(tmp_path):
    from sklearn.datasets import make_multilabel_classification

    X, Y = make_multilabel_classification(80, 5, n_classes=3, random_state=0)
    est = _fit(AutoDLClassifier, X, Y)
    with pytest.raises(NotImplementedError, match="multi-label"):
        est.export_torchscript(tmp_path / "model.pt")
