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
from threadpoolctl import threadpool_limits

from skautodl._compat import skopt_surrogate
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
    acq_optimizer : {"sampling", "lbfgs", "auto"}, default="sampling"
        How skopt maximizes the acquisition. ``"sampling"`` scores
        ``n_points`` random candidates; skopt's ``"lbfgs"`` polishes them
        further but costs about 6x more per ask (1.6 s vs 0.25 s measured
        with 30 points on 2 cores), which dominates when trials are short.
    n_points : int, default=2000
        Candidates scored per ask.
    """

    def __init__(self, space, random_state=None, surrogate="GP", n_initial_points=5,
                 acq_func="gp_hedge", acq_optimizer="sampling", n_points=2000):
        super().__init__(space, random_state=random_state)
        if surrogate not in SURROGATES:
            raise ValueError(
                f"surrogate must be one of {SURROGATES}; got {surrogate!r}."
            )
        self.surrogate = surrogate
        self.n_initial_points = n_initial_points
        self.acq_func = acq_func
        self.acq_optimizer = acq_optimizer
        self.n_points = n_points
        self._optimizers = {}
        for i, family in enumerate(space.families):
            dims = space.dimensions(family)
            if dims:
                seed = None if random_state is None else int(random_state) + i
                self._optimizers[family] = Optimizer(
                    dims, base_estimator=skopt_surrogate(surrogate, seed),
                    acq_func=acq_func, acq_optimizer=acq_optimizer,
                    acq_optimizer_kwargs={"n_points": int(n_points)},
                    n_initial_points=n_initial_points, random_state=seed,
                )
        self._counts = dict.fromkeys(space.families, 0)
        # ask/tell calls in order: skopt's optimizers draw from their own RNGs
        # on both, so from_state() replays them to resume exactly
        self._events = []

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

    def _ask_family(self, family):
        self._counts[family] += 1
        self._events.append(["ask", family])
        opt = self._optimizers.get(family)
        if opt is None:  # every parameter fixed
            return self.space.to_config(family, [])
        return self.space.to_config(family, opt.ask())

    def ask(self, n=1):
        return [self._ask_family(self._choose_family()) for _ in range(n)]

    def state(self):
        """JSON-friendly state: history, RNG state and the ask/tell sequence."""
        state = super().state()
        state["events"] = [list(e) for e in self._events]
        return state

    @classmethod
    def from_state(cls, state, space, **kwargs):
        """Rebuild a searcher whose next ``ask`` matches the saved one's.

        Pass the same ``random_state`` (and options) as the saved searcher.
        """
        if "events" not in state:
            return super().from_state(state, space, **kwargs)
        obj = cls(space, **kwargs)
        history = state["history"]
        pos = 0
        for kind, arg in state["events"]:
            if kind == "ask":
                obj._ask_family(arg)
            else:
                chunk = history[pos:pos + int(arg)]
                pos += int(arg)
                obj.tell([c for c, _ in chunk], [s for _, s in chunk])
        obj._set_rng_state(state["rng"])
        return obj

    def tell(self, configs, scores):
        self._events.append(["tell", len(configs)])
        seen = [s for _, s in self.history]
        told = finite_scores(scores, seen)
        super().tell(configs, scores)
        for config, y in zip(configs, told, strict=True):
            opt = self._optimizers.get(config["family"])
            if opt is None:
                continue
            point = self.space.to_point(config)
            # the surrogate's matrices are tiny: BLAS threads only contend
            # (with torch and other processes) and made tells ~5x slower
            with threadpool_limits(limits=1, user_api="blas"):
                opt.tell(point, -float(y))
