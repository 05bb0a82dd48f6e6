"""The search loop: budget, trials, progress.

The controller asks the searcher for configs (after the known-good
portfolio), evaluates each with ``evaluate(config, seed, deadline)``, tells
the scores back, and stops at the time budget or ``n_trials``, whichever
comes first. It knows no search strategy by name.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from dataclasses import dataclass, field

from skautodl.exceptions import TrialFailedWarning

logger = logging.getLogger("skautodl")


@dataclass
class SearchOutcome:
    """Results of a search, in the order the trials ran."""

    results: list = field(default_factory=list)
    best_index: int | None = None
    search_time: float = 0.0
    stop_reason: str = ""

    @property
    def best(self):
        return None if self.best_index is None else self.results[self.best_index]


def _progress_bar(n_trials, verbose):
    from tqdm.auto import tqdm

    return tqdm(total=n_trials, disable=verbose < 1, desc="skautodl search",
                unit="trial", leave=True)


def run_search(searcher, evaluate, *, portfolio=(), n_trials=None, end_time=None,
               reserve=None, seeds, verbose=0):
    """Run trials until ``n_trials`` or ``end_time`` (``time.monotonic``).

    Parameters
    ----------
    searcher : Searcher
    evaluate : callable
        ``evaluate(config, seed, deadline) -> TrialResult``.
    portfolio : list of dict
        Configs evaluated first (and told to the searcher).
    n_trials : int or None
    end_time : float or None
        Monotonic time at which the whole search must be over.
    reserve : callable, optional
        ``reserve(best_result) -> seconds`` kept free at the end (the refit).
    seeds : numpy RandomState
        Root RNG; one integer seed is drawn per trial.
    verbose : int
    """
    outcome = SearchOutcome()
    start = time.monotonic()
    queue = list(portfolio)
    bar = _progress_bar(n_trials, verbose)
    try:
        while True:
            if n_trials is not None and len(outcome.results) >= n_trials:
                outcome.stop_reason = "n_trials"
                break
            deadline = None
            if end_time is not None:
                best = outcome.best
                held = reserve(best) if reserve is not None and best else 0.0
                deadline = end_time - held
                if time.monotonic() >= deadline:
                    outcome.stop_reason = "time_budget"
                    break
            config = queue.pop(0) if queue else searcher.ask(1)[0]
            seed = int(seeds.randint(2**31 - 1))
            result = evaluate(config, seed, deadline)
            searcher.tell([config], [result.score if result.ok else math.nan])
            _record(outcome, result)
            bar.update(1)
            best = outcome.best
            postfix = {"best": f"{best.score:.4f}" if best else "-"}
            if end_time is not None:
                postfix["left"] = f"{max(0.0, end_time - time.monotonic()):.0f}s"
            bar.set_postfix(postfix, refresh=True)
            logger.info(
                "trial %d: %s score=%.4f epochs=%d %.1fs (best %.4f)%s",
                len(outcome.results), result.status, result.score, result.epochs_run,
                result.fit_time, best.score if best else math.nan,
                f" error: {result.error}" if result.error else "",
            )
    finally:
        bar.close()
        outcome.search_time = time.monotonic() - start
    return outcome


def _record(outcome, result):
    if not result.ok:
        warnings.warn(
            f"Trial {len(outcome.results) + 1} failed and was skipped "
            f"({result.error}); config: {result.config}",
            TrialFailedWarning, stacklevel=3,
        )
    best = outcome.best
    if result.ok and (best is None or result.score > best.score):
        if best is not None:
            outcome.results[outcome.best_index] = best.without_models()
        outcome.best_index = len(outcome.results)
        outcome.results.append(result)
    else:
        outcome.results.append(result.without_models())
