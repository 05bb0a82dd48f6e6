"""Smoke test of benchmarks/quality.py: a quick run on one small data set and
two split seeds prints the per-seed table, the summary over the seeds (mean
and min..max range) and the table by method, with a missing optional
baseline (pytabkit, blocked here) as an n/a cell; plus unit tests of the
mixed-type data generator, the plan, the verdict columns, the summary and
the error cells."""

import csv
import json
import math
import sys

import numpy as np
import pandas as pd
import pytest
from tests_helpers import benchmark_module, markdown_tables


@pytest.fixture(scope="module")
def bench():
    with benchmark_module("quality.py", "quality_bench") as module:
        yield module


NA = "n/a (pytabkit not installed)"


@pytest.mark.timeout(120)
def test_quality_smoke(bench, capsys, tmp_path, monkeypatch):
    # pytabkit "not installed": `import pytabkit` raises ImportError here
    monkeypatch.setitem(sys.modules, "pytabkit", None)
    csv_path, json_path = tmp_path / "quality.csv", tmp_path / "quality.json"
    rows = bench.main(["--quick", "--budget", "1", "--max-epochs", "4",
                       "--datasets", "wine", "--split-seeds", "0,1",
                       "--baselines", "hgb,realmlp", "--variants", "default",
                       "--threads", "1", "--csv", str(csv_path),
                       "--json", str(json_path)])
    out = capsys.readouterr().out
    assert "realmlp: n/a (pytabkit not installed)" in out
    (h1, detail), (h2, summary), (h3, pivot) = markdown_tables(out)[:3]
    assert h1 == bench.COLUMNS and h2 == bench.SUMMARY_COLUMNS
    # each skautodl fit also scores its best single trial (its own rows)
    best = "skautodl:default" + bench.BEST_TRIAL
    assert {r["method"] for r in detail} >= {best}
    detail = [r for r in detail if r["method"] != best]
    summary = [r for r in summary if r["method"] != best]
    rows = [r for r in rows if r["method"] != best]
    assert h3 == ("dataset", "metric", "target", "skautodl:default", best, "hgb",
                  "realmlp")

    # per-seed rows: every method on both seeds
    assert sorted((r["method"], r["seed"]) for r in detail) == [
        (m, s) for m in ("hgb", "realmlp", "skautodl:default") for s in ("0", "1")]
    assert len(rows) == 6
    for row in detail:
        assert row["dataset"] == "wine" and row["metric"] == "accuracy"
        assert row["target"] == "0.978"
        if row["method"] == "realmlp":
            assert row["test"] == NA and row["met"] == "-"
            assert row["fit_s"] == "-" and row["peak_mb"] == "-"
            continue
        assert 0.0 <= float(row["test"]) <= 1.0 and row["met"] in ("yes", "no")
        assert float(row["fit_s"]) >= 0 and float(row["peak_mb"]) > 0
        if row["method"] == "hgb":
            assert row["ge_best_baseline"] == "-"
        else:  # against the best baseline of the same seed: hgb
            assert row["ge_best_baseline"].split()[0] in ("yes", "no")
            assert "vs hgb)" in row["ge_best_baseline"]

    # summary: mean and min..max range over the two seeds
    by_method = {r["method"]: r for r in summary}
    assert set(by_method) == {"skautodl:default", "hgb", "realmlp"}
    for method in ("skautodl:default", "hgb"):
        row = by_method[method]
        seeds = [float(r["test"]) for r in detail if r["method"] == method]
        assert row["seeds"] == "2/2"
        assert float(row["test_mean"]) == pytest.approx(np.mean(seeds), abs=1e-4)
        low, high = (float(x) for x in row["test_range"].split(".."))
        assert low == pytest.approx(min(seeds), abs=1e-4)
        assert high == pytest.approx(max(seeds), abs=1e-4)
        fits = [float(r["fit_s"]) for r in detail if r["method"] == method]
        assert float(row["fit_s_mean"]) == pytest.approx(np.mean(fits), abs=0.06)
        assert float(row["peak_mb_max"]) == max(
            float(r["peak_mb"]) for r in detail if r["method"] == method)
    verdict = by_method["skautodl:default"]["ge_best_baseline"]
    assert verdict.split()[0] in ("yes", "no") and verdict.endswith("/2 seeds)")
    na = by_method["realmlp"]
    assert na["test_mean"] == NA and na["test_range"] == "-" and na["met"] == "-"

    # by method: one column per method, mean [min, max]
    (line,) = pivot
    assert line["realmlp"] == NA
    assert line["hgb"].replace("*", "").startswith(by_method["hgb"]["test_mean"])
    assert "[" in line["skautodl:default"] and "]" in line["skautodl:default"]

    with open(csv_path, newline="") as fh:
        written = [r for r in csv.DictReader(fh) if r["method"] != best]
    assert len(written) == 6 and tuple(written[0]) == bench.CSV_COLUMNS
    data = json.loads(json_path.read_text())
    data["rows"] = [r for r in data["rows"] if r["method"] != best]
    data["summary"] = [r for r in data["summary"] if r["method"] != best]
    assert data["settings"]["split_seeds"] == [0, 1]
    assert data["settings"]["unavailable"] == {"realmlp": "pytabkit not installed"}
    assert len(data["rows"]) == 6 and len(data["summary"]) == 3
    assert {(r["method"], r["seed"]) for r in data["rows"]} == {
        (m, s) for m in ("hgb", "realmlp", "skautodl:default") for s in (0, 1)}
    for r in data["rows"]:
        assert r["status"] == ("n/a" if r["method"] == "realmlp" else "ok")
    # a classifier's ensemble reports its temperature beside its log loss
    for r in data["rows"]:
        if r["method"] == "skautodl:default":
            assert r["ensemble"]["temperature"] > 0
            assert r["ensemble"]["log_loss"] >= 0
    auto = next(r for r in data["summary"] if r["method"] == "skautodl:default")
    assert len(auto["scores"]) == 2 and auto["score_std"] is not None


