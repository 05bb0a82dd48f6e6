"""Bayesian optimization on scikit-optimize's ask/tell ``Optimizer``.

One ``skopt.Optimizer`` per family subspace (skopt has no conditional
dimensions). Families are visited in turn until each has its initial random
points; after that the family of the best score so far is chosen most of the
time, the others sometimes, so no family is dropped on one unlucky draw.

Sign convention: our scores are higher-is-better, skopt minimizes, so the
optimizer is told ``-score``. Failed trials are told a finite worst value.
"""

from __future__ import annotations

import math

from skopt import Optimizer

from skautodl.search.searchers.base import BaseSearcher, finite_scores

SURROGATES = ("GP", "RF", "ET", "GBRT")


class BayesSearcher(BaseSearcher):
    """Sequential model-based search with a skopt surrogate per family.

    Parameters
    ----------
    space : SearchSpace
    random_state : int or None
    surrogate : {"GP", "RF", "ET", "GBRT"}, default="GP"
        skopt's ``base_estimator``: Gaussian process, random forest, extra
        trees or gradient-boosted trees.
    n_initial_points : int, default=5
        Random points per family before the surrogate is used.
    acq_func : str, default="gp_hedge"
        skopt acquisition function.
    """

    def __init__(self, space, random_state=None, surrogate="GP", n_initial_points=5,
                 acq_func="gp_hedge"):
        super().__init__(space, random_state=random_state)
        if surrogate not in SURROGATES:
            raise ValueError(
                f"surrogate must be one of {SURROGATES}; got {surrogate!r}."
            )
        self.surrogate = surrogate
        self.n_initial_points = n_initial_points
        self.acq_func = acq_func
        self._optimizers = {}
        for i, family in enumerate(space.families):
            dims = space.dimensions(family)
            if dims:
                seed = None if random_state is None else int(random_state) + i
                self._optimizers[family] = Optimizer(
                    dims, base_estimator=surrogate, acq_func=acq_func,
                    n_initial_points=n_initial_points, random_state=seed,
                )
        self._counts = dict.fromkeys(space.families, 0)

    def _choose_family(self):
        families = self.space.families
        if len(families) == 1:
            return families[0]
        for f in families:
            if self._counts[f] < self.n_initial_points:
                return f
        best = {}
        for config, score in self.history:
            if score is not None and math.isfinite(score):
                f = config["family"]
                best[f] = max(best.get(f, -math.inf), score)
        if best and self._rng.rand() < 0.7:
            return max(best, key=best.get)
        return families[self._rng.randint(len(families))]

    def ask(self, n=1):
        configs = []
        for _ in range(n):
            family = self._choose_family()
            self._counts[family] += 1
            opt = self._optimizers.get(family)
            if opt is None:  # every parameter fixed
                configs.append(self.space.to_config(family, []))
            else:
                configs.append(self.space.to_config(family, opt.ask()))
        return configs

    def tell(self, configs, scores):
        seen = [s for _, s in self.history]
        told = finite_scores(scores, seen)
        super().tell(configs, scores)
        for config, y in zip(configs, told, strict=True):
            opt = self._optimizers.get(config["family"])
            if opt is None:
                continue
            point = self.space.to_point(config)
            opt.tell(point, -float(y))
