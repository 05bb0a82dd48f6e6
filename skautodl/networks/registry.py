"""Maps a family name to its builder, its search space and the tasks it fits.

Adding a family touches its own module and one line of ``FAMILIES``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from skautodl.networks import mlp


@dataclass(frozen=True)
class Family:
    """A network family.

    Attributes
    ----------
    name : str
    module : type
        The ``torch.nn.Module`` class; skorch builds it from ``module__*``
        keys, so every architecture setting is reachable by ``set_params``.
    space : callable
        ``space(task) -> dict`` of skopt dimensions keyed by skorch names.
    applies : callable
        ``applies(task) -> bool``: whether ``"auto"`` picks this family.
    defaults : dict
        A known-good point of the family's space.
    """

    name: str
    module: type
    space: Callable
    applies: Callable
    defaults: dict

    def build(self, config, n_inputs, n_outputs):
        """Build the module from the ``module__*`` keys of a trial config."""
        kwargs = {k[len("module__"):]: v for k, v in config.items()
                  if k.startswith("module__")}
        return self.module(n_inputs=n_inputs, n_outputs=n_outputs, **kwargs)


FAMILIES = {
    "mlp": Family("mlp", mlp.MLP, mlp.space, mlp.applies, mlp.DEFAULTS),
}

#: families the design names that arrive in a later release
PLANNED_FAMILIES = ("resnet", "embed", "ensemble_mlp", "cnn")


def get_family(name) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(
            f"Unknown network family {name!r}; known families: {sorted(FAMILIES)}."
        ) from None


def families_for(task):
    """Names of the families that ``families="auto"`` uses for ``task``."""
    return [name for name, fam in FAMILIES.items() if fam.applies(task)]