def test_realmlp_missing_in_child(bench, capsys, monkeypatch):
    """A child that cannot import pytabkit reports n/a, not an error."""
    monkeypatch.setitem(sys.modules, "pytabkit", None)
    assert bench.unavailable("realmlp") == "pytabkit not installed"
    assert bench.unavailable("hgb") is None
    bench.child_main(json.dumps({
        "dataset": "wine", "method": "realmlp", "variant": None, "budget": 1.0,
        "quick": True, "split_seed": 0, "random_state": 0, "max_epochs": 2,
        "threads": None}))
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith(bench.RESULT_PREFIX)
    result = json.loads(line[len(bench.RESULT_PREFIX):])
    assert result["status"] == "n/a" and result["reason"] == "pytabkit not installed"
    assert "pytabkit" in result["error"]  # the ImportError


def test_variant_parameter_missing_is_an_error(bench, capsys, monkeypatch):
    """A variant naming a parameter skautodl lacks: an error result."""
    monkeypatch.setitem(bench.VARIANTS, "future", {"no_such_parameter": 3})
    bench.child_main(json.dumps({
        "dataset": "wine", "method": "skautodl", "variant": "future",
        "budget": 1.0, "quick": True, "split_seed": 0, "random_state": 0,
        "max_epochs": 2, "threads": None}))
    line = capsys.readouterr().out.strip().splitlines()[-1]
    result = json.loads(line[len(bench.RESULT_PREFIX):])
    assert result["status"] == "error"
    assert "TypeError" in result["error"] and "no_such_parameter" in result["error"]


