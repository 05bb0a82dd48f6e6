"""Evolutionary search: a genetic algorithm over the space's configs.

The first ``population_size`` asks are random samples. After that every ask
breeds a child from the evaluated population, which is the best
``population_size`` configs told so far (failed trials, told as ``nan``,
rank last):

1. selection: two parents, each the best of ``tournament_size`` members
   drawn at random (tournament selection);
2. crossover: uniform, dimension by dimension, only between parents of the
   same family; a child of parents from different families is a copy of
   parent 1;
3. mutation: each dimension with probability ``mutation_rate`` is changed: a
   number by a gaussian step in its (log-)scaled range, clipped to its
   bounds, or now and then by a fresh draw; a category by another category.
   With several families, the family itself mutates with the same
   probability: the child then moves to another family, keeping the shared
   (training) parameters and drawing that family's own ones afresh.

Children always lie inside the space, with plain Python values. All draws use
the searcher's seeded RNG, so the same ``random_state`` and the same tells
give the same asks.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from skopt.space import Categorical, Integer

from skautodl._compat import to_python
from skautodl.search.searchers.base import is_failed
from skautodl.search.searchers.common import BaseSearcher
from skautodl.search.space import in_dimension

#: standard deviation of a gaussian mutation, as a fraction of the scaled range
MUTATION_SCALE = 0.15
#: chance that a numeric mutation is a fresh draw instead of a gaussian step
FRESH_DRAW_RATE = 0.2
#: attempts at breeding a child that was not evaluated before
_MAX_RETRIES = 10


def _check_int(name, value):
    if (not isinstance(value, numbers.Integral) or isinstance(value, bool)
            or value < 1):
        raise ValueError(f"{name} must be an int >= 1; got {value!r}.")
    return int(value)


def _check_rate(name, value):
    if (not isinstance(value, numbers.Real) or isinstance(value, bool)
            or not 0.0 <= value <= 1.0):
        raise ValueError(f"{name} must be a number in [0, 1]; got {value!r}.")
    return float(value)


def _rank_key(score):
    """Sort key of a told score: failures rank last."""
    return -math.inf if is_failed(score) else float(score)



def _plain(value, dim):
    """``value`` as the plain Python type of ``dim``."""
    if isinstance(dim, Categorical):
        return to_python(value)
    if isinstance(dim, Integer):
        return int(value)
    return float(value)


def _key(config):
    """A hashable identity of a config, to spot repeats."""
    return tuple(sorted((k, repr(v)) for k, v in config.items()))


class EvolutionSearcher(BaseSearcher):
    """Genetic algorithm: tournament selection, uniform crossover, mutation.

    Parameters
    ----------
    space : skautodl.search.space.SearchSpace
        The space to search: its families and their dimensions.
    random_state : int or None, default=None
        Seed of every draw; the same seed and tells give the same asks.
    population_size : int, default=10
        Random configs asked before breeding starts, and the number of best
        configs (among all told ones) that parents are drawn from.
    tournament_size : int, default=3
        Members drawn per tournament; the best of them becomes a parent.
        Larger values select more greedily.
    crossover_rate : float, default=0.5
        Chance that a dimension of the child takes parent 2's value instead
        of parent 1's (uniform crossover; 0 means a mutated copy of parent 1).
    mutation_rate : float, default=0.2
        Chance that each dimension (and, with several families, the family)
        of the child is mutated.

    Raises
    ------
    ValueError
        For a size below 1 or a rate outside ``[0, 1]``.

    Notes
    -----
    Until some config has been told, asks past the first
    ``population_size`` are random samples too (with parallel trials the
    first results may arrive late). A child that repeats an evaluated config
    is bred again, a few times at most.
    """

    def __init__(self, space, random_state=None, population_size=10,
                 tournament_size=3, crossover_rate=0.5, mutation_rate=0.2):
        super().__init__(space, random_state=random_state)
        self.population_size = _check_int("population_size", population_size)
        self.tournament_size = _check_int("tournament_size", tournament_size)
        self.crossover_rate = _check_rate("crossover_rate", crossover_rate)
        self.mutation_rate = _check_rate("mutation_rate", mutation_rate)
        self._pending = set()  # keys of configs asked and not yet told

    def population(self):
        """Return the best ``population_size`` told configs, best first.

        Returns
        -------
        list of (dict, float)
            ``(config, score)`` pairs; failed trials rank last, ties keep the
            order of the tells. Configs of families outside the space are
            left out.
        """
        families = set(self.space.families)
        members = [(c, s) for c, s in self.history if c.get("family") in families]
        members.sort(key=lambda m: _rank_key(m[1]), reverse=True)  # stable
        return members[:self.population_size]

    def _ask(self, n):
        """``n`` configs: random samples first, then children."""
        population = self.population()
        seen = {_key(c) for c, _ in self.history} | self._pending
        configs = []
        for i in range(n):
            if self.n_asked + i < self.population_size or not population:
                config = self.space.sample(self._choose_family(), self._rng)
            else:
                for _ in range(_MAX_RETRIES):
                    config = self._breed(population)
                    if _key(config) not in seen:
                        break
            seen.add(_key(config))
            self._pending.add(_key(config))
            configs.append(config)
        return configs

    def tell(self, configs, scores):
        """Record scores; told configs leave the pending set.

        Parameters
        ----------
        configs : list of dict
            Configs that were evaluated.
        scores : list of float
            Their scores, higher is better; ``nan`` for a failure.
        """
        super().tell(configs, scores)
        for config in configs:
            self._pending.discard(_key(config))

    def _tournament(self, population):
        size = min(self.tournament_size, len(population))
        drawn = self._rng.choice(len(population), size=size, replace=False)
        return population[int(drawn.min())][0]  # population is sorted best first

    def _breed(self, population):
        parent1 = self._tournament(population)
        parent2 = self._tournament(population)
        family = parent1["family"]
        values = {}
        for name in self.space.names(family):
            value = parent1.get(name)
            if (parent2["family"] == family
                    and self._rng.rand() < self.crossover_rate):
                value = parent2.get(name)
            values[name] = value
        families = self.space.families
        if len(families) > 1 and self._rng.rand() < self.mutation_rate:
            others = [f for f in families if f != family]
            family = others[self._rng.randint(len(others))]
        point = []
        for name, dim in zip(self.space.names(family), self.space.dimensions(family),
                             strict=True):
            value = values.get(name)
            if not in_dimension(value, dim):
                value = self._draw(dim)
            elif self._rng.rand() < self.mutation_rate:
                value = self._mutate(value, dim)
            point.append(_plain(value, dim))
        return self.space.to_config(family, point)

    def _draw(self, dim):
        return to_python(dim.rvs(n_samples=1, random_state=self._rng)[0])

    def _mutate(self, value, dim):
        if isinstance(dim, Categorical):
            others = [c for c in dim.categories if c != value]
            if not others:
                return value
            return others[self._rng.randint(len(others))]
        if self._rng.rand() < FRESH_DRAW_RATE:
            return self._draw(dim)
        low, high = float(dim.low), float(dim.high)
        log = dim.prior == "log-uniform"
        lo, hi, x = (np.log(low), np.log(high), np.log(value)) if log else (
            low, high, float(value))
        x = float(np.clip(x + self._rng.normal(0.0, MUTATION_SCALE * (hi - lo)),
                          lo, hi))
        new = float(np.exp(x)) if log else x
        if isinstance(dim, Integer):
            new = int(round(new))
            if new == value and dim.high > dim.low:  # a step too small to show
                step = 1 if self._rng.rand() < 0.5 else -1
                new = value + step if dim.low <= value + step <= dim.high else (
                    value - step)
        return min(max(new, dim.low), dim.high)

