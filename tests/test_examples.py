"""Every script of the examples gallery runs to the end and prints its result.

Each script runs as ``python examples/<path>`` in its own process with
``SKAUTODL_EXAMPLE_BUDGET=5`` (which caps every ``time_budget`` in them), as
the documentation build runs them. The scripts are discovered, so a new
example is picked up; it must then say in ``RESULTS`` what it prints.

To keep the wall time down, the selected scripts all start when the first
of these tests runs, two at a time (each with one torch thread, so two
fill two cores): the budgets are seconds of wall time, and a script spends
most of its run inside them.
"""

import ast
import importlib.util
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCRIPTS = sorted(p.relative_to(EXAMPLES).as_posix() for p in EXAMPLES.rglob("*.py"))
#: examples/ keeps the quickstart at its top (the README runs it there) and
#: every other script in one of these folders
FOLDERS = ("tabular", "images", "search", "deploy")
#: scripts running at once, and the seconds one may take
PARALLEL, TIMEOUT = 2, 400

#: lines (regular expressions, each matched against one line of stdout) that
#: show a script got to its result
RESULTS = {
    "quickstart.py": [r"test accuracy: +0\.\d{4}$"],
    "tabular/regression.py": [r"^AutoDLRegressor\(time_budget=5\) +-?\d\.\d{4} "],
    "tabular/pandas_mixed_types.py": [
        r"^predictions: \[[-\d., ]+\]$",
        r"^ValueError: Column 'bmi' was numeric at fit",
        r"^AutoDLRegressor\(time_budget=5\) +-?\d\.\d{4}$",
    ],
    "tabular/multi_output.py": [
        r"^y: \(900, 3\) -> predict: \(300, 3\)",
        r"^predict: \(450, 3\); predict_proba: 3 arrays of \(450, 2\)",
        r"^test subset accuracy: \d\.\d{4}$",
    ],
    "tabular/class_imbalance.py": [
        r"^threshold on P\(positive\): \d\.\d{3}",
        r"^tuned threshold +test balanced accuracy \d\.\d{4}",
    ],
    "images/mnist.py": [r"^images \(5000, 28, 28\)", r"^test accuracy: +0\.\d{4}$"],
    "images/digits_images.py": [
        r"^image_shape_ \(C, H, W\): \(1, 8, 8\)",
        r"^same predictions for .*: True$",
        r"^test accuracy: 0\.\d{4}$",
    ],
    "search/pipeline_and_grid_search.py": [
        r"^cross_val_score \(3 folds\)",
        r"^best: \{'clf__families': '(mlp|embed)'\}, score \d\.\d{3}$",
    ],
    "search/ensembles.py": [
        r"^validation score: best trial \d\.\d{4}, ensemble \d\.\d{4}$",
        r"^ +ensemble of \d+ +\d\.\d{4} +\d\.\d{4}$",
    ],
    "search/checkpoint_resume.py": [
        r"^files in digits-search/: \['search_state.json'",
        r"came back with the same scores: True$",
        r"^CheckpointError: .*different parameters \(random_state\)",
        r"^test accuracy: 0\.\d{4}$",
    ],
    "search/dask_cluster.py": [
        r"^trial tasks per Dask worker: \{.+\}$",
        r"^test accuracy: 0\.\d{4}$",
    ],
    "deploy/compression_export.py": [
        r"^test accuracy after compression: 0\.\d{4}$",
        r"ok: the loaded compressed model predicts as the compressed one$",
        r"ok: TorchScript matches predict_proba",
        # the ONNX step ran and checked its answer, or said why it skipped
        r"ok: onnxruntime's labels equal predict$|skipped ONNX: ",
        r"^done$",
    ],
    "deploy/serving.py": [
        r"^POST /predict: 200$",
        r"the same as model.predict: True$",
        r"^422: record 0: missing column",
        r"^served predictions for 3 records$",
    ],
}

#: modules that import only with one of these packages installed as well
ALSO_NEEDS = {"fastapi.testclient": ("httpx2", "httpx")}


def module_imports(script):
    """Modules the script imports at its top level (dotted names)."""
    tree = ast.parse((EXAMPLES / script).read_text())
    names = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.append(node.module)
    return names


def missing_packages(script):
    """Packages the script needs that are not installed (optional extras)."""
    missing = []
    for name in module_imports(script):
        if importlib.util.find_spec(name.split(".")[0]) is None:
            missing.append(name.split(".")[0])
        elif name in ALSO_NEEDS and not any(
                importlib.util.find_spec(p) for p in ALSO_NEEDS[name]):
            missing.append(" or ".join(ALSO_NEEDS[name]))
    return missing


def run_script(script, cwd):
    env = {**os.environ, "SKAUTODL_EXAMPLE_BUDGET": "5", "MPLBACKEND": "Agg",
           # one torch thread per script: two scripts share two cores, and
           # torch's default (a thread per core) slows down several-fold
           # when the cores are busy
           "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(EXAMPLES / script)], cwd=cwd,
                          capture_output=True, text=True, env=env,
                          timeout=TIMEOUT)


@pytest.fixture(scope="module")
def example_runs(request, tmp_path_factory):
    """``script -> Future`` of the completed process, for the selected
    scripts that can run here, started when the first test asks."""
    selected = [item.callspec.params["script"] for item in request.session.items
                if getattr(item, "originalname", None) == "test_example_runs"
                and getattr(item, "module", None) is sys.modules[__name__]]
    cwd = tmp_path_factory.mktemp("examples")
    pool = ThreadPoolExecutor(PARALLEL)
    try:
        yield {script: pool.submit(run_script, script, cwd)
               for script in selected if not missing_packages(script)}
    finally:  # after a failure with -x, the scripts not started never start
        pool.shutdown(cancel_futures=True)


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_runs(script, example_runs):
    missing = missing_packages(script)
    if missing:
        pytest.skip(f"examples/{script} needs {', '.join(missing)}")
    assert script in RESULTS, (
        f"examples/{script} is new: add the lines it prints when it reaches "
        "its result to RESULTS in tests/test_examples.py")
    done = example_runs[script].result()
    out = done.stdout
    assert done.returncode == 0, f"{out}\n{done.stderr}"
    lines = out.splitlines()
    for pattern in RESULTS[script]:
        assert any(re.search(pattern, line) for line in lines), (
            f"examples/{script} printed no line matching {pattern!r}:\n{out}")
    assert "check failed" not in out


def test_results_name_existing_examples():
    assert set(RESULTS) <= set(SCRIPTS), set(RESULTS) - set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_follows_the_gallery_layout(script):
    text = (EXAMPLES / script).read_text()
    folder = script.rpartition("/")[0]
    assert folder in FOLDERS or script == "quickstart.py", folder
    # sphinx-gallery: a docstring that starts with an underlined title
    docstring = ast.get_docstring(ast.parse(text), clean=False)
    assert docstring is not None, "no module docstring"
    head = docstring.strip().splitlines()[:3]
    assert len(head) == 3 and set(head[0]) == {"="} and head[1].strip(), head
    assert len(head[0]) >= len(head[1].strip()) and head[2] == head[0], head
    assert "\n# %%\n" in text, "no '# %%' cell"
    # the environment variable caps the budget of every fit
    assert re.search(r'os\.environ\.get\("SKAUTODL_EXAMPLE_BUDGET"', text)
    assert "plt.show()" not in text  # a plain run must not wait on a window


def test_gallery_folders_have_headers():
    assert (EXAMPLES / "GALLERY_HEADER.rst").is_file()
    for folder in FOLDERS:
        assert (EXAMPLES / folder / "GALLERY_HEADER.rst").is_file(), folder