def test_make_mixed(bench):
    X, y = bench.make_mixed()
    assert X.shape == (5000, 9) and y.shape == (5000,)
    assert set(np.unique(y)) == {0, 1} and 0.3 < y.mean() < 0.7
    cat = [c for c in X.columns if X[c].dtype == object]
    assert cat == ["city", "color", "size"]
    assert X["city"].nunique() == 20
    for col in cat:
        values = X[col].dropna()
        assert all(isinstance(v, str) for v in values)
        assert X[col].isna().sum() == sum(v is None for v in X[col])
    for col in X.columns.difference(cat):
        assert X[col].dtype == np.float64
    assert X.isna().to_numpy().mean() == pytest.approx(0.10, abs=0.01)
    X2, y2 = bench.make_mixed()
    pd.testing.assert_frame_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    X3, _ = bench.make_mixed(random_state=1)
    assert not X3.equals(X)


def test_splits_follow_the_seed(bench):
    a = bench.split_data("wine", random_state=0)
    b = bench.split_data("wine", random_state=0)
    c = bench.split_data("wine", random_state=1)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])
    assert len(a[1]) == len(c[1]) == math.ceil(178 * bench.TEST_FRACTION)


def test_realmlp_view(bench):
    X_train, X_test, _, _ = bench.split_data("mixed", quick=True)
    tr, te = bench.realmlp_view("mixed", X_train, X_test)
    for frame in (tr, te):
        for col in ("city", "color", "size"):
            assert isinstance(frame[col].dtype, pd.CategoricalDtype)
            assert list(frame[col].cat.categories) == sorted(
                X_train[col].dropna().unique())
        assert not frame[[f"num_{j}" for j in range(6)]].isna().any().any()
    assert tr["city"].isna().sum() == X_train["city"].isna().sum() > 0
    unseen = ~X_test["city"].isin(tr["city"].cat.categories) & X_test["city"].notna()
    assert unseen.any()  # levels only the test rows have: missing values
    assert te["city"].isna().sum() == X_test["city"].isna().sum() + unseen.sum()
    X_train, X_test, _, _ = bench.split_data("digits_images", quick=True)
    tr, te = bench.realmlp_view("digits_images", X_train, X_test)
    assert tr.shape == (len(X_train), 64) and tr.dtype == np.float32
    assert 0.0 <= tr.min() and tr.max() <= 1.0 and tr.max() > 0.9
    X = np.zeros((3, 4))
    assert bench.realmlp_view("wine", X, X)[0] is X


def test_plan_seeds_and_skips_images_for_tabular_variants(bench):
    args = bench.parse_args(["--datasets", "digits_images,wine", "--variants",
                             "single,mlp", "--baselines", "hgb", "--split-seeds",
                             "0,1"])
    jobs, skipped = bench.plan(args)
    assert [(j.dataset, j.label, j.seed) for j in jobs] == [
        ("digits_images", "skautodl:single", 0), ("digits_images", "hgb", 0),
        ("digits_images", "skautodl:single", 1), ("digits_images", "hgb", 1),
        ("wine", "skautodl:single", 0), ("wine", "skautodl:mlp", 0),
        ("wine", "hgb", 0), ("wine", "skautodl:single", 1),
        ("wine", "skautodl:mlp", 1), ("wine", "hgb", 1)]
    assert skipped == [("digits_images", "skautodl:mlp")]


