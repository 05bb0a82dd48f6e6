"""Random search: each config drawn independently from the space's priors."""

from __future__ import annotations

from skautodl.search.searchers.common import BaseSearcher


class RandomSearcher(BaseSearcher):
    """Draws a family uniformly, then every dimension from its prior.

    Parameters
    ----------
    space : skautodl.search.space.SearchSpace
        The space to search: its families and their dimensions.
    random_state : int or None, default=None
        Seeds the searcher's random choices.

    Examples
    --------
    >>> import numpy as np
    >>> from skautodl.data.validation import detect_task
    >>> from skautodl.networks.registry import FAMILIES
    >>> from skautodl.search.searchers.random import RandomSearcher
    >>> from skautodl.search.space import SearchSpace
    >>> task = detect_task(np.array([0, 1] * 10), classifier=True, n_classes=2)
    >>> space = SearchSpace.for_task([FAMILIES["mlp"]], task)
    >>> searcher = RandomSearcher(space, random_state=0)
    >>> configs = searcher.ask(2)
    >>> len(configs), configs[0]["family"]
    (2, 'mlp')
    >>> searcher.tell(configs, [0.8, float("nan")])
    """

    def _ask(self, n):
        return [self.space.sample(self._choose_family(), self._rng) for _ in range(n)]
