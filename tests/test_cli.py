"""The ``skautodl`` command line: each command, CSV and Parquet, and the
one-line errors."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_iris

from skautodl import AutoDLClassifier, load, save
from skautodl.cli import main
from skautodl.utils._testing import CHECK_PARAMS


@pytest.fixture(scope="module")
def iris_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    frame = load_iris(as_frame=True).frame
    names = np.array(["setosa", "versicolor", "virginica"])
    frame["species"] = names[frame.pop("target")]
    frame = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    frame.iloc[:110].to_csv(root / "train.csv", index=False)
    frame.iloc[110:].to_csv(root / "test.csv", index=False)
    frame.iloc[110:].to_parquet(root / "test.parquet")
    clf = AutoDLClassifier(**CHECK_PARAMS).fit(frame.iloc[:110, :4],
                                               frame["species"][:110])
    save(clf, root / "model.skautodl", metadata={"target": "species"})
    return root, clf, frame


def test_fit_writes_a_safe_model_that_predicts_like_the_python_api(tmp_path, capsys):
    frame = load_diabetes(as_frame=True).frame.iloc[:150]
    frame.to_csv(tmp_path / "d.csv", index=False)
    code = main(["fit", str(tmp_path / "d.csv"), "--target", "target",
                 "--time-budget", "30", "--n-trials", "1", "--verbose", "0",
                 "--out", str(tmp_path / "d.skautodl")])
    assert code == 0
    assert "AutoDLRegressor: 1 trials" in capsys.readouterr().out
    reg = load(tmp_path / "d.skautodl")
    assert reg.n_trials_ == 1
    assert list(reg.feature_names_in_) == list(frame.columns[:-1])
    main(["predict", str(tmp_path / "d.skautodl"), str(tmp_path / "d.csv"),
          "--out", str(tmp_path / "p.csv")])
    written = pd.read_csv(tmp_path / "p.csv")["prediction"].to_numpy()
    np.testing.assert_allclose(written, reg.predict(frame.drop(columns="target")),
                               rtol=1e-12)
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "d.skautodl"), str(tmp_path / "d.csv"),
                 "--target", "target", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"rows", "r2", "mae", "rmse"}
    assert result["r2"] == pytest.approx(reg.score(frame.drop(columns="target"),
                                                   frame["target"]))


def test_task_is_read_off_the_target():
    from skautodl.cli import _task

    assert _task(pd.Series(["a", "b", "a"]), None) == "classification"
    assert _task(pd.Series([0, 1, 2, 1]), None) == "classification"
    assert _task(pd.Series(np.linspace(0, 1, 50)), None) == "regression"
    assert _task(pd.Series(np.arange(50.0)), None) == "regression"
    assert _task(pd.Series([0, 1, 2, 1]), "regression") == "regression"


@pytest.mark.parametrize("name", ["test.csv", "test.parquet"])
def test_predict_csv_and_parquet_with_probabilities(iris_files, name, capsys):
    root, clf, frame = iris_files
    assert main(["predict", str(root / "model.skautodl"), str(root / name),
                 "--proba"]) == 0
    out = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    X_test = frame.iloc[110:, :4]
    np.testing.assert_array_equal(out["prediction"], clf.predict(X_test))
    np.testing.assert_allclose(out[[f"proba_{c}" for c in clf.classes_]],
                               clf.predict_proba(X_test), rtol=1e-12)
    # the target column recorded at save is dropped; columns are reordered
    shuffled = frame.iloc[110:, ::-1]
    shuffled.to_csv(root / "shuffled.csv", index=False)
    assert main(["predict", str(root / "model.skautodl"), str(root / "shuffled.csv"),
                 "--out", str(root / "p.parquet")]) == 0
    np.testing.assert_array_equal(pd.read_parquet(root / "p.parquet")["prediction"],
                                  clf.predict(X_test))


def test_evaluate_prints_the_scores(iris_files, capsys):
    root, clf, frame = iris_files
    assert main(["evaluate", str(root / "model.skautodl"), str(root / "test.csv"),
                 "--target", "species", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    expected = float(np.mean(clf.predict(frame.iloc[110:, :4])
                             == frame["species"][110:]))
    assert result["rows"] == 40
    assert result["accuracy"] == pytest.approx(expected)
    assert set(result) == {"rows", "accuracy", "balanced_accuracy", "log_loss"}


def test_info_prints_the_manifest(iris_files, capsys):
    root, _, _ = iris_files
    assert main(["info", str(root / "model.skautodl")]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["model"]["classes"] == ["setosa", "versicolor", "virginica"]
    assert info["metadata"]["target"] == "species"


@pytest.mark.parametrize("argv, message", [
    (["predict", "{root}/missing.skautodl", "{root}/test.csv"], "No model file"),
    (["predict", "{root}/model.skautodl", "{root}/missing.csv"], "no such file"),
    (["predict", "{root}/test.csv", "{root}/test.csv"], "not a skautodl model file"),
    (["predict", "{root}/model.skautodl", "{root}/wrong.csv"],
     "missing column(s) 'petal width (cm)'; unexpected column(s) 'colour'"),
    (["evaluate", "{root}/model.skautodl", "{root}/test.csv", "--target", "label"],
     "target column 'label' is not in"),
    (["fit", "{root}/train.csv", "--target", "label", "--out", "{root}/x"],
     "target column 'label' is not in"),
    (["evaluate", "{root}/model.skautodl", "{root}/relabelled.csv", "--target",
      "species"], "label(s) the model never saw: rose"),
])
def test_errors_are_one_line_with_a_nonzero_exit(iris_files, argv, message, capsys):
    root, _, frame = iris_files
    wrong = frame.iloc[110:].drop(columns=["petal width (cm)"]).assign(colour="red")
    wrong.to_csv(root / "wrong.csv", index=False)
    frame.iloc[110:].assign(species="rose").to_csv(root / "relabelled.csv",
                                                   index=False)
    code = main([a.format(root=root) for a in argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("skautodl: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_the_installed_command_exits_without_a_traceback(iris_files):
    root, _, _ = iris_files
    done = subprocess.run([sys.executable, "-m", "skautodl", "predict",
                           str(root / "model.skautodl"), str(root / "nothing.csv")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == f"skautodl: error: no such file: {root}/nothing.csv"
    ok = subprocess.run([sys.executable, "-m", "skautodl", "--help"],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0
    for command in ("fit", "predict", "evaluate", "export", "serve"):
        assert command in ok.stdout


def test_export_and_compress_commands(iris_files, capsys):
    root, clf, frame = iris_files
    assert main(["export", str(root / "model.skautodl"), "--format",
                 "torchscript"]) == 0
    assert (root / "model.pt").exists()
    assert main(["compress", str(root / "model.skautodl"), str(root / "train.csv"),
                 "--target", "species", "--out", str(root / "small.skautodl")]) == 0
    out = capsys.readouterr().out
    assert "compressed" in out and "validation score" in out
    # both scores printed (the report's key is validation_score)
    assert "n/a" not in out.split("validation score")[1]
    small = load(root / "small.skautodl")
    assert small.compression_report_["sparsity"] == 0.5
    assert main(["predict", str(root / "small.skautodl"), str(root / "test.csv"),
                 "--out", str(root / "small.csv")]) == 0
    assert len(pd.read_csv(root / "small.csv")) == 40


def test_fit_several_targets_and_warm_start(tmp_path, capsys):
    from sklearn.datasets import make_multilabel_classification

    X, Y = make_multilabel_classification(120, 4, n_classes=3, random_state=0)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"]).assign(
        l1=Y[:, 0], l2=Y[:, 1], l3=Y[:, 2])
    frame.to_csv(tmp_path / "ml.csv", index=False)
    argv = ["fit", str(tmp_path / "ml.csv"), "--target", "l1", "l2", "l3",
            "--time-budget", "30", "--n-trials", "1", "--verbose", "0"]
    assert main([*argv, "--out", str(tmp_path / "a.skautodl")]) == 0
    first = load(tmp_path / "a.skautodl")
    assert len(first.classes_) == 3  # multi-label: one output per column
    assert main([*argv, "--warm-start", str(tmp_path / "a.skautodl"),
                 "--out", str(tmp_path / "b.skautodl")]) == 0
    second = load(tmp_path / "b.skautodl")
    # the warm start ran the earlier search's config first
    assert second.cv_results_["params"][0]["lr"] == first.best_params_["lr"]
    assert main(["predict", str(tmp_path / "b.skautodl"), str(tmp_path / "ml.csv"),
                 "--proba", "--out", str(tmp_path / "p.csv")]) == 0
    out = pd.read_csv(tmp_path / "p.csv")
    assert list(out.columns) == ["prediction_0", "prediction_1", "prediction_2",
                                 "proba_0", "proba_1", "proba_2"]


def test_serve_without_the_serve_extra_says_what_to_install(iris_files, monkeypatch,
                                                            capsys):
    root, _, _ = iris_files
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # import fails
    assert main(["serve", str(root / "model.skautodl")]) == 2
    assert "pip install 'skautodl[serve]'" in capsys.readouterr().err