def test_parse_args(bench):
    args = bench.parse_args([])
    assert args.budget == bench.DEFAULT_BUDGET and args.max_epochs is None
    assert args.datasets == list(bench.DATASETS)
    assert args.baselines == ["hgb", "mlp", "skorch", "realmlp"]
    assert args.variants == ["default"]
    assert args.split_seeds == [0, 1, 2] and args.random_state is None
    assert bench.job_timeout(args, "hgb") == 4 * 60 + 300
    assert bench.job_timeout(args, "realmlp") == bench.REALMLP_MIN_TIMEOUT
    quick = bench.parse_args(["--quick", "--split-seeds", "3"])
    assert quick.budget == bench.QUICK_BUDGET and quick.split_seeds == [3]
    assert quick.max_epochs == bench.QUICK_MAX_EPOCHS
    assert quick.realmlp_epochs is None  # RealMLP-TD's own 256 epochs
    assert bench.parse_args(["--quick", "--max-epochs", "5"]).realmlp_epochs == 5
    assert bench.parse_args(["--variants", "all"]).variants == list(bench.VARIANTS)
    assert {"single", "default", "bagging5"} <= set(bench.VARIANTS)
    assert bench.VARIANTS["single"] == {"ensemble_size": 1}
    assert bench.VARIANTS["bagging5"] == {"cv": 5}
    assert bench.VARIANTS["default"] == {}
    # the dev suite is its own --suite; names of either suite are accepted
    assert bench.parse_args(["--suite", "dev"]).datasets == list(bench.DEV_DATASETS)
    assert bench.parse_args([]).datasets == list(bench.DATASETS)
    assert "iris" not in bench.DATASETS  # dev data never in the test suite
    assert not set(bench.DATASETS) & set(bench.DEV_DATASETS)
    for bad in (["--datasets", "imagenet"], ["--variants", "cnn"],
                ["--suite", "train"],
                ["--baselines", "svm"], ["--variants", "none", "--baselines",
                                         "none"], ["--split-seeds", "a"],
                ["--split-seeds", ""], ["--split-seeds", "-1"]):
        with pytest.raises(SystemExit):
            bench.parse_args(bad)


def _ok(score, trials=None, fit=1.0, peak=100.0):
    return {"status": "ok", "test": score, "fit_s": fit, "peak_mb": peak,
            "trials": trials}


