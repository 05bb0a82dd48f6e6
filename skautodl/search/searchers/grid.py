"""Grid search: every point of a finite grid over the space, in a fixed order.

Which values each dimension takes:

* a dimension the user set in ``search_space``: all categories of a
  ``Categorical``, up to ``n_points`` evenly spaced distinct integers of an
  ``Integer``, ``n_points`` evenly spaced values of a ``Real``
  (geometrically spaced for ``prior="log-uniform"``);
* a dimension of the default space: its values in the coarse grid (each
  family's ``GRID``: depth, width and a few more at 2-3 levels, and
  :data:`~skautodl.search.space.TRAINING_GRID`: learning rate and weight
  decay), or else only its default value. The full default space has about
  10^8 points; the coarse grid has a few dozen per family.

``coarse=False`` grids every dimension as if the user had set it (and is
refused when that grid is too large).

Order: within a family, :func:`itertools.product` order over
``space.names(family)`` (the last name varies fastest), except that points
with fewer coarse dimensions off their default come first; the families
take turns (one point of each in ``space.families`` order). A grid larger than
``max_candidates`` is refused with a message naming the dimensions that
make it large.
"""

from __future__ import annotations

import itertools
import math
import numbers

import numpy as np
from skopt.space import Categorical, Integer

from skautodl._compat import to_python
from skautodl.search.searchers.common import BaseSearcher
from skautodl.search.space import in_dimension


def _check_count(name, value):
    if (not isinstance(value, numbers.Integral) or isinstance(value, bool)
            or value < 1):
        raise ValueError(f"{name} must be an int >= 1; got {value!r}.")
    return int(value)


def grid_values(dim, n_points):
    """Return the grid values of one skopt dimension, as plain Python values.

    Parameters
    ----------
    dim : skopt.space.Dimension
        A ``Categorical``, ``Integer`` or ``Real`` dimension.
    n_points : int
        Values per numeric dimension; 1 gives the (geometric) midpoint.

    Returns
    -------
    list
        All categories of a ``Categorical``; up to ``n_points`` distinct,
        increasing values from ``low`` to ``high`` otherwise, evenly spaced on
        a log scale when the prior is ``"log-uniform"``.

    Examples
    --------
    >>> from skopt.space import Integer, Real
    >>> from skautodl.search.searchers.grid import grid_values
    >>> grid_values(Real(1e-4, 1e-2, prior="log-uniform"), 3)
    [0.0001, 0.001, 0.01]
    >>> grid_values(Integer(1, 2), 3)
    [1, 2]
    """
    if isinstance(dim, Categorical):
        return [to_python(c) for c in dim.categories]
    low, high = dim.low, dim.high
    log = dim.prior == "log-uniform"
    if n_points == 1:
        values = np.array([np.sqrt(low * high) if log else (low + high) / 2])
    elif log:
        values = np.geomspace(low, high, n_points)
    else:
        values = np.linspace(low, high, n_points)
    values = np.clip(values, low, high)
    if isinstance(dim, Integer):
        return list(dict.fromkeys(int(round(v)) for v in values))
    return list(dict.fromkeys(float(v) for v in values))


