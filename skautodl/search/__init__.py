"""Search spaces and search strategies (searchers).

``SearchSpec("bayes", surrogate="RF")`` picks a built-in strategy with
options for an estimator's ``search`` parameter.
"""

from skautodl.search.searchers.registry import SearchSpec

__all__ = ["SearchSpec"]
