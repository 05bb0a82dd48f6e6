"""Known-good configurations, evaluated before the searcher takes over.

For now the portfolio holds one configuration per family: the family's
documented defaults (an AdamW-trained network of moderate width with light
dropout and weight decay, the recipe that tabular deep learning baselines
converge on), moved inside any range the user narrowed.
"""

from __future__ import annotations


def portfolio(space):
    """Configs to try first, one per family of ``space``."""
    return [space.default_config(family) for family in space.families]
