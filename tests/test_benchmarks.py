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


@pytest.mark.timeout(180)
def test_ensemble_selection_study_smoke(capsys):
    # one short fit on iris: every rule is scored on the same pooled trials
    with benchmark_module("ensemble_selection_study.py",
                          "ensemble_selection_study") as module:
        rows = module.main(["--datasets", "iris", "--split-seeds", "0",
                            "--budget", "8"])
        import numpy as np

        from skautodl.ensemble import PredictionPool
        from skautodl.training.trial import TrialResult

        pool = PredictionPool(10)
        rng = np.random.RandomState(0)
        y = rng.rand(40)
        for t in range(8):
            pool.add(TrialResult(config={}, status="ok", score=-t, trial_id=t,
                                 split_scores=[-t],
                                 valid_predictions=[y + rng.normal(0, 0.1 + t, 40)]))

        def neg_mse(out, target):
            return -float(np.mean((out - target) ** 2))

        weights = {rule: module.rule_weights(rule, pool, y, neg_mse, None, False)
                   for rule in module.RULES}
    assert {r["rule"] for r in rows} == set(module.RULES)
    for r in rows:
        assert 0.0 <= r["test"] <= 1.0 and r["log_loss"] >= 0 and r["log_loss_t"] >= 0
    table = capsys.readouterr().out
    assert "| iris |" in table and "| mean rank |" in table
    assert weights["best"] == {0: 1.0}
    assert weights["top5"] == dict.fromkeys(range(5), 0.2)
    assert weights["logloss10"] is None  # classifiers only
    for rule in ("greedy10", "greedy25", "bagged10"):
        assert sum(weights[rule].values()) == pytest.approx(1.0)
    assert len(weights["bagged10"]) >= len(weights["greedy10"])


@pytest.mark.timeout(240)
def test_scale_smoke(capsys, tmp_path):
    # 3,000 rows, a 6 s budget: both methods run in their own processes and
    # the table has the search's trials, rows and memory
    with benchmark_module("scale.py", "scale") as module:
        rows = module.main(["--rows", "3000", "--budgets", "6", "--n-jobs", "1",
                            "--predict-rows", "20000", "--threads", "1",
                            "--params", "fidelity=\"halving-rows\"",
                            "--out", str(tmp_path / "scale.json")])
    out = capsys.readouterr().out
    assert "| rows | budget | method |" in out
    assert [r["method"] for r in rows] == ["hgb", "skautodl"]
    assert all(r["status"] == "ok" for r in rows), rows
    auto = rows[1]
    assert auto["trials"] >= 2 and 0.5 < auto["test"] <= 1.0
    # forced data-size fidelity: some trial trained on a subsample
    assert auto["rows_min"] < auto["n_train"] * 0.8  # the training split: 2,400
    assert auto["rows_min"] <= auto["rows_max"] <= auto["n_train"] * 0.8
    assert auto["peak_mb"] > 100 and auto["predict_rows_s"] > 0
    # the memory sampler sees a process's own memory
    sampler = module.MemorySampler(tree=False)
    assert sampler.sample() > 10


def test_temperature_study_rules():
    import numpy as np

    with benchmark_module("temperature_study.py", "temperature_study") as module:
        rng = np.random.RandomState(0)
        y = rng.randint(0, 2, 200)
        sure = np.full((200, 2), 0.1)
        sure[np.arange(200), y] = 0.9  # always right, 90 % sure
        blend = (sure + 0.5) / 2  # a blend of it and a coin: under-confident
        ts = {r: module.rule_temperature(r, blend, [sure], y)
              for r in module.RULES if r != "default"}
    assert ts["none"] == 1.0 and ts["soften"] == 1.0
    assert ts["fitted"] < ts["member"] < 1.0  # the member bounds the sharpening
    assert ts["floor"] == max(ts["fitted"], 0.5)


@pytest.mark.timeout(120)
def test_compress_benchmark_smoke(capsys, tmp_path):
    # one tiny fit (a 3 s budget, one network family, no bagging) and its
    # compression: the script runs end to end and prints its table
    with benchmark_module("compress.py", "compress_benchmark") as module:
        rows = module.main(["--datasets", "breast_cancer", "--budget", "3",
                            "--params", '{"cv": null, "families": ["mlp"]}',
                            "--out", str(tmp_path / "compress.json")])
    out = capsys.readouterr().out
    assert "| dataset | seed | test before | test after |" in out
    assert "smallest file ratio" in out
    assert len(rows) == 1 and rows[0]["dataset"] == "breast_cancer"
    row = rows[0]
    assert 0.5 < row["test_after"] <= 1 and row["ratio"] > 1
    assert row["nonzero_after"] < row["params"]
    assert (tmp_path / "compress.json").exists()


def test_scoring_precision_smoke(capsys):
    # both passes are timed on the same nets; their outputs agree to float32
    # rounding
    with benchmark_module("scoring_precision.py", "scoring_precision") as module:
        rows = module.main(["--rows", "3000", "--repeats", "1", "--threads", "1"])
    out = capsys.readouterr().out
    assert "| net | rows | float64 s | float32 s |" in out
    assert [r["net"] for r in rows] == ["mlp 2 x 256", "mlp 3 x 512"]
    for r in rows:
        assert r["float64_s"] > 0 and r["float32_s"] > 0
        assert 0 < r["max_diff"] < 1e-4  # computed differently, nearly equal


@pytest.mark.timeout(180)
def test_bagging_memory_smoke(capsys):
    # one bagged trial in a fresh process: the table has its memory, its
    # pickled size and its members
    with benchmark_module("bagging_memory.py", "bagging_memory") as module:
        rows = module.main(["--trials", "1"])
    out = capsys.readouterr().out
    assert "| code | trials | peak RSS MB | pickle MB |" in out
    (row,) = rows
    assert row["cv"] == 5 and row["members"] == 1
    assert row["peak_mb"] > 100 and 0 < row["pickle_mb"] < 100
    # a pickled bagged member is about its 5 nets' float32 weights (4 bytes
    # a parameter; 12 with AdamW's moments)
    assert row["pickle_mb"] < 2 * 4 * row["member_params"] / 1e6
    assert 0.8 < row["test"] <= 1.0
