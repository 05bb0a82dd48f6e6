"""Search strategies behind one ask/tell protocol."""

from skautodl.search.searchers.base import ResumableSearcher, Searcher
from skautodl.search.searchers.bayes import BayesSearcher
from skautodl.search.searchers.common import BaseSearcher
from skautodl.search.searchers.evolution import EvolutionSearcher
from skautodl.search.searchers.grid import GridSearcher
from skautodl.search.searchers.random import RandomSearcher
from skautodl.search.searchers.registry import SEARCHERS, SearchSpec, make_searcher

__all__ = [
    "SEARCHERS",
    "BaseSearcher",
    "BayesSearcher",
    "EvolutionSearcher",
    "GridSearcher",
    "RandomSearcher",
    "ResumableSearcher",
    "SearchSpec",
    "Searcher",
    "make_searcher",
]
