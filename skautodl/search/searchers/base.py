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

import numpy as np

from skautodl.utils._seeding import rng_state, set_rng_state


@runtime_checkable
class Searcher(Protocol):
    """ask/tell protocol of all searchers (``state`` / ``from_state`` optional)."""

    def ask(self, n: int = 1) -> list[dict]:
        """Return up to ``n`` configs to evaluate next."""

    def tell(self, configs: list[dict], scores: list[float]) -> None:
        """Report scores (higher is better, ``nan`` for a failure)."""


def is_failed(score):
    """Whether a told score stands for a failed trial.

    The one definition of a failure used by the searchers, the fidelity
    scheduler and the reports: ``None``, ``nan`` or an infinite value. A
    failed trial never becomes the best, never reaches a surrogate model
    as such (:func:`finite_scores`) and ranks last.
    """
    return score is None or not math.isfinite(score)


def finite_scores(scores, seen):
    """Replace failed scores by a finite value a bit worse than any seen.

    What a surrogate model is told for a failure: non-finite values must
    never reach it; a failure counts as slightly worse than the worst finite
    score so far (``-1`` when there is none).
    """
    finite = [s for s in [*seen, *scores] if not is_failed(s)]
    if finite:
        lo, hi = min(finite), max(finite)
        worst = lo - max(1.0, hi - lo) * 0.1
    else:
        worst = -1.0
    return [worst if is_failed(s) else s for s in scores]


class BaseSearcher:
    """Shared bookkeeping: the space, a seeded RNG, the tells and the asks.

    Subclasses implement ``_ask(n)``; :meth:`ask` counts what they hand out
    in :attr:`n_asked`.

    Attributes
    ----------
    history : list of (dict, float)
        Every ``(config, score)`` told, in order.
    n_asked : int
        Configs handed out by :meth:`ask` (those told by the controller's
        portfolio are not asked; see ``history`` for them).
    """

    def __init__(self, space, random_state=None):
        self.space = space
        self.random_state = random_state
        self._rng = np.random.RandomState(random_state)
        self.history = []
        self.n_asked = 0

    def _choose_family(self):
        families = self.space.families
        if len(families) == 1:
            return families[0]
        return families[self._rng.randint(len(families))]

    def ask(self, n=1):
        """Return up to ``n`` configs to evaluate next."""
        configs = self._ask(max(0, int(n)))
        self.n_asked += len(configs)
        return configs

    def _ask(self, n):  # pragma: no cover - abstract
        raise NotImplementedError

    def tell(self, configs, scores):
        """Record scores (higher is better, ``nan`` for a failure)."""
        for config, score in zip(configs, scores, strict=True):
            self.history.append((dict(config), score))

    def state(self):
        """JSON-friendly state: the tells, the RNG state, the number of asks."""
        return {
            "history": [[c, None if is_failed(s) else s] for c, s in self.history],
            "rng": rng_state(self._rng),
            "n_asked": self.n_asked,
        }

    @classmethod
    def from_state(cls, state, space, **kwargs):
        """A searcher over ``space`` that continues from ``state``.

        ``kwargs`` are the constructor options (``random_state`` included)
        of the searcher that saved the state.
        """
        obj = cls(space, **kwargs)
        configs = [c for c, _ in state["history"]]
        scores = [math.nan if s is None else s for _, s in state["history"]]
        if configs:
            obj.tell(configs, scores)
        set_rng_state(obj._rng, state["rng"])
        obj.n_asked = int(state.get("n_asked", len(configs)))
        return obj
