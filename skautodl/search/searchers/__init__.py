"""Search strategies behind one ask/tell protocol."""

from skautodl.search.searchers.base import Searcher, SearchSpec, make_searcher
from skautodl.search.searchers.bayes import BayesSearcher
from skautodl.search.searchers.evolution import EvolutionSearcher
from skautodl.search.searchers.grid import GridSearcher
from skautodl.search.searchers.random import RandomSearcher

__all__ = [
    "BayesSearcher",
    "EvolutionSearcher",
    "GridSearcher",
    "RandomSearcher",
    "SearchSpec",
    "Searcher",
    "make_searcher",
]
