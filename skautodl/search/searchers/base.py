"""The protocol every search strategy follows.

The controller knows no strategy by name: it calls ``ask`` for configs,
evaluates them, and ``tell``\\ s the scores back (higher is better; ``nan``
for a failed trial). A searcher written by a user works if it has ``ask``
and ``tell``; if it also has ``setup(space, random_state)`` the controller
calls it first with the task's :class:`~skautodl.search.space.SearchSpace`.
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Searcher(Protocol):
    """ask/tell protocol of all searchers."""

    def ask(self, n: int = 1) -> list[dict]:
        """Return ``n`` configs to evaluate next."""

    def tell(self, configs: list[dict], scores: list[float]) -> None:
        """Report scores (higher is better, ``nan`` for a failure)."""


def finite_scores(scores, seen):
    """Replace failed (non-finite) scores by a finite worst value.

    Non-finite values must never reach a surrogate model; a failure is
    reported as a bit worse than the worst finite score seen so far.
    """
    finite = [s for s in [*seen, *scores] if s is not None and math.isfinite(s)]
    if finite:
        lo, hi = min(finite), max(finite)
        worst = lo - max(1.0, hi - lo) * 0.1
    else:
        worst = -1.0
    return [s if s is not None and math.isfinite(s) else worst for s in scores]


class BaseSearcher:
    """Shared bookkeeping: the space, a seeded RNG, and the history of tells."""

    def __init__(self, space, random_state=None):
        self.space = space
        self.random_state = random_state
        self._rng = np.random.RandomState(random_state)
        self.history = []  # list of (config, score)

    def _choose_family(self):
        families = self.space.families
        if len(families) == 1:
            return families[0]
        return families[self._rng.randint(len(families))]

    def tell(self, configs, scores):
        for config, score in zip(configs, scores, strict=True):
            self.history.append((dict(config), score))

    def state(self):
        """JSON-friendly state: the history of tells and the RNG state."""
        kind, keys, pos, has_gauss, cached = self._rng.get_state()
        return {
            "history": [[c, s] for c, s in self.history],
            "rng": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)],
        }

    @classmethod
    def from_state(cls, state, space, **kwargs):
        obj = cls(space, **kwargs)
        configs = [c for c, _ in state["history"]]
        scores = [s for _, s in state["history"]]
        if configs:
            obj.tell(configs, scores)
        obj._set_rng_state(state["rng"])
        return obj

    def _set_rng_state(self, rng_state):
        kind, keys, pos, has_gauss, cached = rng_state
        self._rng.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss,
                             cached))


class SearchSpec:
    """A built-in search strategy with options, bound to the space at ``fit``.

    The way to pick a built-in searcher's options from an estimator, for
    example the Bayesian surrogate::

        AutoDLClassifier(search=SearchSpec("bayes", surrogate="RF"))

    Parameters
    ----------
    name : {"bayes", "random", "grid", "evolution"}
    **options
        Keyword arguments of that searcher's class (``BayesSearcher``:
        ``surrogate`` ("GP", "RF", "ET", "GBRT"), ``n_initial_points``,
        ``acq_func``...; ``GridSearcher``: ``n_points``...;
        ``EvolutionSearcher``: ``population_size``...).
    """

    NAMES = ("bayes", "random", "grid", "evolution")

    def __init__(self, name, **options):
        if name not in self.NAMES:
            raise ValueError(f"SearchSpec name must be one of {self.NAMES}; got "
                             f"{name!r}.")
        self.name = name
        self.options = options

    def bind(self, space, random_state):
        """A new searcher of this kind over ``space``."""
        return make_searcher(self.name, space, random_state, **self.options)

    def __repr__(self):
        opts = "".join(f", {k}={v!r}" for k, v in sorted(self.options.items()))
        return f"SearchSpec({self.name!r}{opts})"

    def __eq__(self, other):
        return isinstance(other, SearchSpec) and repr(self) == repr(other)

    def __hash__(self):
        return hash(repr(self))


def make_searcher(search, space, random_state, **options):
    """Resolve the ``search`` parameter to a searcher bound to ``space``.

    A user's searcher object is deep-copied before ``setup`` so that ``fit``
    never changes the estimator's parameters; the copy that ran is the
    estimator's ``searcher_``.
    """
    import copy

    from skautodl.search.searchers.bayes import BayesSearcher
    from skautodl.search.searchers.evolution import EvolutionSearcher
    from skautodl.search.searchers.grid import GridSearcher
    from skautodl.search.searchers.random import RandomSearcher

    if search == "bayes":
        return BayesSearcher(space, random_state=random_state, **options)
    if search == "random":
        return RandomSearcher(space, random_state=random_state, **options)
    if search == "grid":
        return GridSearcher(space, random_state=random_state, **options)
    if search == "evolution":
        return EvolutionSearcher(space, random_state=random_state, **options)
    if callable(getattr(search, "bind", None)):
        return search.bind(space, random_state)
    search = copy.deepcopy(search)
    if callable(getattr(search, "setup", None)):
        search.setup(space, random_state)
    return search
