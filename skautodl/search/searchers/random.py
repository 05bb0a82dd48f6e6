"""Random search: each config drawn independently from the space's priors."""

from __future__ import annotations

from skautodl.search.searchers.common import BaseSearcher


class RandomSearcher(BaseSearcher):
    """Draws a family uniformly, then every dimension from its prior.

    Parameters
    ----------
    space : SearchSpace
    random_state : int or None
    """

    def _ask(self, n):
        return [self.space.sample(self._choose_family(), self._rng) for _ in range(n)]
