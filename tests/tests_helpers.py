"""Helpers shared by tests whose objects travel to worker processes.

Registered with cloudpickle by value, so joblib and Dask workers can run
them without importing the tests folder.
"""

import contextlib
import importlib.util
import os
import sys
from pathlib import Path

import cloudpickle
from sklearn.metrics import accuracy_score

cloudpickle.register_pickle_by_value(sys.modules[__name__])


class ScriptedSearcher:
    """Proposes the default config with the given learning rates, in order."""

    def __init__(self, lrs):
        self.lrs = list(lrs)

    def setup(self, space, random_state):
        self.space = space

    def ask(self, n=1):
        out = []
        for _ in range(n):
            if not self.lrs:
                break
            out.append({**self.space.default_config("mlp"), "lr": self.lrs.pop(0)})
        return out

    def tell(self, configs, scores):
        pass


def scorer_failing_on(lr, exc_factory):
    """Accuracy, but raises ``exc_factory()`` for the net trained with ``lr``."""

    def scorer(est, X, y):
        if est.lr == lr:
            raise exc_factory()
        return accuracy_score(y, est.predict(X))

    return scorer


def crash_on_lr(lr):
    """Accuracy, but the worker process dies for the net trained with ``lr``."""

    def scorer(est, X, y):
        if est.lr == lr:
            os._exit(13)
        return accuracy_score(y, est.predict(X))

    return scorer


@contextlib.contextmanager
def benchmark_module(script, module_name):
    """Import ``benchmarks/<script>`` as ``module_name`` for the block's length.

    The module is registered in ``sys.modules`` while it runs, because
    dataclasses look their module up there while the class is built.
    """
    path = Path(__file__).resolve().parents[1] / "benchmarks" / script
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(module_name, None)


def markdown_tables(text):
    """Every markdown table in ``text``: a list of (header, list of row dicts)."""
    tables, block = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("| "):
            block.append(line)
        elif block:
            header = [c.strip() for c in block[0].strip("|").split("|")]
            assert set(block[1]) <= set("|-: ")
            rows = [dict(zip(header, (c.strip() for c in ln.strip("|").split("|")),
                             strict=True)) for ln in block[2:]]
            tables.append((tuple(header), rows))
            block = []
    return tables


class MarkerEvaluator:
    """A fake evaluator for worker processes (no training).

    Trial 0 waits until ``wait_for`` other trials have left a marker file in
    ``folder`` (or ``timeout`` seconds pass); every other trial leaves its
    marker and returns at once. Trial 0's result records in ``epochs_run``
    how many markers it saw, so a test can tell whether the other workers
    kept running trials while it was busy.
    """

    def __init__(self, folder, wait_for=3, timeout=20.0):
        self.folder = str(folder)
        self.wait_for = wait_for
        self.timeout = timeout

    def __call__(self, job):
        import time

        from skautodl.training.trial import TrialResult, worker_id

        seen = 0
        if job.trial_id == 0:
            start = time.time()
            while (len(os.listdir(self.folder)) < self.wait_for
                   and time.time() - start < self.timeout):
                time.sleep(0.02)
            seen = len(os.listdir(self.folder))
        else:
            open(os.path.join(self.folder, str(job.trial_id)), "w").close()
        return TrialResult(config=dict(job.config), status="ok", score=0.5,
                           split_scores=[0.5], epochs_run=seen,
                           trial_id=job.trial_id, seed=job.seed, worker=worker_id())


# scorers whose qualified name is ambiguous (a lambda, a closure): a
# checkpoint made with one must resume in a new process
lambda_scorer = lambda est, X, y: accuracy_score(y, est.predict(X))  # noqa: E731


def closure_scorer(offset=0.0):
    """Accuracy plus ``offset``, as a closure (qualname ``...<locals>.scorer``)."""

    def scorer(est, X, y):
        return accuracy_score(y, est.predict(X)) + offset

    return scorer
