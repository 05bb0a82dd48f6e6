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
import time

logger = logging.getLogger("skautodl")


class SearchCallback:
    """Base class: every hook does nothing."""

    def on_search_begin(self, n_trials, n_done, end_time):
        pass

    def on_trial_start(self, job, running):
        pass

    def on_trial_end(self, result, outcome):
        pass

    def on_search_end(self, outcome):
        pass


class ProgressBar(SearchCallback):
    """A tqdm bar: trials done, best score, running trials' fidelity, time left.

    Parameters
    ----------
    verbose : int
        The bar shows when ``verbose >= 1``.
    """

    def __init__(self, verbose=1):
        self.verbose = verbose
        self.bar = None
        self.end_time = None
        self.best = None

    def on_search_begin(self, n_trials, n_done, end_time):
        from tqdm.auto import tqdm

        self.end_time = end_time
        self.bar = tqdm(total=n_trials, initial=n_done, disable=self.verbose < 1,
                        desc="skautodl search", unit="trial", leave=True)

    def _postfix(self, running):
        postfix = {"best": "-" if self.best is None else f"{self.best:.4f}",
                   "running": running}
        if self.end_time is not None:
            postfix["left"] = f"{max(0.0, self.end_time - time.time()):.0f}s"
        return postfix

    def on_trial_start(self, job, running):
        # the fidelity of the running trials: epochs of their config and rung
        shown = ",".join(sorted({
            f"{j.total_epochs or j.config.get('max_epochs', '?')}ep/r{j.rung}"
            for j in running}))
        self.bar.set_postfix(self._postfix(shown), refresh=True)

    def on_trial_end(self, result, outcome):
        best = outcome.best
        self.best = None if best is None else best.score
        self.bar.update(1)
        self.bar.set_postfix(self._postfix("-"), refresh=False)

    def on_search_end(self, outcome):
        if self.bar is not None:
            self.bar.close()


class TrialLog(SearchCallback):
    """One ``logging`` line per finished trial on the ``"skautodl"`` logger."""

    def on_trial_end(self, result, outcome):
        best = outcome.best
        logger.info(
            "trial %d: %s score=%.4f epochs=%d %.1fs (best %.4f)%s",
            result.trial_id + 1, result.status, result.score, result.epochs_run,
            result.fit_time, best.score if best else math.nan,
            f" error: {result.error}" if result.error else "",
        )
