"""Progress of a search: a tqdm bar and per-trial log lines, as loop callbacks.

The search loop calls its callbacks at four moments and knows nothing of
what they show:

* ``on_search_begin(n_trials, n_done, end_time)``
* ``on_trial_start(job, running)``: ``running`` lists the jobs now running
* ``on_trial_end(result, outcome)``
* ``on_search_end(outcome)``
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time

from skautodl.networks.registry import is_tree_config
from skautodl.utils._console import write_line

logger = logging.getLogger("skautodl")


class SearchCallback:
    """Base class: every hook does nothing."""

    def on_search_begin(self, n_trials, n_done, end_time):
        """Called once, before the first trial starts.

        Parameters
        ----------
        n_trials : int or None
            The most trials the search runs (None: as the budget allows).
        n_done : int
            Trials already done (restored from a checkpoint).
        end_time : float or None
            ``time.time()`` at which the search must be over.
        """

    def on_trial_start(self, job, running):
        """Called as a trial is handed to a worker.

        Parameters
        ----------
        job : Job
            The trial (:class:`~skautodl.training.trial.Job`).
        running : list of Job
            The trials running now, ``job`` included.
        """

    def on_trial_end(self, result, outcome):
        """Called when a trial has finished and was recorded.

        Parameters
        ----------
        result : TrialResult
            The trial's result.
        outcome : SearchOutcome
            The search so far (``outcome.best`` is the best trial).
        """

    def on_search_end(self, outcome):
        """Called once, when the search is over (also after Ctrl-C).

        Parameters
        ----------
        outcome : SearchOutcome
            The search, with its ``stop_reason``.
        """


def _in_notebook():
    """Whether this process is a Jupyter kernel that draws widgets (not a
    Qt console or Spyder, whose kernels cannot)."""
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if get_ipython is not None else None
    if type(shell).__name__ != "ZMQInteractiveShell":
        return False
    return not any(k == "QT_API" or k.startswith("SPYDER") for k in os.environ)


def _bar_class():
    """The tqdm class a search's bar is drawn with.

    tqdm's widget bar in a Jupyter notebook that has ``ipywidgets``, its
    text bar everywhere else. ``tqdm.auto`` makes the same choice but warns
    ("IProgress not found") in a notebook without ``ipywidgets``, where the
    text bar works well; checking for ``ipywidgets`` first avoids that.
    """
    from tqdm.std import tqdm

    if not _in_notebook():
        return tqdm
    try:
        import ipywidgets  # noqa: F401 - only whether it imports
        from tqdm.notebook import IProgress
        from tqdm.notebook import tqdm as notebook_tqdm
    except ImportError:
        return tqdm
    return tqdm if IProgress is None else notebook_tqdm


def _job_line(job, n_splits=None):
    """The header line of a trial: its id (as in ``leaderboard_``), family,
    rung and epochs, the trial it continues, the share of rows it trains on."""
    family = job.config.get("family", "?")
    head = f"trial {job.trial_id} ({family}, rung {job.rung})"
    if is_tree_config(job.config):
        parts = ["gradient-boosted trees"]
    elif job.parent_id is not None and job.warm_nets is not None:
        parts = [f"{job.config.get('max_epochs', '?')} more epochs continuing "
                 f"trial {job.parent_id} ({job.total_epochs} in all)"]
    else:
        parts = [f"{job.config.get('max_epochs', '?')} epochs"]
    if job.fraction < 1.0:
        parts.append(f"on {job.fraction:.0%} of the training rows")
    if n_splits and n_splits > 1:
        parts.append(f"{n_splits} folds, one table each")
    return f"{head}: {', '.join(parts)}"


def _result_line(result, best):
    """The line of a finished trial: status, score, epochs, seconds, best so far."""
    line = (f"trial {result.trial_id}: {result.status} score={result.score:.4f} "
            f"epochs={result.epochs_run} {result.fit_time:.1f}s "
            f"(best {best.score if best else math.nan:.4f})")
    if result.pruned:
        line += " pruned"
    if result.error:
        line += f" error: {result.error}"
    return line


class ProgressBar(SearchCallback):
    """A tqdm bar: trials done, best score, running trials' fidelity, time left.

    Parameters
    ----------
    verbose : int
        The bar shows when ``verbose >= 1``; from 2 each trial's header and
        result are printed on their own lines above it (the trials' epoch
        tables go between them, through the same ``sink``).
    sink : callable, default=write_line
        Where those lines go (``sink(text)``); the default prints above the
        bar, without colour codes unless standard output is a terminal.
    """

    def __init__(self, verbose=1, sink=write_line):
        self.verbose = verbose
        self.sink = sink
        self.bar = None
        self.end_time = None
        self.best = None

    def on_search_begin(self, n_trials, n_done, end_time):
        """Open the bar (see :meth:`SearchCallback.on_search_begin`).

        Parameters
        ----------
        n_trials : int or None
            The most trials the search runs.
        n_done : int
            Trials already done (restored from a checkpoint).
        end_time : float or None
            ``time.time()`` at which the search must be over.
        """
        self.end_time = end_time
        self.bar = _bar_class()(total=n_trials, initial=n_done,
                               disable=self.verbose < 1, desc="skautodl search",
                               unit="trial", leave=True)

    def _postfix(self, running):
        postfix = {"best": "-" if self.best is None else f"{self.best:.4f}",
                   "running": running}
        if self.end_time is not None:
            postfix["left"] = f"{max(0.0, self.end_time - time.time()):.0f}s"
        return postfix

    def on_trial_start(self, job, running):
        """Print the trial's header (``verbose >= 2``); show what runs.

        Parameters
        ----------
        job : Job
            The trial starting.
        running : list of Job
            The trials running now, ``job`` included.
        """
        if self.verbose >= 2:
            splits = job.data if isinstance(job.data, list | tuple) else None
            self.sink(_job_line(job, None if splits is None else len(splits)))
        # the fidelity of the running trials: epochs of their config and rung
        shown = ",".join(sorted({
            f"{j.total_epochs or j.config.get('max_epochs', '?')}ep/r{j.rung}"
            for j in running}))
        self.bar.set_postfix(self._postfix(shown), refresh=True)

    def on_trial_end(self, result, outcome):
        """Print the trial's result (``verbose >= 2``); advance the bar.

        Parameters
        ----------
        result : TrialResult
            The trial's result.
        outcome : SearchOutcome
            The search so far.
        """
        best = outcome.best
        self.best = None if best is None else best.score
        if self.verbose >= 2:
            self.sink(_result_line(result, best))
        self.bar.update(1)
        self.bar.set_postfix(self._postfix("-"), refresh=False)

    def on_search_end(self, outcome):
        """Close the bar; say how the search ended (``verbose >= 2``).

        Parameters
        ----------
        outcome : SearchOutcome
            The search, with its ``stop_reason``.
        """
        if self.bar is not None:
            self.bar.close()
        if self.verbose >= 2:
            best = outcome.best
            self.sink(f"search over: {len(outcome.results)} trials "
                      f"({outcome.stop_reason}), best score "
                      f"{best.score if best else math.nan:.4f}")


class TrialLog(SearchCallback):
    """One ``logging`` line per finished trial on the ``"skautodl"`` logger."""

    def on_trial_end(self, result, outcome):
        """Log the trial's result line.

        Parameters
        ----------
        result : TrialResult
            The trial's result.
        outcome : SearchOutcome
            The search so far.
        """
        logger.info("%s", _result_line(result, outcome.best))