class GridSearcher(BaseSearcher):
    """Exhaustive search over a finite grid, in a deterministic order.

    ``ask(n)`` hands out the next ``n`` grid points; once the grid runs out it
    returns fewer, then an empty list, and :attr:`exhausted` is True. The grid
    size grows as the product of the per-dimension value counts: narrow the
    space through ``search_space`` (fixed values, short lists of choices) or
    lower ``n_points``.

    Parameters
    ----------
    space : skautodl.search.space.SearchSpace
        The space to search: its families and their dimensions.
    random_state : int or None, default=None
        Accepted for the common signature and stored; the order is
        deterministic and does not use it.
    n_points : int, default=3
        Values per ``Integer`` or ``Real`` dimension (fewer for an ``Integer``
        with fewer distinct integers in its range). ``Categorical``
        dimensions contribute all their categories.
    max_candidates : int, default=10_000
        Largest grid accepted; a larger one raises ``ValueError``.
    coarse : bool, default=True
        Grid the dimensions the user did not set on their coarse values
        (or their default); with False every dimension gets the full
        treatment.

    Attributes
    ----------
    n_candidates : int
        Number of grid points (also ``len(searcher)``).
    exhausted : bool
        Whether every grid point has been asked.

    Raises
    ------
    ValueError
        For ``n_points`` or ``max_candidates`` below 1, or a grid larger
        than ``max_candidates``.

    Notes
    -----
    :meth:`state` records the position in the grid and the points asked but
    not yet told; :meth:`from_state` asks those again first, so a search
    resumed after a crash evaluates every grid point once.
    """

    def __init__(self, space, random_state=None, n_points=3, max_candidates=10_000,
                 coarse=True):
        super().__init__(space, random_state=random_state)
        self.n_points = _check_count("n_points", n_points)
        self.max_candidates = _check_count("max_candidates", max_candidates)
        self.coarse = bool(coarse)
        axes = {f: self._axes(f) for f in space.families}
        size = sum(math.prod(len(a) for a in axes[f]) for f in space.families)
        if size > self.max_candidates:
            counts = ", ".join(
                f"{f}: " + (" x ".join(
                    f"{n}={len(a)}" for n, a in zip(space.names(f), axes[f],
                                                    strict=True) if len(a) > 1)
                    or "1")
                for f in space.families
            )
            raise ValueError(
                f"The grid has {size} candidates ({counts}), more than "
                f"max_candidates={self.max_candidates}. Narrow the space through "
                "search_space (fix parameters or give short lists of choices), "
                "lower n_points, or raise max_candidates."
            )
        per_family = [self._family_points(f, axes[f]) for f in space.families]
        # the families take turns, so a short budget sees each of them
        self._grid = [points[i] for i in range(max(map(len, per_family), default=0))
                      for points in per_family if i < len(points)]
        self._position = 0
        self._pending = {}  # grid index -> config, asked but not told
        self._requeue = []  # grid indices to ask again first (after from_state)

    def _axes(self, family):
        """The grid values of each dimension of ``family``, in names order."""
        space = self.space
        grid = space.grids.get(family, {})
        axes = []
        for name, dim in zip(space.names(family), space.dimensions(family),
                             strict=True):
            if not self.coarse or name in space.user_names:
                axes.append(grid_values(dim, self.n_points))
                continue
            values = [to_python(v) for v in grid.get(name, ()) if in_dimension(v, dim)]
            axes.append(list(dict.fromkeys(values))
                        or [space.default_value(family, name)])
        return axes

    def _family_points(self, family, axes):
        """``(family, point)`` of the product: the fewer coarse dimensions off
        their default the earlier, ties (and the user's own dimensions) in
        product order."""
        names = self.space.names(family)
        coarse = [self.coarse and n not in self.space.user_names for n in names]
        default = [self.space.default_value(family, n) for n in names]
        points = list(itertools.product(*axes))

        def changed(point):
            return sum(c and v != d for c, v, d in zip(coarse, point, default,
                                                        strict=True))

        return [(family, list(p)) for p in sorted(points, key=changed)]  # stable

    @property
    def n_candidates(self):
        """Number of points in the grid."""
        return len(self._grid)

    def __len__(self):
        return len(self._grid)

    @property
    def exhausted(self):
        """True once every grid point has been asked."""
        return not self._requeue and self._position >= len(self._grid)

    def _config(self, index):
        family, point = self._grid[index]
        return self.space.to_config(family, point)

    def _ask(self, n):
        """The next ``n`` grid points (fewer when the grid runs out)."""
        indices = self._requeue[:n]
        self._requeue = self._requeue[len(indices):]
        take = min(n - len(indices), len(self._grid) - self._position)
        indices += list(range(self._position, self._position + take))
        self._position += take
        configs = []
        for i in indices:
            config = self._config(i)
            self._pending[i] = config
            configs.append(config)
        return configs

    def tell(self, configs, scores):
        """Record scores; told points leave the pending set.

        Parameters
        ----------
        configs : list of dict
            Configs that were evaluated.
        scores : list of float
            Their scores, higher is better; ``nan`` for a failure.
        """
        super().tell(configs, scores)
        for config in configs:
            for i, asked in self._pending.items():
                if all(config.get(k) == v for k, v in asked.items()):
                    del self._pending[i]
                    break

    def state(self):
        """Return the state to save in a checkpoint.

        Returns
        -------
        dict
            JSON-friendly: the tells, the RNG state, the number of asks,
            the position in the grid and the points asked but not told.
        """
        state = super().state()
        state["position"] = self._position
        state["pending"] = sorted(set(self._pending) | set(self._requeue))
        return state

    @classmethod
    def from_state(cls, state, space, **kwargs):
        """Rebuild a searcher that continues where the saved one stopped.

        Pass the same space and options as the saved searcher. Points that
        were asked but never told are asked again first.

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
        GridSearcher
            The searcher, at the saved position in the grid.
        """
        obj = super().from_state(state, space, **kwargs)
        obj._position = min(int(state.get("position", 0)), len(obj._grid))
        obj._requeue = [int(i) for i in state.get("pending", [])
                        if 0 <= int(i) < len(obj._grid)]
        return obj
