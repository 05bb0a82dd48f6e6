"""Bayesian optimization on scikit-optimize's ask/tell ``Optimizer``.

One ``skopt.Optimizer`` per family subspace (skopt has no conditional
dimensions). Families are visited in turn until each has its initial random
points; after that the family of the best score so far is chosen most of the
time, the others sometimes, so no family is dropped on one unlucky draw.

Parallel asks. skopt's ``Optimizer.ask()`` returns the point its last
``tell`` computed, so asking again before the next tell would return the
same point. Configs asked and not yet told (*pending*: trials still
running) are therefore told to a copy of the optimizer with a made-up score,
the best one seen so far (the constant liar ``"cl_min"`` of Ginsbourger et
al. 2010, as skopt's ``ask(n_points=...)`` does), and the copy proposes the
next points; the real optimizer only ever learns real scores.

Sign convention: our scores are higher-is-better, skopt minimizes, so the
optimizer is told ``-score``. Failed trials are told a finite worst value.
"""

from __future__ import annotations

import math

import numpy as np
from skopt import Optimizer
from threadpoolctl import threadpool_limits

from skautodl._compat import skopt_surrogate, to_python
from skautodl.search.searchers.base import finite_scores, is_failed
from skautodl.search.searchers.common import BaseSearcher
from skautodl.utils._seeding import set_rng_state

SURROGATES = ("GP", "RF", "ET", "GBRT")
#: the made-up objective told for pending points (skopt minimizes)
LIARS = {"cl_min": np.min, "cl_mean": np.mean, "cl_max": np.max}


