"""Smoke test of benchmarks/portfolio_selection.py: dev-suite data only, one
candidate per family and family-wise portfolios, defaults first."""

import numpy as np
import pytest
from tests_helpers import benchmark_module


@pytest.fixture(scope="module")
def selection():
    with benchmark_module("portfolio_selection.py", "portfolio_selection") as module:
        yield module


def test_selection_uses_the_dev_suite_only(selection):
    selection._benchmarks_on_path()
    from devsuite import DEV_DATASETS

    assert set(selection.DATASETS) <= set(DEV_DATASETS)
    assert set(selection.QUICK_DATASETS) <= set(selection.DATASETS)
    # the test sets of the quality benchmark are not among them
    assert not {"digits", "breast_cancer", "wine", "diabetes", "friedman1",
                "mixed"} & set(selection.DATASETS)


@pytest.mark.parametrize("family", ["mlp", "embed", "ensemble_mlp"])
def test_candidates_are_points_of_the_task_space(selection, family):
    from skautodl.data.validation import TaskInfo

    for task in (TaskInfo("multiclass", 3), TaskInfo("continuous", 1)):
        for name, entry in selection.CANDIDATES[family].items():
            config, dropped = selection.trial_config(family, entry, task)
            allowed = [] if task.is_classification else [selection.LS]
            assert set(dropped) <= set(allowed), (name, dropped)
            assert config["family"] == family
    first = next(iter(selection.CANDIDATES[family]))
    assert first == selection.DEFAULTS[family]


@pytest.mark.timeout(300)
def test_quick_run_picks_defaults_first(selection, capsys):
    out = selection.main(["--quick", "--datasets", "iris", "friedman3",
                          "--max-epochs", "2", "--candidates", "c00", "r01",
                          "e00", "e04", "m00", "--threads", "1"])
    printed = capsys.readouterr().out
    assert "MLP_PORTFOLIO = [" in printed and "EMBED_PORTFOLIO = [" in printed
    assert out["datasets"] == ["iris", "friedman3"]
    assert out["portfolios"]["mlp"][0] == "c00"
    assert out["portfolios"]["embed"][0] == "e00"
    assert out["portfolios"]["ensemble_mlp"] == ["m00"]
    assert np.isfinite(out["raw"]).all()
    assert ((out["scores"] >= 0) & (out["scores"] <= 1)).all()