def test_verdicts_summary_and_error_cells(bench):
    Job = bench.Job
    results = [
        (Job("mixed", "skautodl", "default", "skautodl:default", 0), _ok(0.84, 7)),
        (Job("mixed", "skautodl", "bagging5", "skautodl:bagging5", 0),
         {"status": "error", "error": "NotImplementedError: not yet",
          "peak_mb": 90.0}),
        (Job("mixed", "hgb", None, "hgb", 0), _ok(0.82)),
        (Job("mixed", "mlp", None, "mlp", 0), _ok(0.86)),
        (Job("mixed", "realmlp", None, "realmlp", 0),
         {"status": "n/a", "reason": "pytabkit not installed"}),
        (Job("mixed", "skautodl", "default", "skautodl:default", 1),
         _ok(0.80, 9, fit=3.0, peak=300.0)),
        (Job("mixed", "skautodl", "bagging5", "skautodl:bagging5", 1), _ok(0.83)),
        (Job("mixed", "hgb", None, "hgb", 1), _ok(0.78)),
        (Job("mixed", "mlp", None, "mlp", 1), _ok(0.76)),
        (Job("mixed", "realmlp", None, "realmlp", 1),
         {"status": "n/a", "reason": "pytabkit not installed"}),
        (Job("wine", "skautodl", "default", "skautodl:default", 0), _ok(0.98)),
    ]
    rows = bench.build_rows(results)
    per_seed = {(r["dataset"], r["method"], r["seed"]): r for r in rows}
    auto = per_seed["mixed", "skautodl:default", 0]
    assert auto["target"] == "hgb 0.8200" and auto["met"] == "yes"
    assert auto["ge_best_baseline"] == "no (-0.0200 vs mlp)"
    assert auto["note"] == "trials 7"
    auto1 = per_seed["mixed", "skautodl:default", 1]
    assert auto1["target"] == "hgb 0.7800"
    assert auto1["ge_best_baseline"] == "yes (+0.0200 vs hgb)"
    failed = per_seed["mixed", "skautodl:bagging5", 0]
    assert failed["status"] == "error" and failed["met"] == "-"
    assert "NotImplementedError" in failed["note"]
    assert per_seed["mixed", "hgb", 0]["ge_best_baseline"] == "-"
    assert per_seed["mixed", "realmlp", 0]["status"] == "n/a"
    wine = per_seed["wine", "skautodl:default", 0]
    assert wine["met"] == "yes" and wine["ge_best_baseline"] == "n/a (no baseline)"
    table = bench.format_markdown(rows)
    cells = {}
    for line in table.splitlines()[2:]:
        c = [x.strip() for x in line.strip("|").split("|")]
        cells[c[2], c[3]] = c[bench.COLUMNS.index("test")]
    assert cells["skautodl:bagging5", "0"] == "error"
    assert cells["realmlp", "1"] == "n/a (pytabkit not installed)"

    summary = bench.summarize(rows, [("digits_images", "skautodl:mlp")])
    by = {(r["dataset"], r["method"]): r for r in summary}
    assert list(by)[0] == ("digits_images", "skautodl:mlp")  # data set order
    s = by["mixed", "skautodl:default"]
    assert s["score_mean"] == pytest.approx(0.82) and s["n_ok"] == 2
    assert (s["score_min"], s["score_max"]) == (0.80, 0.84)
    assert s["score_std"] == pytest.approx(np.std([0.84, 0.80], ddof=1))
    assert s["fit_s_mean_value"] == 2.0 and s["peak_mb_max_value"] == 300.0
    assert s["target"] == "hgb 0.8000" and s["met"] == "yes"
    # mean 0.82 against the best baseline mean (mlp 0.81); per seed: lost on
    # seed 0 (mlp 0.86), won on seed 1 (hgb 0.78)
    assert s["ge_best_baseline"] == "yes (+0.0100 vs mlp; 1/2 seeds)"
    bag = by["mixed", "skautodl:bagging5"]
    assert bag["n_ok"] == 1 and bag["score_mean"] == 0.83
    assert "seed 0: NotImplementedError" in bag["note"]
    assert by["mixed", "realmlp"]["status"] == "n/a"
    assert by["digits_images", "skautodl:mlp"]["status"] == "skipped"

    text = bench.format_summary(summary)
    cells = {}
    for line in text.splitlines()[2:]:
        c = [x.strip() for x in line.strip("|").split("|")]
        cells[c[0], c[2]] = dict(zip(bench.SUMMARY_COLUMNS, c, strict=True))
    assert cells["mixed", "skautodl:default"]["test_mean"] == "0.8200"
    assert cells["mixed", "skautodl:default"]["test_range"] == "0.8000..0.8400"
    assert cells["mixed", "skautodl:bagging5"]["seeds"] == "1/2"
    assert cells["mixed", "realmlp"]["test_mean"] == "n/a (pytabkit not installed)"
    assert cells["digits_images", "skautodl:mlp"]["test_mean"] == "skipped"

    pivot = bench.format_pivot(summary).splitlines()
    header = [x.strip() for x in pivot[0].strip("|").split("|")]
    assert header == ["dataset", "metric", "target", "skautodl:mlp",
                      "skautodl:default", "skautodl:bagging5", "hgb", "mlp",
                      "realmlp"]
    lines = {x.split("|")[1].strip(): x for x in pivot[2:]}
    assert list(lines) == ["digits_images", "wine", "mixed"]  # data set order
    mixed = dict(zip(header, (x.strip() for x in lines["mixed"].strip("|").split("|")),
                     strict=True))
    assert mixed["skautodl:default"] == "0.8200 [0.8000, 0.8400]"
    assert mixed["skautodl:bagging5"] == "**0.8300** (1/2 seeds)"
    assert mixed["realmlp"] == "n/a (pytabkit not installed)"
    assert mixed["skautodl:mlp"] == "-"


def test_child_failures_become_errors(bench):
    job = {"dataset": "no_such_data", "method": "hgb", "variant": None,
           "budget": 1.0, "quick": True, "split_seed": 0, "random_state": 0,
           "max_epochs": None, "threads": 1}
    res = bench.run_job(job, timeout=60)
    assert res["status"] == "error" and "KeyError" in res["error"]
    assert res["peak_mb"] > 0
    res = bench.run_job({**job, "dataset": "wine"}, timeout=0.2)
    assert res["status"] == "error" and res["error"].startswith("timeout")
