"""Bookkeeping shared by the built-in searchers: space, RNG, tells and asks."""

from __future__ import annotations

import math

import numpy as np

from skautodl.search.searchers.base import is_failed
from skautodl.utils._seeding import rng_state, set_rng_state


class BaseSearcher:
    """Shared bookkeeping: the space, a seeded RNG, the tells and the asks.

    Subclasses implement ``_ask(n)``; :meth:`ask` counts what they hand out
    in :attr:`n_asked`.

    Parameters
    ----------
    space : skautodl.search.space.SearchSpace
        The space to search: its families and their dimensions.
    random_state : int or None, default=None
        Seeds the searcher's random choices.

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
        """Return up to ``n`` configs to evaluate next.

        Parameters
        ----------
        n : int, default=1
            The most configs wanted.

        Returns
        -------
        list of dict
            Configs keyed by skorch parameter names, with ``"family"``;
            fewer (or none) once the strategy is exhausted.
        """
        configs = self._ask(max(0, int(n)))
        self.n_asked += len(configs)
        return configs

    def _ask(self, n):  # pragma: no cover - abstract
        raise NotImplementedError

    def tell(self, configs, scores):
        """Record the scores of finished configs in :attr:`history`.

        Parameters
        ----------
        configs : list of dict
            Configs that were evaluated.
        scores : list of float
            Their scores, higher is better; ``nan`` for a failure.
        """
        for config, score in zip(configs, scores, strict=True):
            self.history.append((dict(config), score))

    def state(self):
        """Return the state to save in a checkpoint.

        Returns
        -------
        dict
            JSON-friendly: the tells (failures as None), the RNG state and
            the number of asks.
        """
        return {
            "history": [[c, None if is_failed(s) else s] for c, s in self.history],
            "rng": rng_state(self._rng),
            "n_asked": self.n_asked,
        }

    @classmethod
    def from_state(cls, state, space, **kwargs):
        """Rebuild a searcher over ``space`` that continues from ``state``.

        Parameters
        ----------
        state : dict
            What :meth:`state` returned.
        space : skautodl.search.space.SearchSpace
            The space of the resumed search.
        **kwargs
            The constructor options (``random_state`` included) of the
            searcher that saved the state.

        Returns
        -------
        BaseSearcher
            A searcher of the same class, its tells replayed and its RNG
            restored.
        """
        obj = cls(space, **kwargs)
        configs = [c for c, _ in state["history"]]
        scores = [math.nan if s is None else s for _, s in state["history"]]
        if configs:
            obj.tell(configs, scores)
        set_rng_state(obj._rng, state["rng"])
        obj.n_asked = int(state.get("n_asked", len(configs)))
        return obj
