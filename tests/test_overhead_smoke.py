"""Smoke test of benchmarks/overhead.py: it runs end to end on a tiny setting
and prints a table with the three training paths and positive ratios."""


import pytest
from tests_helpers import benchmark_module


@pytest.fixture(scope="module")
def bench():
    with benchmark_module("overhead.py", "overhead_bench") as module:
        yield module


@pytest.mark.timeout(60)
def test_overhead_smoke(bench, capsys):
    import torch

    threads = torch.get_num_threads()
    try:
        rows = bench.main(["--quick", "--n-samples", "2000", "--epochs", "1",
                           "--repeats", "1", "--threads", "1", "--no-warmup"])
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    table = out[out.index("path "):]
    lines = {line.split()[0]: line.split() for line in table.splitlines()
             if line.strip()}
    for name in ("skautodl", "plain-torch", "skorch"):
        assert name in lines, f"row {name} missing from\n{table}"
        ratio = float(lines[name][4])
        assert ratio > 0
        assert rows[name]["epoch_s"] > 0 and rows[name]["samples_s"] > 0
        assert rows[name]["ratio"] > 0
    assert float(lines["plain-torch"][4]) == pytest.approx(1.0)
    assert "ratio skautodl / plain-torch" in out
    assert "load average" in out
