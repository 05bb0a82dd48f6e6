"""What a search prints: the bar, verbose=2's trial headers and epoch tables."""

import importlib
import io
import sys
import types
import warnings

import numpy as np
import pytest
from tqdm.std import TqdmWarning
from tqdm.std import tqdm as text_tqdm

from skautodl import AutoDLClassifier
from skautodl.controller.progress import ProgressBar, _bar_class, _job_line
from skautodl.training.trial import Job
from skautodl.utils._console import write_line


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(60, 3)
    return X, (X[:, 0] > 0).astype(int)


def test_verbose_2_prints_headers_and_tables_on_their_own_lines(data, capsys):
    X, y = data
    AutoDLClassifier(time_budget=None, n_trials=2, cv=None, verbose=2,
                     search_space={"max_epochs": 2}, random_state=0).fit(X, y)
    out, err = capsys.readouterr()
    lines = out.splitlines()
    # captured output is no terminal: skorch's colours are gone
    assert "\x1b[" not in out
    # the bar stays on stderr; nothing of it lands among the table's lines
    assert "skautodl search" in err and "skautodl search" not in out
    assert "epoch" not in err
    # each trial: its header, then its table (header row first), then its result
    for trial in (0, 1):
        start = next(i for i, line in enumerate(lines)
                     if line.startswith(f"trial {trial} (") and "epochs" in line)
        assert lines[start + 1].split()[:2] == ["epoch", "train_loss"]
        assert lines[start + 3].split()[0] == "1"
        end = next(i for i, line in enumerate(lines)
                   if line.startswith(f"trial {trial}: ok score="))
        assert end > start + 3
    assert any(line.startswith("search over: 2 trials (n_trials)") for line in lines)
    # the refit's table has its own header
    assert any(line.startswith("refit of trial ") for line in lines)


def test_verbose_1_prints_no_lines(data, capsys):
    X, y = data
    AutoDLClassifier(time_budget=None, n_trials=1, cv=None, verbose=1,
                     search_space={"max_epochs": 2}, random_state=0).fit(X, y)
    out, err = capsys.readouterr()
    assert out == "" and "1/1" in err


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_write_line_keeps_colours_only_on_a_terminal(monkeypatch):
    coloured = "\x1b[36m0.6378\x1b[0m"
    monkeypatch.delenv("NO_COLOR", raising=False)
    pipe, terminal = io.StringIO(), _Terminal()
    monkeypatch.setattr(sys, "stdout", pipe)
    write_line(coloured)
    monkeypatch.setattr(sys, "stdout", terminal)
    write_line(coloured)
    assert pipe.getvalue() == "0.6378\n"
    assert terminal.getvalue() == coloured + "\n"
    monkeypatch.setenv("NO_COLOR", "1")
    terminal.seek(0), terminal.truncate()
    write_line(coloured)
    assert terminal.getvalue() == "0.6378\n"


def test_lines_are_printed_above_the_bar(monkeypatch):
    """A line printed while the bar shows clears the bar first and is whole."""
    out = _Terminal()
    monkeypatch.setattr(sys, "stdout", out)
    bar = ProgressBar(verbose=2)
    monkeypatch.setattr(sys, "stderr", out)  # bar and lines on one terminal
    bar.on_search_begin(3, 0, None)
    bar.on_trial_start(Job(trial_id=0, config={"family": "mlp", "max_epochs": 4},
                           seed=0, total_epochs=4), [])
    write_line("  epoch    train_loss")
    bar.bar.close()
    text = out.getvalue()
    # the bar was drawn, then wiped by "\r" + spaces + "\r" before each line
    for line in ("trial 0 (mlp, rung 0): 4 epochs\n", "  epoch    train_loss\n"):
        before = text[:text.index(line)]
        assert before.endswith("\r") and "skautodl search" in before
        assert before.rstrip("\r").split("\r")[-1].strip() == ""


def test__job_line():
    job = Job(trial_id=7, config={"family": "embed", "max_epochs": 18}, seed=0,
              rung=1, parent_id=3, warm_nets=[object()], total_epochs=27,
              fraction=0.25)
    assert _job_line(job, 5) == (
        "trial 7 (embed, rung 1): 18 more epochs continuing trial 3 (27 in all), "
        "on 25% of the training rows, 5 folds, one table each")
    fresh = Job(trial_id=2, config={"family": "hgb"}, seed=0)
    assert _job_line(fresh) == "trial 2 (hgb, rung 0): gradient-boosted trees"


# ---------------------------------------------------------------- notebooks
@pytest.fixture
def notebook(monkeypatch):
    """This process looks like a Jupyter kernel (as tqdm and we detect one)."""
    shell = type("ZMQInteractiveShell", (), {})()
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: shell
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "ipykernel.zmqshell",
                        types.ModuleType("ipykernel.zmqshell"))
    for name in ("QT_API", "SPYDER_ARGS"):
        monkeypatch.delenv(name, raising=False)
    # modules imported under the fake kernel are imported again afterwards
    for name in ("tqdm.notebook", "tqdm.autonotebook", "tqdm.auto"):
        monkeypatch.delitem(sys.modules, name, raising=False)


def test_notebook_without_ipywidgets_gets_the_text_bar_without_warning(
        notebook, monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import fails
    # what the simulation reproduces: tqdm.auto warns here
    with pytest.warns(TqdmWarning, match="IProgress not found"):
        importlib.import_module("tqdm.autonotebook")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _bar_class() is text_tqdm
        bar = ProgressBar(verbose=1)
        bar.on_search_begin(2, 0, None)
        bar.on_search_end(types.SimpleNamespace(results=[], best=None,
                                                stop_reason="n_trials"))


def test_notebook_with_ipywidgets_gets_the_widget_bar(notebook, monkeypatch):
    widgets = types.ModuleType("ipywidgets")
    widgets.__version__ = "8.1.0"
    widgets.HTML = widgets.FloatProgress = widgets.HBox = type("Widget", (), {})
    monkeypatch.setitem(sys.modules, "ipywidgets", widgets)
    display = types.ModuleType("IPython.display")
    display.display = lambda *args, **kwargs: None
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    chosen = _bar_class()
    assert chosen is sys.modules["tqdm.notebook"].tqdm and chosen is not text_tqdm


def test_console_ipython_gets_the_text_bar(monkeypatch):
    shell = type("TerminalInteractiveShell", (), {})()
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: shell
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    assert _bar_class() is text_tqdm
