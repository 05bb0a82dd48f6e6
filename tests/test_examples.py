"""The example scripts run to the end (with a tiny time budget)."""

import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(name, *args, budget=5):
    """Run ``examples/<name>`` in a new process; its completed process."""
    env = {**os.environ, "SKAUTODL_EXAMPLE_BUDGET": str(budget)}
    return subprocess.run([sys.executable, str(EXAMPLES / name), *args],
                          capture_output=True, text=True, env=env, timeout=300)


def test_deploy_example_runs_every_step(tmp_path):
    done = run_example("deploy.py", "--out-dir", str(tmp_path))
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "time budget: 5 s" in out  # the environment caps the default 60
    assert "test accuracy: " in out
    assert "compression report:" in out and "file ratio: " in out
    assert "ok: the loaded model predicts as the fitted one" in out
    assert "ok: the loaded compressed model predicts as the compressed one" in out
    assert "ok: TorchScript matches predict_proba" in out
    # each optional step either ran and checked its answer, or said it skipped
    assert ("ok: onnxruntime matches predict_proba" in out
            or "skipped ONNX" in out or "skipped running the ONNX graph" in out)
    assert ("ok: the server's predictions equal the loaded model's" in out
            or "skipped serving" in out)
    assert "check failed" not in out
    assert out.rstrip().endswith("done")
    for name in ("model.skautodl", "model-small.skautodl", "model.pt"):
        assert (tmp_path / name).is_file()
