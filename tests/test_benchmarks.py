"""Smoke test of benchmarks/search_efficiency.py: it runs end to end and
prints a table with both methods (tiny budget, digits only)."""


import pytest
from tests_helpers import benchmark_module


@pytest.fixture(scope="module")
def bench():
    with benchmark_module("search_efficiency.py", "search_efficiency") as module:
        yield module


@pytest.mark.timeout(120)
def test_search_efficiency_smoke(bench, capsys):
    # a small epoch cap bounds the baseline's uninterruptible iterations; one
    # torch thread keeps the run short when other jobs share the cores
    rows = bench.main(["--budget", "3", "--datasets", "digits",
                       "--max-epochs", "12", "--threads", "1"])
    out = capsys.readouterr().out
    table = out[out.index("dataset "):]
    assert "skautodl" in table and "baseline" in table
    assert "ratio skautodl time" in table
    assert len(rows) == 1 and rows[0]["dataset"] == "digits"
    for run in (rows[0]["auto"], rows[0]["base"]):
        assert run.n_trials >= 1
        assert 0.0 <= run.final_best <= 1.0
        assert 0.0 <= run.test_score <= 1.0
        assert len(run.times) == len(run.scores) >= 1
    assert rows[0]["auto"].note == "split identical: yes"


def test_parse_args_quick_and_budget(bench):
    assert bench.parse_args(["--quick"]).budget == bench.QUICK_BUDGET
    assert bench.parse_args([]).budget == bench.DEFAULT_BUDGET
    args = bench.parse_args(["--quick", "--budget", "5", "--datasets", "friedman1"])
    assert args.budget == 5 and args.datasets == ["friedman1"]
    with pytest.raises(SystemExit):
        bench.parse_args(["--datasets", "iris"])


def test_time_to_reach(bench):
    run = bench.Run("x", times=[1.0, 2.0, 3.0], scores=[0.5, float("nan"), 0.7])
    assert list(run.best_curve) == [0.5, 0.5, 0.7]
    assert run.final_best == 0.7
    assert run.time_to_reach(0.5) == 1.0
    assert run.time_to_reach(0.6) == 3.0
    assert run.time_to_reach(0.8) != run.time_to_reach(0.8)  # nan: never


@pytest.mark.timeout(120)
def test_cnn_portfolio_selection_smoke(capsys):
    # two candidates, one epoch on 400 generated shapes: the defaults come first
    with benchmark_module("cnn_portfolio_selection.py",
                          "cnn_portfolio_selection") as module:
        out = module.main(["--quick", "--epochs", "1", "--candidates", "k00",
                           "k01", "--threads", "1"])
    printed = capsys.readouterr().out
    assert "CNN_PORTFOLIO = [" in printed
    assert out["datasets"] == ["shapes"] and out["names"] == ["k00", "k01"]
    assert out["portfolio"][0] == "k00"
    assert ((out["scores"] >= 0) & (out["scores"] <= 1)).all()
