"""Smoke test of benchmarks/gpu.py: it runs end to end on tiny sizes and
prints a table with the MLP and CNN rows; without CUDA the GPU columns read
"n/a (no CUDA)"."""


import pytest
from tests_helpers import benchmark_module


@pytest.fixture(scope="module")
def bench():
    with benchmark_module("gpu.py", "gpu_bench") as module:
        yield module


@pytest.mark.timeout(60)
def test_gpu_benchmark_smoke(bench, capsys):
    import torch

    rows = bench.main(["--quick", "--n-samples", "400", "--epochs", "1",
                       "--budget", "1.5", "--search-samples", "120",
                       "--cpu-epoch-seconds", "0.3"])
    out = capsys.readouterr().out
    # the first table: from its header to the blank line under it
    table = out[out.index("family "):].split("\n\n")[0]
    lines = {line.split()[0]: line for line in table.splitlines() if line.strip()}
    for label in ("MLP", "CNN"):
        assert label in lines, f"row {label} missing from\n{table}"
        cpu = rows[label]["cpu"]
        assert cpu["rows"] > 0 and cpu["samples_s"] > 0 and cpu["epoch_s"] > 0
        assert "search_cpu" in rows[label]
        if not torch.cuda.is_available():
            assert "gpu" not in rows[label]
            # rows, samples/s, speedup and trials/min of the GPU
            assert lines[label].count("n/a (no CUDA)") == 4, lines[label]
    if not torch.cuda.is_available():
        assert "GPU: n/a (no CUDA)" in out
    assert "load average" in out
