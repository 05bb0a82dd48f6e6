"""Maps a family name to its builder, its search space and the tasks it fits.

Adding a family touches its own module and one line of ``FAMILIES``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from skautodl.networks import cnn, embed, ensemble_mlp, hgb, mlp, resnet


@dataclass(frozen=True)
class Family:
    """A search family: a network, or gradient-boosted trees (``kind="tree"``).

    Parameters
    ----------
    name : str
        The name users pass in ``families`` (``"mlp"``, ``"cnn"``...).
    module : type
        The ``torch.nn.Module`` class; skorch builds it from ``module__*``
        keys, so every architecture setting is reachable by ``set_params``.
        For a tree family, the model class its trials fit.
    space : callable
        ``space(task) -> dict`` of skopt dimensions keyed by skorch names.
    applies : callable
        ``applies(task) -> bool``: whether the family fits the task.
    defaults : dict
        A known-good point of the family's space.
    in_auto : bool, default=True
        Whether ``families="auto"`` uses the family (for the tasks it
        applies to). Families whose quality is not benchmarked yet are
        registered with ``in_auto=False``: users opt in by naming them.
    data_params : tuple of str, default=()
        Module arguments filled from the data, not searched: the CNN's
        ``image_shape``, or the embed family's column layout (the keys of the
        featurizer's ``module_params_``).
    categorical_encoding : {"onehot", "codes"}, default="onehot"
        The ``categorical_encoding`` of the
        :class:`~skautodl.data.featurize.TabularFeaturizer` the family's
        inputs need: ``"codes"`` lays the columns out for feature embeddings.
    grid : dict, default={}
        The coarse grid of the family's own dimensions that
        ``search="grid"`` runs on the default space.
    bounds : dict, default={}
        ``{name: skautodl.search.space.Bound}``: the values the family's own
        numeric parameters may take, checked before any training.
    kind : {"network", "tree"}, default="network"
        A ``"tree"`` family (``"hgb"``) is no skorch net: its trials and
        refits go through :mod:`skautodl.training.trees`, its config holds
        only its own ``<name>__*`` keys (none of the networks' training
        settings) and its models train on the CPU whatever ``device`` says.

    See Also
    --------
    get_family : Look a family up by name.
    resolve_families : The families an estimator's ``families`` names.

    Examples
    --------
    >>> from skautodl.networks.registry import FAMILIES
    >>> mlp = FAMILIES["mlp"]
    >>> mlp.in_auto, mlp.is_tree, mlp.categorical_encoding
    (True, False, 'onehot')
    >>> mlp.build(mlp.defaults, n_inputs=10, n_outputs=3)
    MLP(...)
    """

    name: str
    module: type
    space: Callable
    applies: Callable
    defaults: dict
    in_auto: bool = True
    data_params: tuple = ()
    categorical_encoding: str = "onehot"
    grid: dict = field(default_factory=dict)
    bounds: dict = field(default_factory=dict)
    kind: str = "network"

    @property
    def is_tree(self):
        """Whether the family is gradient-boosted trees (no skorch net)."""
        return self.kind == "tree"

    def build(self, config, n_inputs, n_outputs, **data_params):
        """Build the module from the ``module__*`` keys of a trial config.

        Parameters
        ----------
        config : dict
            A trial config; its ``module__*`` keys are the module's
            arguments (other keys are ignored).
        n_inputs : int
            Width of the featurized input.
        n_outputs : int
            Classes (logits) or regression targets.
        **data_params
            The data-dependent arguments the family declares in
            :attr:`data_params` (the CNN's ``image_shape``, the embed
            family's column layout).

        Returns
        -------
        torch.nn.Module
            A new, untrained module.
        """
        kwargs = {k[len("module__"):]: v for k, v in config.items()
                  if k.startswith("module__")}
        return self.module(n_inputs=n_inputs, n_outputs=n_outputs, **data_params,
                           **kwargs)


FAMILIES = {
    "mlp": Family("mlp", mlp.MLP, mlp.space, mlp.applies, mlp.DEFAULTS,
                  grid=mlp.GRID,
                  bounds=mlp.BOUNDS),
    "resnet": Family("resnet", resnet.ResNet, resnet.space, resnet.applies,
                     resnet.DEFAULTS, in_auto=False, grid=resnet.GRID,
                     bounds=resnet.BOUNDS),
    "ensemble_mlp": Family("ensemble_mlp", ensemble_mlp.EnsembleMLP,
                           ensemble_mlp.space, ensemble_mlp.applies,
                           ensemble_mlp.DEFAULTS, in_auto=False,
                           grid=ensemble_mlp.GRID, bounds=ensemble_mlp.BOUNDS),
    "cnn": Family("cnn", cnn.ResidualCNN, cnn.space, cnn.applies, cnn.DEFAULTS,
                  data_params=("image_shape",), grid=cnn.GRID,
                  bounds=cnn.BOUNDS),
    # in "auto" since the quality benchmark (docs/benchmarks.md): mlp + embed
    # beat mlp alone on breast cancer, friedman1 and the mixed-type set
    "embed": Family("embed", embed.EmbedNet, embed.space, embed.applies,
                    embed.DEFAULTS,
                    data_params=("n_numeric", "n_binary", "cardinalities", "bins"),
                    categorical_encoding="codes", grid=embed.GRID,
                    bounds=embed.BOUNDS),
    # opt-in gradient-boosted trees, mixed with the networks by the ensemble
    "hgb": Family("hgb", hgb.HGBModel, hgb.space, hgb.applies, hgb.DEFAULTS,
                  in_auto=False, grid=hgb.GRID, bounds=hgb.BOUNDS, kind="tree"),
}

#: families the design names that arrive in a later release (none left)
PLANNED_FAMILIES = ()


def get_family(name) -> Family:
    """Look a family up by name.

    Parameters
    ----------
    name : str
        A key of ``FAMILIES``.

    Returns
    -------
    Family
        The registry entry.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the known ones).
    """
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(
            f"Unknown network family {name!r}; known families: {sorted(FAMILIES)}."
        ) from None


def is_tree_config(config):
    """Tell whether a trial config belongs to a tree family (no skorch net).

    A name the registry does not know counts as a network (its trial fails
    where the net is built, as before).

    Parameters
    ----------
    config : dict
        A trial config; its ``"family"`` key names the family (``"mlp"``
        when absent).

    Returns
    -------
    bool
        True for the ``"hgb"`` family.
    """
    family = FAMILIES.get(config.get("family", "mlp"))
    return family is not None and family.is_tree


def resolve_families(families, task):
    """The registry entries an estimator's ``families`` parameter names.

    Parameters
    ----------
    families : "auto", str or list of str
        The estimator's ``families`` parameter.
    task : skautodl.data.validation.TaskInfo
        The task being searched.

    Returns
    -------
    list of Family
        The families to search, in the order named, without repeats;
        ``"auto"`` gives :func:`families_for`.

    Raises
    ------
    ValueError
        For an unknown name, an empty list, or a family that cannot take
        the task's input (``"cnn"`` on a table, ``"mlp"`` on images).
    """
    if isinstance(families, str) and families == "auto":
        return [FAMILIES[name] for name in families_for(task)]
    names = [families] if isinstance(families, str) else list(families)
    if not names:
        raise ValueError("The 'families' parameter is an empty list; give 'auto' "
                         f"or names from {sorted(FAMILIES)}.")
    out = []
    for name in names:
        if name not in FAMILIES:
            raise ValueError(
                f"The 'families' parameter names an unknown network family "
                f"{name!r}; known families: {sorted(FAMILIES)} (or 'auto')."
            )
        family = FAMILIES[name]
        if not family.applies(task):
            fits = [n for n, f in FAMILIES.items() if f.applies(task)]
            raise ValueError(
                f"The 'families' parameter names {name!r}, which cannot take "
                f"{task.input_kind} input; families for this data: {fits}."
            )
        if family not in out:
            out.append(family)
    return out


def families_for(task):
    """List the families that ``families="auto"`` uses for ``task``.

    Today: ``["mlp", "embed"]`` for tables and ``["cnn"]`` for images;
    ``"resnet"``, ``"ensemble_mlp"`` and ``"hgb"`` are opt-in.

    Parameters
    ----------
    task : skautodl.data.validation.TaskInfo
        The task being searched.

    Returns
    -------
    list of str
        The registered families with ``in_auto`` that apply to ``task``.

    Examples
    --------
    >>> import numpy as np
    >>> from skautodl.data.validation import detect_task
    >>> from skautodl.networks.registry import families_for
    >>> y = np.array([0, 1, 1, 0])
    >>> families_for(detect_task(y, classifier=True, n_classes=2))
    ['mlp', 'embed']
    >>> families_for(detect_task(y, classifier=True, n_classes=2,
    ...                          input_kind="image", image_shape=(1, 8, 8)))
    ['cnn']
    """
    return [name for name, fam in FAMILIES.items()
            if fam.in_auto and fam.applies(task)]
