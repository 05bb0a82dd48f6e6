"""Smoke test of benchmarks/gpu_check.py: the ``--quick`` run on the CPU
passes every CPU row, marks the CUDA-only rows SKIP and writes one JSON
entry per check; a failing check is a FAIL row and exit code 1. With CUDA,
the full script is run by the ``gpu``-marked test."""

import json

import pytest
import torch
from tests_helpers import benchmark_module

CUDA_ONLY = {"precision_fp16", "cuda_memory_baseline"}


@pytest.fixture(scope="module")
def gpu_check():
    with benchmark_module("gpu_check.py", "gpu_check") as module:
        yield module


def _load(path):
    payload = json.loads(path.read_text())
    return payload, {row["check"]: row for row in payload["checks"]}


@pytest.mark.timeout(180)
def test_gpu_check_quick_on_cpu(gpu_check, tmp_path, capsys):
    out = tmp_path / "gpu_check.json"
    # on a machine with CUDA the quick run still checks the CPU rows
    argv = ["--quick", "--out", str(out)]
    if torch.cuda.is_available():
        argv.append("--no-gpu")
    code = gpu_check.main(argv)
    printed = capsys.readouterr().out

    payload, rows = _load(out)
    names = [c.name for c in gpu_check.CHECKS]
    assert [row["check"] for row in payload["checks"]] == names  # one per check
    assert {c.name for c in gpu_check.CHECKS if c.needs_cuda} == CUDA_ONLY
    assert len(names) == 9
    for name, row in rows.items():
        assert set(row) >= {"check", "device", "result", "seconds", "detail"}
        if name in CUDA_ONLY:
            assert row["result"] == "SKIP", row
            assert row["device"] == "cuda"
        else:
            assert row["result"] == "PASS", f"{name}: {row['detail']}"
            assert row["device"] == "cpu"
            assert row["seconds"] > 0 and row["detail"]
    assert code == 0
    assert payload["counts"] == {"PASS": 7, "FAIL": 0, "SKIP": 2}
    assert payload["environment"]["used_cuda"] is False

    table = printed[printed.index("check "):]
    for name, row in rows.items():
        line = next(li for li in table.splitlines() if li.startswith(name + " "))
        assert row["result"] in line.split()
    assert "7 passed, 0 failed, 2 skipped" in printed
    # the torch thread count --quick sets is given back
    assert torch.get_num_threads() >= 1
    # a generous bound: other jobs may share the 2 cores


def test_gpu_check_failure_is_a_row(gpu_check, tmp_path, monkeypatch, capsys):
    def boom(ctx):
        raise RuntimeError("broken on purpose")

    def fails(ctx):
        gpu_check.require(False, "not so")

    checks = (gpu_check.Check("boom", boom), gpu_check.Check("fails", fails),
              gpu_check.Check("fine", lambda ctx: "all good"),
              gpu_check.Check("gpu_only", lambda ctx: "ran", needs_cuda=True))
    monkeypatch.setattr(gpu_check, "CHECKS", checks)
    threads = torch.get_num_threads()
    out = tmp_path / "rows.json"
    code = gpu_check.main(["--quick", "--no-gpu", "--out", str(out)])
    assert code == 1
    assert torch.get_num_threads() == threads
    payload, rows = _load(out)
    assert [r["check"] for r in payload["checks"]] == ["boom", "fails", "fine",
                                                       "gpu_only"]
    assert rows["boom"]["result"] == "FAIL"
    assert rows["boom"]["detail"] == "RuntimeError: broken on purpose"
    assert "broken on purpose" in rows["boom"]["traceback"]
    assert rows["fails"]["result"] == "FAIL"
    assert rows["fails"]["detail"] == "not so"
    assert rows["fine"]["result"] == "PASS"
    assert rows["fine"]["detail"] == "all good"
    assert rows["gpu_only"]["result"] == "SKIP"
    assert rows["gpu_only"]["detail"] == "--no-gpu"
    assert "1 passed, 2 failed, 1 skipped" in capsys.readouterr().out


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.timeout(600)
def test_gpu_check_full_on_cuda(gpu_check, tmp_path, capsys):
    out = tmp_path / "gpu_check.json"
    code = gpu_check.main(["--out", str(out)])
    printed = capsys.readouterr().out
    payload, rows = _load(out)
    assert [r["check"] for r in payload["checks"]] == [c.name for c in
                                                        gpu_check.CHECKS]
    failed = {name: row["detail"] for name, row in rows.items()
              if row["result"] != "PASS"}
    assert not failed, printed
    assert code == 0
    assert all(row["device"].startswith("cuda") for row in rows.values())
    assert payload["environment"]["used_cuda"] is True
