"""Search strategies behind one ask/tell protocol."""

from skautodl.search.searchers.base import Searcher, make_searcher
from skautodl.search.searchers.bayes import BayesSearcher
from skautodl.search.searchers.random import RandomSearcher

__all__ = ["BayesSearcher", "RandomSearcher", "Searcher", "make_searcher"]
