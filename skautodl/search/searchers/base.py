"""The protocol every search strategy follows, and its shared bookkeeping.

The controller knows no strategy by name. It calls

* ``ask(n) -> list[dict]``: up to ``n`` configs to evaluate next (fewer, or
  none, once the strategy has nothing left to propose). Configs asked and
  not yet told are *pending*: with parallel trials several are pending at
  once, and a strategy must not propose a pending config again;
* ``tell(configs, scores)``: the scores of finished configs, higher is
  better; a failed trial is told as ``nan`` (see :func:`is_failed`);
* ``state() -> dict``: JSON-friendly data saved in every checkpoint;
* ``from_state(state, space, **options)`` (a classmethod): a searcher that
  continues where the saved one stopped. Configs that were pending when the
  state was saved are not told to it: their trials were lost with the
  process that ran them.

A searcher written by a user needs only ``ask`` and ``tell``; without
``state`` / ``from_state`` a resumed search starts it afresh (the finished
trials are still resumed). With ``setup(space, random_state)`` the
controller calls it first with the task's
:class:`~skautodl.search.space.SearchSpace`.
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable


@runtime_checkable
class Searcher(Protocol):
    """What every search strategy does: ask for configs, learn their scores."""

    def ask(self, n: int = 1) -> list[dict]:
        """Return up to ``n`` configs to evaluate next.

        Parameters
        ----------
        n : int, default=1
            The most configs wanted (the free workers).

        Returns
        -------
        list of dict
            Configs keyed by skorch parameter names, with ``"family"``;
            fewer than ``n`` (or none) once the strategy is exhausted.
        """

    def tell(self, configs: list[dict], scores: list[float]) -> None:
        """Report the scores of finished configs.

        Parameters
        ----------
        configs : list of dict
            Configs that were evaluated (asked, or run from the portfolio).
        scores : list of float
            Their validation scores, higher is better; ``nan`` for a
            failed trial.
        """


@runtime_checkable
class ResumableSearcher(Searcher, Protocol):
    """A searcher whose state survives a checkpoint (all built-in ones)."""

    def state(self) -> dict:
        """Return JSON-friendly data from which :meth:`from_state` rebuilds it.

        Returns
        -------
        dict
            The state, saved in every checkpoint.
        """

    @classmethod
    def from_state(cls, state: dict, space, **options) -> ResumableSearcher:
        """Rebuild a searcher over ``space`` that continues from ``state``.

        Configs pending when the state was saved are not told: their trials
        were lost.

        Parameters
        ----------
        state : dict
            What :meth:`state` returned.
        space : skautodl.search.space.SearchSpace
            The space of the resumed search.
        **options
            The constructor options (``random_state`` included) of the
            searcher that saved the state.

        Returns
        -------
        ResumableSearcher
            The searcher, ready to ``ask``.
        """


def is_failed(score):
    """Tell whether a told score stands for a failed trial.

    The one definition of a failure used by the searchers, the fidelity
    scheduler and the reports: ``None``, ``nan`` or an infinite value. A
    failed trial never becomes the best, never reaches a surrogate model
    as such (:func:`finite_scores`) and ranks last.

    Parameters
    ----------
    score : float or None
        A told score.

    Returns
    -------
    bool
        True for None, ``nan`` and infinite values.
    """
    return score is None or not math.isfinite(score)


def finite_scores(scores, seen):
    """Replace failed scores by a finite value a bit worse than any seen.

    What a surrogate model is told for a failure: non-finite values must
    never reach it; a failure counts as slightly worse than the worst finite
    score so far (``-1`` when there is none).

    Parameters
    ----------
    scores : list of float
        The scores being told.
    seen : list of float
        The scores told before.

    Returns
    -------
    list of float
        ``scores`` with each failure replaced by ``lo - 0.1 * max(1, hi -
        lo)``, where ``lo`` and ``hi`` are the lowest and highest finite
        scores of ``seen`` and ``scores``.

    Examples
    --------
    >>> from skautodl.search.searchers.base import finite_scores
    >>> finite_scores([0.9, float("nan")], seen=[0.5])
    [0.9, 0.4]
    """
    finite = [s for s in [*seen, *scores] if not is_failed(s)]
    if finite:
        lo, hi = min(finite), max(finite)
        worst = lo - max(1.0, hi - lo) * 0.1
    else:
        worst = -1.0
    return [worst if is_failed(s) else s for s in scores]
