"""Safe persistence: round trips, and files that must be refused."""

import json
import os
import pickle
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_diabetes, load_digits, load_iris
from sklearn.metrics import make_scorer

from skautodl import AutoDLClassifier, AutoDLRegressor, load, save
from skautodl.exceptions import ModelFileError
from skautodl.persistence import FORMAT_VERSION, read_manifest
from skautodl.utils._testing import CHECK_PARAMS

FAST = {**CHECK_PARAMS, "search_space": {**CHECK_PARAMS["search_space"],
                                         "max_epochs": 10}}


@pytest.fixture(scope="module")
def iris_model():
    X, y = load_iris(return_X_y=True)
    # two families and k-fold bagging: bagged nets and bagged trees
    clf = AutoDLClassifier(**{**FAST, "n_trials": 3, "cv": 3,
                              "families": ["mlp", "hgb"], "ensemble_size": 4,
                              "search_space": {"max_epochs": 10}}).fit(X, y)
    return clf, X


@pytest.fixture(scope="module")
def saved(iris_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "iris.skautodl"
    save(iris_model[0], path)
    return path


def test_classifier_round_trip_predicts_identically(iris_model, saved):
    clf, X = iris_model
    loaded = load(saved)
    assert type(loaded) is AutoDLClassifier
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    np.testing.assert_array_equal(loaded.best_estimator_.predict_proba(X),
                                  clf.best_estimator_.predict_proba(X))
    assert loaded.get_params() == clf.get_params()
    pd.testing.assert_frame_equal(loaded.leaderboard_, clf.leaderboard_)
    assert loaded.best_params_ == clf.best_params_
    assert loaded.temperature_ == clf.temperature_
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    assert [w for _, w in loaded.ensemble_] == [w for _, w in clf.ensemble_]
    assert loaded.searcher_ is None
    kinds = {type(m).__name__ for m, _ in loaded.ensemble_}
    assert kinds == {"BaggedModel"}


def test_regressor_and_image_round_trips(tmp_path):
    X, y = load_diabetes(return_X_y=True)
    reg = AutoDLRegressor(**FAST).fit(X[:200], y[:200])
    save(reg, tmp_path / "r.skautodl")
    np.testing.assert_array_equal(load(tmp_path / "r.skautodl").predict(X[200:]),
                                  reg.predict(X[200:]))
    Xd, yd = load_digits(return_X_y=True)
    images = Xd[:200].reshape(-1, 8, 8)
    cnn = AutoDLClassifier(**{**FAST, "families": "auto", "search_space": {
        "max_epochs": 3, "module__width": 8, "module__n_stages": 1}}).fit(
            images, yd[:200])
    assert cnn.best_params_["family"] == "cnn"
    save(cnn, tmp_path / "c.skautodl")
    back = load(tmp_path / "c.skautodl")
    np.testing.assert_array_equal(back.predict_proba(Xd[200:260].reshape(-1, 8, 8)),
                                  cnn.predict_proba(Xd[200:260].reshape(-1, 8, 8)))


def test_loading_does_not_touch_the_global_random_state(saved):
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    load(saved)
    np.testing.assert_array_equal(torch.rand(3), expected)


def test_manifest_records_versions_and_checksums(saved):
    manifest = read_manifest(saved)
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["estimator"] == "AutoDLClassifier"
    assert manifest["versions"]["torch"] == torch.__version__
    assert set(manifest["sha256"]) == {"estimator.skops", "weights.safetensors"}


def _rewrite(src, dst, replace, fix_checksum=True):
    """Copy the model file ``src`` to ``dst`` with entries replaced."""
    with zipfile.ZipFile(src) as zf:
        entries = {n: zf.read(n) for n in zf.namelist()}
    manifest = json.loads(entries["manifest.json"])
    for name, data in replace.items():
        entries[name] = data
        if fix_checksum and name != "manifest.json":
            import hashlib

            manifest["sha256"][name] = hashlib.sha256(data).hexdigest()
    if "manifest.json" not in replace:
        entries["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(dst, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return dst


class _Payload:
    """Pickling this runs code at load: it creates the file ``marker``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("entry", ["estimator.skops", "weights.safetensors"])
def test_a_pickle_payload_is_refused_without_running(saved, tmp_path, entry):
    marker = tmp_path / "pwned"
    evil = pickle.dumps(_Payload(str(marker)))
    pickle.loads(evil)  # the payload works: loading it creates the marker
    assert marker.exists()
    marker.unlink()
    # checksums recomputed: the parsers themselves must refuse it
    bad = _rewrite(saved, tmp_path / "evil.skautodl", {entry: evil})
    with pytest.raises(ModelFileError):
        load(bad)
    assert not marker.exists()


def test_an_untrusted_type_in_a_valid_payload_is_refused(saved, tmp_path):
    import skops.io as sio

    marker = tmp_path / "pwned"
    payload = sio.dumps({"class": "AutoDLClassifier", "params": {},
                         "fitted": {"x_": os.system}})
    bad = _rewrite(saved, tmp_path / "evil.skautodl", {"estimator.skops": payload})
    with pytest.raises(ModelFileError, match="untrusted types.*system"):
        load(bad)
    assert not marker.exists()


def test_a_network_class_outside_skautodl_is_refused():
    from skautodl.persistence import _network_class

    with pytest.raises(ModelFileError, match="not one of skautodl's networks"):
        _network_class("torch.nn.modules.linear.Linear")
    with pytest.raises(ModelFileError, match="not a network class"):
        _network_class("skautodl.networks.registry.get_family")
    assert _network_class("skautodl.networks.mlp.MLP").__name__ == "MLP"


def test_modified_truncated_and_newer_files_fail_clearly(saved, tmp_path):
    with zipfile.ZipFile(saved) as zf:
        weights = bytearray(zf.read("weights.safetensors"))
    weights[-1] ^= 0xFF
    edited = _rewrite(saved, tmp_path / "edited.skautodl",
                      {"weights.safetensors": bytes(weights)}, fix_checksum=False)
    with pytest.raises(ModelFileError, match="modified or corrupted"):
        load(edited)
    data = open(saved, "rb").read()
    (tmp_path / "cut.skautodl").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="truncated"):
        load(tmp_path / "cut.skautodl")
    manifest = read_manifest(saved)
    manifest["format_version"] = FORMAT_VERSION + 1
    newer = _rewrite(saved, tmp_path / "newer.skautodl",
                     {"manifest.json": json.dumps(manifest).encode()})
    with pytest.raises(ModelFileError, match="format version 2.*Upgrade"):
        load(newer)
    (tmp_path / "text.skautodl").write_text("hello")
    with pytest.raises(ModelFileError, match="not a skautodl model file"):
        load(tmp_path / "text.skautodl")
    with pytest.raises(FileNotFoundError, match="No model file"):
        load(tmp_path / "missing.skautodl")


def _my_metric(y_true, y_pred):
    return float(np.mean(y_true == y_pred))


def test_unsafe_parameters_are_refused_at_save_and_keep_the_old_file(tmp_path):
    X, y = load_iris(return_X_y=True)
    clf = AutoDLClassifier(**{**FAST, "scoring": make_scorer(_my_metric)}).fit(X, y)
    path = tmp_path / "m.skautodl"
    path.write_bytes(b"the user's earlier file")
    with pytest.raises(ModelFileError, match="joblib or pickle"):
        save(clf, path)
    assert path.read_bytes() == b"the user's earlier file"
    assert os.listdir(tmp_path) == ["m.skautodl"]  # no temporary file left
    # pickle still works for such an estimator
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(clf)).predict(X),
                                  clf.predict(X))


def test_save_needs_a_fitted_skautodl_estimator(tmp_path):
    from sklearn.exceptions import NotFittedError
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(NotFittedError):
        save(AutoDLClassifier(), tmp_path / "m.skautodl")
    with pytest.raises(TypeError, match="AutoDLClassifier or AutoDLRegressor"):
        save(LogisticRegression(), tmp_path / "m.skautodl")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_a_cuda_model_loads_on_the_cpu(tmp_path):
    X, y = load_iris(return_X_y=True)
    clf = AutoDLClassifier(**{**FAST, "device": "cuda"}).fit(X, y)
    save(clf, tmp_path / "m.skautodl")
    loaded = load(tmp_path / "m.skautodl", device="cpu")
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X),
                               atol=1e-5)


def test_manifest_describes_the_model_and_keeps_user_metadata(tmp_path):
    X = pd.DataFrame({"size": np.arange(60.0) % 7, "colour": ["red", "blue"] * 30})
    y = np.where(X["size"] > 3, "big", "small")
    clf = AutoDLClassifier(**FAST).fit(X, y)
    save(clf, tmp_path / "m.skautodl", metadata={"target": "label"})
    manifest = read_manifest(tmp_path / "m.skautodl")
    model = manifest["model"]
    assert model["task"] == "classification"
    assert model["features"] == [{"name": "size", "kind": "numeric"},
                                 {"name": "colour", "kind": "categorical"}]
    assert model["classes"] == ["big", "small"]
    assert manifest["metadata"] == {"target": "label"}
    with pytest.raises(TypeError, match="JSON-serializable"):
        save(clf, tmp_path / "n.skautodl", metadata={"bad": object()})
    assert not (tmp_path / "n.skautodl").exists()


def _nets(model):
    """The skorch nets of a member (a pipeline, a bag of them or a net)."""
    if hasattr(model, "models"):
        return [net for m in model.models for net in _nets(m)]
    return [model[-1]] if hasattr(model, "steps") else [model]


def _weights(path):
    from safetensors.torch import load as load_tensors

    with zipfile.ZipFile(path) as zf:
        return load_tensors(zf.read("weights.safetensors"))


def test_a_net_shared_by_best_estimator_and_the_ensemble_is_stored_once(tmp_path):
    import copy

    X, y = load_iris(return_X_y=True)
    clf = AutoDLClassifier(**FAST).fit(X, y)
    member = clf.ensemble_[0][0]
    assert clf.best_estimator_ is member  # one trial: the best is the ensemble
    n_tensors = len(member[-1].module_.state_dict())
    save(clf, tmp_path / "shared.skautodl")
    # the same model with best_estimator_ a copy: two distinct nets to store
    twin = copy.copy(clf)
    twin.best_estimator_ = copy.deepcopy(member)
    save(twin, tmp_path / "copied.skautodl")

    shared, copied = _weights(tmp_path / "shared.skautodl"), \
        _weights(tmp_path / "copied.skautodl")
    assert len(shared) == n_tensors
    assert {k.split(".")[0] for k in shared} == {"net0"}
    assert len(copied) == 2 * n_tensors
    assert (os.path.getsize(tmp_path / "shared.skautodl")
            < os.path.getsize(tmp_path / "copied.skautodl"))

    # identity survives the round trip, and only where it was there
    loaded = load(tmp_path / "shared.skautodl")
    assert _nets(loaded.best_estimator_)[0] is _nets(loaded.ensemble_[0][0])[0]
    loaded_twin = load(tmp_path / "copied.skautodl")
    assert (_nets(loaded_twin.best_estimator_)[0]
            is not _nets(loaded_twin.ensemble_[0][0])[0])
    for model in (loaded, loaded_twin):
        np.testing.assert_array_equal(model.predict_proba(X), clf.predict_proba(X))
        np.testing.assert_array_equal(model.best_estimator_.predict_proba(X),
                                      clf.best_estimator_.predict_proba(X))

    # a bag (cv=2): each fold net stored once, each shared again after load
    clf = AutoDLClassifier(**{**FAST, "cv": 2}).fit(X, y)
    assert clf.best_estimator_ is clf.ensemble_[0][0]
    nets = {id(n) for m, _ in clf.ensemble_ for n in _nets(m)}
    save(clf, tmp_path / "bag.skautodl")
    assert len({k.split(".")[0] for k in _weights(tmp_path / "bag.skautodl")}) \
        == len(nets) == 2
    loaded = load(tmp_path / "bag.skautodl")
    for a, b in zip(_nets(loaded.best_estimator_), _nets(loaded.ensemble_[0][0]),
                    strict=True):
        assert a is b
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_a_model_fitted_for_a_gpu_loads_on_the_cpu(iris_model, tmp_path):
    """Without a GPU here, the nets are told they live on CUDA (as after a
    GPU fit; their tensors stay on the CPU): the file keeps no device and
    ``load`` places every net on the device it is asked for."""
    import copy

    from skautodl.ensemble import member_models

    clf, X = iris_model
    gpu = copy.deepcopy(clf)
    nets = [p[-1] for m, _ in gpu.ensemble_ for p in member_models(m)
            if hasattr(p[-1], "module_")]
    assert nets
    for net in nets:
        net.device = "cuda"
    save(gpu, tmp_path / "gpu.skautodl")
    loaded = load(tmp_path / "gpu.skautodl")
    loaded_nets = [p[-1] for m, _ in loaded.ensemble_ for p in member_models(m)
                   if hasattr(p[-1], "module_")]
    assert {net.device for net in loaded_nets} == {"cpu"}
    assert all(t.device.type == "cpu" for net in loaded_nets
               for t in net.module_.state_dict().values())
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