class BayesSearcher(BaseSearcher):
    """Sequential model-based search with a skopt surrogate per family.

    Parameters
    ----------
    space : skautodl.search.space.SearchSpace
        The space to search: its families and their dimensions.
    random_state : int or None, default=None
        Seeds the family choice, the optimizers (one seed per family) and
        the constant liar's copies.
    surrogate : {"GP", "RF", "ET", "GBRT"}, default="GP"
        skopt's ``base_estimator``: Gaussian process, random forest, extra
        trees or gradient-boosted trees.
    n_initial_points : int, default=5
        Random points per family before the surrogate is used.
    acq_func : str, default="gp_hedge"
        The acquisition function of skopt (``"gp_hedge"``, ``"EI"``,
        ``"PI"``, ``"LCB"``...).
    acq_optimizer : {"sampling", "lbfgs", "auto"}, default="sampling"
        How skopt maximizes the acquisition. ``"sampling"`` scores
        ``n_points`` random candidates; skopt's ``"lbfgs"`` polishes them
        further but costs several times more per ask (see
        ``docs/benchmarks.md``), which dominates when trials are short.
    n_points : int, default=2000
        Candidates scored per ask.
    liar : {"cl_min", "cl_mean", "cl_max"}, default="cl_min"
        The made-up score told (to a copy of the optimizer) for configs that
        are still running when more are asked: the best, mean or worst
        objective seen so far.

    Raises
    ------
    ValueError
        For an unknown ``surrogate`` or ``liar``.

    See Also
    --------
    skautodl.search.searchers.registry.SearchSpec : Pass these options
        through an estimator's ``search``.
    """

    def __init__(self, space, random_state=None, surrogate="GP", n_initial_points=5,
                 acq_func="gp_hedge", acq_optimizer="sampling", n_points=2000,
                 liar="cl_min"):
        super().__init__(space, random_state=random_state)
        if surrogate not in SURROGATES:
            raise ValueError(
                f"surrogate must be one of {SURROGATES}; got {surrogate!r}."
            )
        if liar not in LIARS:
            raise ValueError(f"liar must be one of {tuple(LIARS)}; got {liar!r}.")
        self.surrogate = surrogate
        self.n_initial_points = n_initial_points
        self.acq_func = acq_func
        self.acq_optimizer = acq_optimizer
        self.n_points = n_points
        self.liar = liar
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
        # points asked and not yet told, per family
        self._pending = {f: [] for f in space.families}
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
            if not is_failed(score):
                f = config["family"]
                best[f] = max(best.get(f, -math.inf), score)
        if best and self._rng.rand() < 0.7:
            return max(best, key=best.get)
        return families[self._rng.randint(len(families))]

    def _points(self, family, k):
        """``k`` new points of ``family``'s optimizer, none of them pending."""
        opt = self._optimizers[family]
        pending = self._pending[family]
        if not pending and k == 1:
            return [opt.ask()]
        # constant liar: a copy learns made-up scores for the pending points
        # and for each point it proposes, so the batch spreads out
        lie = LIARS[self.liar](opt.yi) if opt.yi else 0.0
        liar = opt.copy(random_state=int(self._rng.randint(2**31 - 1)))
        with threadpool_limits(limits=1, user_api="blas"):
            if pending:
                liar.tell([list(p) for p in pending], [lie] * len(pending))
            points = []
            for j in range(k):
                points.append(liar.ask())
                if j + 1 < k:
                    liar.tell(points[-1], lie)
        return points

    def _ask_family(self, family, k):
        self._counts[family] += k
        self._events.append(["ask", family, k])
        if family not in self._optimizers:  # every parameter fixed
            return [self.space.to_config(family, []) for _ in range(k)]
        points = [[to_python(v) for v in p] for p in self._points(family, k)]
        self._pending[family].extend(points)
        return [self.space.to_config(family, p) for p in points]

    def _ask(self, n):
        chosen = []
        for _ in range(n):
            family = self._choose_family()
            chosen.append(family)
            self._counts[family] += 1  # the next choice sees this one
        for family in chosen:
            self._counts[family] -= 1
        # one batch per family: its points are asked together
        configs = {f: self._ask_family(f, chosen.count(f)) for f in
                   dict.fromkeys(chosen)}
        return [configs[f].pop(0) for f in chosen]

    def state(self):
        """Return the state to save in a checkpoint.

        Returns
        -------
        dict
            JSON-friendly: the tells, the RNG state, the number of asks and
            the ask/tell sequence that :meth:`from_state` replays.
        """
        state = super().state()
        state["events"] = [list(e) for e in self._events]
        return state

    @classmethod
    def from_state(cls, state, space, **kwargs):
        """Rebuild a searcher whose next ``ask`` matches the saved one's.

        The saved ask/tell sequence is replayed (skopt's optimizers draw
        from their own random generators on both). Configs pending when the
        state was saved are forgotten: their trials were lost.

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
        BayesSearcher
            The searcher, in the state the saved one was in.
        """
        if "events" not in state:
            return super().from_state(state, space, **kwargs)
        obj = cls(space, **kwargs)
        history = state["history"]
        pos = 0
        for event in state["events"]:
            if event[0] == "ask":
                obj._ask_family(event[1], int(event[2]) if len(event) > 2 else 1)
            else:
                chunk = history[pos:pos + int(event[1])]
                pos += int(event[1])
                obj.tell([c for c, _ in chunk],
                         [math.nan if s is None else s for _, s in chunk])
        set_rng_state(obj._rng, state["rng"])
        obj.n_asked = int(state.get("n_asked", obj.n_asked))
        obj._pending = {f: [] for f in space.families}
        return obj

    def tell(self, configs, scores):
        """Record scores and tell each family's optimizer ``-score``.

        Parameters
        ----------
        configs : list of dict
            Configs that were evaluated.
        scores : list of float
            Their scores, higher is better; ``nan`` for a failure.
        """
        self._events.append(["tell", len(configs)])
        seen = [s for _, s in self.history]
        told = finite_scores(scores, seen)
        super().tell(configs, scores)
        for config, y in zip(configs, told, strict=True):
            family = config["family"]
            opt = self._optimizers.get(family)
            if opt is None:
                continue
            point = [to_python(v) for v in self.space.to_point(config)]
            pending = self._pending[family]
            if point in pending:
                pending.remove(point)
            # the surrogate's matrices are tiny: BLAS threads only contend
            # (with torch and other processes) and made tells ~5x slower
            with threadpool_limits(limits=1, user_api="blas"):
                opt.tell(point, -float(y))
