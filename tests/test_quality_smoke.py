"""Smoke test of benchmarks/quality.py: a quick run on two small data sets
prints a markdown table with a row per method and finite scores; plus unit
tests of the mixed-type data generator, the verdict columns and the error
cells."""

import csv
import math

import numpy as np
import pandas as pd
import pytest
from tests_helpers import benchmark_module


@pytest.fixture(scope="module")
def bench():
    with benchmark_module("quality.py", "quality_bench") as module:
        yield module


def _table(out, columns):
    """The markdown table in ``out`` as a list of dicts."""
    lines = [ln for ln in out.splitlines() if ln.startswith("| ")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert tuple(header) == columns
    assert set(lines[1]) <= set("|-: ")
    return [dict(zip(header, (c.strip() for c in ln.strip("|").split("|")),
                     strict=True)) for ln in lines[2:]]


@pytest.mark.timeout(120)
def test_quality_smoke(bench, capsys, tmp_path):
    path = tmp_path / "quality.csv"
    rows = bench.main(["--quick", "--datasets", "wine,diabetes", "--baselines",
                       "hgb,mlp", "--variants", "default", "--threads", "1",
                       "--csv", str(path)])
    out = capsys.readouterr().out
    table = _table(out, bench.COLUMNS)
    expected = {(d, m) for d in ("wine", "diabetes")
                for m in ("skautodl:default", "hgb", "mlp")}
    assert {(r["dataset"], r["method"]) for r in table} == expected
    assert len(table) == len(rows) == 6
    for row in table:
        assert math.isfinite(float(row["test"])), row
        assert float(row["fit_s"]) >= 0 and float(row["peak_mb"]) > 0
        assert row["met"] in ("yes", "no")
        assert row["metric"] == ("accuracy" if row["dataset"] == "wine" else "r2")
        assert row["target"] == {"wine": "0.978", "diabetes": "0.35"}[row["dataset"]]
        if row["method"].startswith("skautodl"):
            assert row["ge_best_baseline"].split()[0] in ("yes", "no")
        else:
            assert row["ge_best_baseline"] == "-"
    for row in rows:
        assert row["status"] == "ok" and np.isfinite(row["score"])
        if row["metric"] == "accuracy":
            assert 0.0 <= row["score"] <= 1.0
    with open(path, newline="") as fh:
        written = list(csv.DictReader(fh))
    assert len(written) == 6 and tuple(written[0]) == bench.CSV_COLUMNS


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


def test_plan_skips_images_for_tabular_variants(bench):
    args = bench.parse_args(["--datasets", "digits_images,wine", "--variants",
                             "default,mlp", "--baselines", "none"])
    jobs, skipped = bench.plan(args)
    assert [(j[0], j[3]) for j in jobs] == [
        ("digits_images", "skautodl:default"), ("wine", "skautodl:default"),
        ("wine", "skautodl:mlp")]
    assert skipped == [("digits_images", "skautodl:mlp")]


def test_parse_args(bench):
    args = bench.parse_args([])
    assert args.budget == bench.DEFAULT_BUDGET and args.max_epochs is None
    assert args.datasets == list(bench.DATASETS)
    assert args.baselines == ["hgb", "mlp", "skorch"]
    assert args.variants == ["default"]
    quick = bench.parse_args(["--quick"])
    assert quick.budget == bench.QUICK_BUDGET
    assert quick.max_epochs == bench.QUICK_MAX_EPOCHS
    assert bench.parse_args(["--variants", "all"]).variants == list(bench.VARIANTS)
    for bad in (["--datasets", "iris"], ["--variants", "cnn"],
                ["--baselines", "svm"], ["--variants", "none", "--baselines",
                                         "none"]):
        with pytest.raises(SystemExit):
            bench.parse_args(bad)


def _ok(score, trials=None):
    return {"status": "ok", "test": score, "fit_s": 1.0, "peak_mb": 100.0,
            "trials": trials}


def test_verdicts_and_error_cells(bench):
    results = [
        (("mixed", "skautodl", "default", "skautodl:default"), _ok(0.84, 7)),
        (("mixed", "skautodl", "embed", "skautodl:embed"),
         {"status": "error", "error": "NotImplementedError: not yet",
          "peak_mb": 90.0}),
        (("mixed", "hgb", None, "hgb"), _ok(0.82)),
        (("mixed", "mlp", None, "mlp"), _ok(0.86)),
        (("wine", "skautodl", "default", "skautodl:default"), _ok(0.98)),
    ]
    rows = {(r["dataset"], r["method"]): r for r in bench.build_rows(results, [])}
    auto = rows["mixed", "skautodl:default"]
    assert auto["target"] == "hgb 0.8200" and auto["met"] == "yes"
    assert auto["ge_best_baseline"] == "no (-0.0200 vs mlp)"
    assert auto["note"] == "trials 7"
    failed = rows["mixed", "skautodl:embed"]
    assert failed["status"] == "error" and failed["met"] == "-"
    assert "NotImplementedError" in failed["note"]
    assert rows["mixed", "hgb"]["ge_best_baseline"] == "-"
    wine = rows["wine", "skautodl:default"]
    assert wine["met"] == "yes" and wine["ge_best_baseline"] == "n/a (no baseline)"
    table = bench.format_markdown(list(rows.values()))
    line = next(ln for ln in table.splitlines() if "skautodl:embed" in ln)
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[bench.COLUMNS.index("test")] == "error"


def test_child_failures_become_errors(bench):
    job = {"dataset": "no_such_data", "method": "hgb", "variant": None,
           "budget": 1.0, "quick": True, "random_state": 0, "max_epochs": None,
           "threads": 1}
    res = bench.run_job(job, timeout=60)
    assert res["status"] == "error" and "KeyError" in res["error"]
    assert res["peak_mb"] > 0
    res = bench.run_job({**job, "dataset": "wine"}, timeout=0.2)
    assert res["status"] == "error" and res["error"].startswith("timeout")
