"""Smoke test of benchmarks/compare.py: a quick run of skautodl and
HistGradientBoosting on wine (one split seed, 3 s budget) prints the score
and cost tables and writes the docs section; a tool that is not installed
is skipped with a line saying so; a tool that hangs is killed with its
whole process tree at the timeout and reported, not fatal. Plus unit tests
of the ranks, the data files, the docs update and the interpreter choice."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests_helpers import benchmark_module, markdown_tables

#: the fake tools write the pid of the process they leave behind to this
#: path plus their name
PID_FILE_ENV = "SKAUTODL_COMPARE_TEST_PID_FILE"


class LeavesAProcess:
    """A fake tool that starts a process in a session of its own (which no
    signal to its process group reaches) and then hangs, or returns at once
    and predicts 0 (which leaves the process behind, an orphan)."""

    def __init__(self, hang):
        self.hang = hang

    def fit(self, X, y):
        orphan = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(600)"],
            start_new_session=True)
        name = "hanging" if self.hang else "leaving"
        Path(os.environ[PID_FILE_ENV] + name).write_text(str(orphan.pid))
        time.sleep(600 if self.hang else 1)  # long enough to be sampled
        return self

    def predict(self, X):
        return np.zeros(len(X), dtype=int)


def make_hanging(job, data):
    """Adapters of the fake tools (the child imports them by name)."""
    return LeavesAProcess(hang=True)


def make_leaving(job, data):
    return LeavesAProcess(hang=False)


@pytest.fixture(scope="module")
def bench():
    with benchmark_module("compare.py", "compare_bench") as module:
        yield module


def _alive(pid):
    """Whether ``pid`` runs (a zombie waiting to be reaped counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.timeout(120)
def test_compare_smoke(bench, capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(bench.TOOLS, "missing", bench.Tool(
        "Missing tool", ("skautodl_no_such_module",), (), "make_hgb"))
    docs = tmp_path / "benchmarks.md"
    docs.write_text(f"# Benchmarks\n\nearlier text\n\n{bench.SECTION}\n\nintro\n\n"
                    f"{bench.BEGIN}\nold results\n{bench.END}\n\n## Later\n\nkept\n")
    json_path = tmp_path / "compare.json"
    rows = bench.main(["--quick", "--budget", "3", "--max-epochs", "4",
                       "--datasets", "wine", "--split-seeds", "0",
                       "--tools", "skautodl,hgb,missing", "--threads", "1",
                       "--docs", str(docs), "--json", str(json_path)])
    out = capsys.readouterr().out
    assert "Missing tool: skipped, not installed (skautodl_no_such_module" in out
    assert [(r["tool"], r["status"]) for r in rows] == [("skautodl", "ok"),
                                                        ("hgb", "ok")]
    for r in rows:
        assert 0.5 < r["score"] <= 1.0
        assert r["fit_s"] > 0 and r["peak_mb"] > 50  # interpreter + numpy at least
    (h1, scores), (h2, costs) = markdown_tables(out)[:2]
    assert h1 == ("tool", "wine", "mean rank") and h2 == ("tool", "wine")
    assert [r["tool"] for r in scores] == ["skautodl", "HistGradientBoosting"]
    ranks = sorted(float(r["mean rank"]) for r in scores)
    assert ranks in ([1.0, 2.0], [1.5, 1.5])
    assert all(r["wine"].endswith(" MB") for r in costs)

    text = docs.read_text()
    assert "old results" not in text and "earlier text" in text
    assert text.index("## Later") > text.index(bench.END) > text.index("intro")
    generated = text.split(bench.BEGIN)[1].split(bench.END)[0]
    assert "python benchmarks/compare.py --quick" in generated
    assert "Missing tool: skipped" in generated
    assert "- skautodl: skautodl " in generated  # its version
    assert "CPU cores" in generated
    data = json.loads(json_path.read_text())
    assert data["skipped"] == {"missing": out.split("Missing tool: skipped, ")[1]
                               .split(".\n")[0]}
    assert set(data["mean_ranks"]) == {"skautodl", "hgb"}


@pytest.mark.timeout(60)
def test_processes_left_behind_are_killed(bench, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv(PID_FILE_ENV, str(tmp_path / "orphan-"))
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parent))
    for name in ("hanging", "leaving"):
        monkeypatch.setitem(bench.TOOLS, name, bench.Tool(
            f"{name.capitalize()} tool", ("sklearn",), ("scikit-learn",),
            f"test_compare_smoke:make_{name}"))
    t0 = time.perf_counter()
    rows = bench.main(["--quick", "--datasets", "wine", "--split-seeds", "0",
                       "--tools", "hanging,leaving", "--timeout", "12",
                       "--docs", "none"])
    assert time.perf_counter() - t0 < 45
    out = capsys.readouterr().out
    assert [(r["tool"], r["status"]) for r in rows] == [("hanging", "timeout"),
                                                        ("leaving", "ok")]
    assert rows[0]["error"] == "timeout after 12 s"
    assert rows[0]["killed"] == 2  # the child and the process it started
    assert rows[1]["killed"] == 1  # the orphan of a child that returned
    assert "Hanging tool: timeout: timeout after 12 s" in out
    (_, scores), _ = markdown_tables(out)[:2]
    assert scores[0] == {"tool": "Hanging tool", "wine": "failed", "mean rank": "2.00"}
    for name in ("hanging", "leaving"):
        orphan = int((tmp_path / f"orphan-{name}").read_text())
        deadline = time.monotonic() + 5
        while _alive(orphan) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(orphan), name


def test_rank_scores(bench):
    ranks = bench.rank_scores({"a": 0.9, "b": 0.95, "c": 0.9, "d": None, "e": None})
    assert ranks == {"b": 1.0, "a": 2.5, "c": 2.5, "d": 4.5, "e": 4.5}
    assert bench.rank_scores({"a": None}) == {"a": 1.0}


def test_summarize_failed_seed_ranks_last(bench):
    def row(tool, seed, score):
        status = "ok" if score is not None else "timeout"
        return {"dataset": "wine", "tool": tool, "seed": seed, "status": status,
                "score": score, "fit_s": 1.0, "peak_mb": 100.0 + seed,
                "error": "" if score is not None else "timeout after 1 s"}

    rows = [row("a", 0, 0.9), row("a", 1, 0.8), row("b", 0, 1.0), row("b", 1, None)]
    cells, mean_ranks = bench.summarize(rows, ["a", "b"], ["wine"])
    assert mean_ranks == {"a": 1.0, "b": 2.0}
    assert cells["wine", "a"]["mean"] == pytest.approx(0.85)
    assert cells["wine", "a"]["std"] == pytest.approx(np.std([0.9, 0.8], ddof=1))
    assert cells["wine", "a"]["peak_mb"] == 101.0
    assert not cells["wine", "b"]["ok"]
    assert cells["wine", "b"]["errors"] == ["seed 1: timeout after 1 s"]
    table = bench.score_table(cells, mean_ranks, ["a", "b"], ["wine"],
                              {"a": "A", "b": "B"})
    assert "**0.8500** ± 0.0707" in table and "1.0000 (1/2 seeds)" in table


def test_split_file_keeps_strings_and_missing_values(bench, tmp_path):
    X = pd.DataFrame({"num": [1.0, np.nan, 3.0],
                      "city": pd.Series(["a", None, "b"], dtype=object)})
    split = bench.Split(X, X.iloc[:1], np.array([0, 1, 0]), np.array([1]))
    path = tmp_path / "split.npz"
    bench.save_split(path, split)
    back = bench.load_split(path)
    pd.testing.assert_frame_equal(back.X_train, X)
    assert back.X_train["city"].dtype == object and back.X_train["city"][1] is None
    np.testing.assert_array_equal(back.y_train, [0, 1, 0])
    images = bench.Split(np.zeros((2, 8, 8)), np.ones((1, 8, 8)), np.array([0, 1]),
                         np.array([1]))
    bench.save_split(path, images)
    assert bench.load_split(path).X_test.shape == (1, 8, 8)


def test_update_docs_appends_the_section(bench, tmp_path):
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n\nother\n")
    bench.update_docs(docs, "first")
    bench.update_docs(docs, "second")
    text = docs.read_text()
    assert text.count(bench.SECTION) == 1 and "first" not in text
    assert text.startswith("# Benchmarks\n\nother\n\n" + bench.SECTION)
    assert f"{bench.BEGIN}\n\nsecond\n\n{bench.END}" in text


def test_interpreter_per_tool(bench, monkeypatch):
    monkeypatch.setenv("SKAUTODL_COMPARE_PYTHON_FLAML", "/opt/flaml/bin/python")
    args = bench.parse_args(["--python", "autogluon=/opt/ag/bin/python",
                             "--tools", "flaml,autogluon,hgb"])
    assert args.pythons == {"flaml": "/opt/flaml/bin/python",
                            "autogluon": "/opt/ag/bin/python",
                            "hgb": sys.executable}
    with pytest.raises(SystemExit):
        bench.parse_args(["--python", "nosuchtool=/usr/bin/python3"])
    versions, reason = bench.probe(bench.TOOLS["hgb"], "/no/such/python")
    assert versions == {} and reason == "interpreter /no/such/python not found"


@pytest.mark.timeout(120)
def test_resume_fits_only_what_the_file_lacks(bench, capsys, tmp_path):
    state = tmp_path / "compare.json"
    common = ["--quick", "--datasets", "wine", "--tools", "hgb,mlp", "--threads", "1",
              "--docs", "none", "--resume", str(state)]
    first = bench.main([*common, "--split-seeds", "0"])
    assert [(r["seed"], r["tool"]) for r in first] == [(0, "hgb"), (0, "mlp")]
    saved = json.loads(state.read_text())
    assert len(saved["rows"]) == 2 and all(r["commit"] for r in saved["rows"])
    capsys.readouterr()

    # a fit lost when the run stopped (here: taken out of the file) is run
    # again; the ones in the file are not
    saved["rows"] = saved["rows"][:1]
    state.write_text(json.dumps(saved))
    second = bench.main([*common, "--split-seeds", "0,1"])
    out = capsys.readouterr().out
    assert "resuming" in out and "1 fit(s) done" in out
    ran = [line for line in out.splitlines() if line.startswith("[wine seed")]
    assert [line.split("]")[0] for line in ran] == ["[wine seed 0", "[wine seed 1",
                                                     "[wine seed 1"]
    assert "MLP" in ran[0]
    assert second[0] == saved["rows"][0]  # the resumed fit, untouched
    assert sorted((r["seed"], r["tool"]) for r in second) == [
        (0, "hgb"), (0, "mlp"), (1, "hgb"), (1, "mlp")]
    assert len(json.loads(state.read_text())["rows"]) == 4
    (_, scores), _ = markdown_tables(out)[:2]
    assert {r["tool"] for r in scores} == {"HistGradientBoosting", "MLP (scikit-learn)"}

    # a run of a subset keeps the file's other fits
    bench.main([*common, "--split-seeds", "1"])
    assert len(json.loads(state.read_text())["rows"]) == 4

    # other settings: refused, the file is left as it is
    with pytest.raises(SystemExit, match="other settings.*budget"):
        bench.main([*common, "--split-seeds", "0", "--budget", "7"])
    assert len(json.loads(state.read_text())["rows"]) == 4
