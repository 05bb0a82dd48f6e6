"""Search strategies by name: the one list of built-in searchers.

:func:`make_searcher` resolves an estimator's ``search`` parameter (a name,
a :class:`SearchSpec`, or a user's searcher object) into a searcher bound to
the task's space, restored from a checkpoint when there is one.
"""

from __future__ import annotations

import copy

from skautodl.search.searchers.bayes import BayesSearcher
from skautodl.search.searchers.evolution import EvolutionSearcher
from skautodl.search.searchers.grid import GridSearcher
from skautodl.search.searchers.random import RandomSearcher

#: name -> searcher class of the built-in strategies
SEARCHERS = {
    "bayes": BayesSearcher,
    "random": RandomSearcher,
    "grid": GridSearcher,
    "evolution": EvolutionSearcher,
}


class SearchSpec:
    """A search strategy with options, bound to the space at ``fit``.

    The way to pick a built-in searcher's options, or to switch the
    known-good portfolio off, from an estimator::

        AutoDLClassifier(search=SearchSpec("bayes", surrogate="RF"))
        AutoDLClassifier(search=SearchSpec("random", portfolio=False))

    Parameters
    ----------
    strategy : {"bayes", "random", "grid", "evolution"} or searcher object
        A built-in strategy's name, or an object with ``ask`` and ``tell``.
    portfolio : bool, default=True
        Whether the known-good portfolio configurations run first (at most
        half of ``n_trials`` when that is set). With ``False`` every trial's
        configuration comes from the strategy.
    **options
        Keyword arguments of the built-in searcher's class
        (``BayesSearcher``: ``surrogate`` ("GP", "RF", "ET", "GBRT"),
        ``n_initial_points``, ``acq_func``...; ``GridSearcher``:
        ``n_points``...; ``EvolutionSearcher``: ``population_size``...).

    Raises
    ------
    ValueError
        For an unknown strategy name, or options given with a searcher
        object.
    TypeError
        For a strategy that is neither a name nor an object with ``ask``
        and ``tell``, or a ``portfolio`` that is not a bool.

    See Also
    --------
    skautodl.search.searchers.bayes.BayesSearcher : The options of
        ``"bayes"``.
    skautodl.search.searchers.grid.GridSearcher : The options of ``"grid"``.
    skautodl.search.searchers.evolution.EvolutionSearcher : The options of
        ``"evolution"``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skautodl import AutoDLClassifier
    >>> from skautodl.search.searchers import SearchSpec
    >>> SearchSpec("bayes", surrogate="RF", n_initial_points=3)
    SearchSpec('bayes', n_initial_points=3, surrogate='RF')

    Without the portfolio, the first trial already comes from the strategy:

    >>> X, y = load_iris(return_X_y=True)
    >>> clf = AutoDLClassifier(search=SearchSpec("random", portfolio=False),
    ...                        time_budget=None, n_trials=1, families=["mlp"],
    ...                        cv=None, search_space={"max_epochs": 5},
    ...                        verbose=0, random_state=0).fit(X, y)
    >>> clf.leaderboard_["origin"].tolist()
    ['searcher']
    """

    def __init__(self, strategy, *, portfolio=True, **options):
        if isinstance(strategy, str):
            if strategy not in SEARCHERS:
                raise ValueError(f"SearchSpec strategy must be one of "
                                 f"{tuple(SEARCHERS)} or a searcher object; got "
                                 f"{strategy!r}.")
        elif not is_searcher(strategy):
            raise TypeError(f"SearchSpec strategy must be one of {tuple(SEARCHERS)} "
                            f"or an object with ask() and tell(); got {strategy!r}.")
        elif options:
            raise ValueError(f"SearchSpec options {sorted(options)} apply to the "
                             "built-in strategies only, not to a searcher object.")
        if not isinstance(portfolio, bool):
            raise TypeError(f"SearchSpec portfolio must be True or False; got "
                            f"{portfolio!r}.")
        self.strategy = strategy
        self.portfolio = portfolio
        self.options = options

    @property
    def name(self):
        """The built-in strategy's name, or the searcher object's class name."""
        s = self.strategy
        return s if isinstance(s, str) else type(s).__name__

    def __repr__(self):
        opts = "".join(f", {k}={v!r}" for k, v in sorted(self.options.items()))
        if not self.portfolio:
            opts = ", portfolio=False" + opts
        return f"SearchSpec({self.strategy!r}{opts})"

    def __eq__(self, other):
        return isinstance(other, SearchSpec) and repr(self) == repr(other)

    def __hash__(self):
        return hash(repr(self))


def is_searcher(obj):
    """Tell whether ``obj`` follows the ask/tell protocol.

    Parameters
    ----------
    obj : object
        A candidate searcher.

    Returns
    -------
    bool
        True when ``obj`` has callable ``ask`` and ``tell`` attributes.
    """
    return callable(getattr(obj, "ask", None)) and callable(getattr(obj, "tell",
                                                                      None))


def as_spec(search):
    """Wrap the ``search`` parameter in a :class:`SearchSpec`.

    Parameters
    ----------
    search : str, SearchSpec or searcher object
        An estimator's ``search`` parameter.

    Returns
    -------
    SearchSpec
        ``search`` itself when it is one; else a spec with the defaults.
    """
    return search if isinstance(search, SearchSpec) else SearchSpec(search)


def make_searcher(search, space, random_state, state=None):
    """Resolve the ``search`` parameter to a searcher bound to ``space``.

    Parameters
    ----------
    search : str, SearchSpec or searcher object
        An estimator's ``search`` parameter.
    space : skautodl.search.space.SearchSpace
        The task's search space.
    random_state : int or None
        The searcher's seed.
    state : dict or None, default=None
        A saved ``state()``: the searcher continues from it (when its class
        has ``from_state``; otherwise it starts afresh).

    Returns
    -------
    object
        The searcher: a built-in one, or a copy of the user's object.

    Notes
    -----
    A user's searcher object is deep-copied before ``setup`` so that ``fit``
    never changes the estimator's parameters; the copy that ran is the
    estimator's ``searcher_``.
    """
    spec = as_spec(search)
    strategy = spec.strategy
    if isinstance(strategy, str):
        cls = SEARCHERS[strategy]
        if state is not None:
            return cls.from_state(state, space, random_state=random_state,
                                  **spec.options)
        return cls(space, random_state=random_state, **spec.options)
    searcher = copy.deepcopy(strategy)
    from_state = getattr(type(searcher), "from_state", None)
    if state is not None and callable(from_state):
        return from_state(state, space, random_state=random_state)
    if callable(getattr(searcher, "setup", None)):
        searcher.setup(space, random_state)
    return searcher
