"""The plain multilayer perceptron family."""

from __future__ import annotations

import torch
from skopt.space import Categorical, Integer, Real
from torch import nn

from skautodl.search.space import Bound


class ParametricActivation(nn.Module):
    """``x + alpha * (f(x) - x)`` with a learnable ``alpha`` per unit.

    RealMLP's parametric activation (Holzmueller et al., "Better by Default:
    Strong Pre-Tuned MLPs and Boosted Trees on Tabular Data", NeurIPS 2024):
    ``alpha`` starts at 1, so the layer starts as ``f`` and training may move
    each unit towards the identity (``alpha = 0``) or beyond ``f``.
    Subclasses set ``f`` (:class:`ParametricSELU`, :class:`ParametricMish`).

    Parameters
    ----------
    n_units : int or None, default=None
        Width of the input's last dimension: one ``alpha`` per unit; ``None``
        shares a single ``alpha`` over all units.
    """

    f = None  # the base activation, a function of a tensor

    def __init__(self, n_units=None):
        super().__init__()
        shape = (1,) if n_units is None else (int(n_units),)
        self.alpha = nn.Parameter(torch.ones(shape))

    def forward(self, x):
        """Apply the activation.

        Parameters
        ----------
        x : torch.Tensor of shape (..., n_units)
            The pre-activations.

        Returns
        -------
        torch.Tensor
            ``x + alpha * (f(x) - x)``, of the shape of ``x``.
        """
        return x + self.alpha * (type(self).f(x) - x)


class ParametricSELU(ParametricActivation):
    """:class:`ParametricActivation` of SELU (RealMLP-TD's, classification).

    Parameters
    ----------
    n_units : int or None, default=None
        One learnable ``alpha`` per unit; None shares one.
    """

    f = staticmethod(nn.functional.selu)


class ParametricMish(ParametricActivation):
    """:class:`ParametricActivation` of Mish (RealMLP-TD's, regression).

    Parameters
    ----------
    n_units : int or None, default=None
        One learnable ``alpha`` per unit; None shares one.
    """

    f = staticmethod(nn.functional.mish)


ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU,
               "pselu": ParametricSELU, "pmish": ParametricMish}
NORMS = ("none", "batch", "layer")


def check_activation(activation):
    """Raise ``ValueError`` unless ``activation`` names an activation.

    Parameters
    ----------
    activation : str
        A key of ``ACTIVATIONS``: ``"relu"``, ``"gelu"``, ``"silu"``,
        ``"pselu"`` or ``"pmish"``.

    Raises
    ------
    ValueError
        For any other value.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {sorted(ACTIVATIONS)}; got {activation!r}."
        )


def make_activation(activation, n_units=None):
    """Build the activation layer named ``activation``.

    Parameters
    ----------
    activation : str
        A key of ``ACTIVATIONS``.
    n_units : int or None, default=None
        The layer's width: the parametric activations learn one ``alpha``
        per unit (None: one shared); the others ignore it.

    Returns
    -------
    torch.nn.Module
        A new activation layer.

    Raises
    ------
    ValueError
        For an unknown ``activation``.

    Examples
    --------
    >>> from skautodl.networks.mlp import make_activation
    >>> make_activation("pmish", 8).alpha.shape
    torch.Size([8])
    """
    check_activation(activation)
    cls = ACTIVATIONS[activation]
    if issubclass(cls, ParametricActivation):
        return cls(n_units)
    return cls()


class MLP(nn.Module):
    """Fully connected network of ``n_layers`` hidden blocks and a linear output.

    Each block is linear, norm, activation and dropout.

    Parameters
    ----------
    n_inputs : int
        Width of the featurized input.
    n_outputs : int
        Classes (logits) or regression targets.
    n_layers : int, default=2
        Hidden blocks (0 gives a linear model).
    n_units : int, default=256
        Width of every hidden block.
    dropout : float, default=0.1
        Dropout probability after each activation.
    norm : {"none", "batch", "layer"}, default="none"
        Normalization inside each block.
    activation : {"relu", "gelu", "silu", "pselu", "pmish"}, default="relu"
        ``"pselu"`` and ``"pmish"`` are RealMLP's parametric activations
        (:class:`ParametricActivation`), with one learnable ``alpha`` per unit.

    Raises
    ------
    ValueError
        For an unknown ``norm`` or ``activation``.

    Examples
    --------
    >>> import torch
    >>> from skautodl.networks.mlp import MLP
    >>> net = MLP(n_inputs=10, n_outputs=3, n_layers=2, n_units=64)
    >>> net(torch.zeros(5, 10)).shape
    torch.Size([5, 3])
    """

    def __init__(self, n_inputs, n_outputs, n_layers=2, n_units=256, dropout=0.1,
                 norm="none", activation="relu"):
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}; got {norm!r}.")
        check_activation(activation)
        layers = []
        width = n_inputs
        for _ in range(int(n_layers)):
            layers.append(nn.Linear(width, int(n_units)))
            if norm == "batch":
                layers.append(nn.BatchNorm1d(int(n_units)))
            elif norm == "layer":
                layers.append(nn.LayerNorm(int(n_units)))
            layers.append(make_activation(activation, int(n_units)))
            if dropout > 0:
                layers.append(nn.Dropout(float(dropout)))
            width = int(n_units)
        layers.append(nn.Linear(width, n_outputs))
        self.layers = nn.Sequential(*layers)

    def forward(self, X):
        """Compute the network's outputs.

        Parameters
        ----------
        X : torch.Tensor of shape (n_samples, n_inputs)
            Featurized rows.

        Returns
        -------
        torch.Tensor of shape (n_samples, n_outputs)
            Logits (classifier) or standardized values (regressor).
        """
        return self.layers(X)


def space(task):
    """Return the MLP's own hyperparameters (architecture search dimensions).

    Parameters
    ----------
    task : skautodl.data.validation.TaskInfo
        The task being searched.

    Returns
    -------
    dict
        The skopt dimensions keyed by skorch parameter names
        (``module__n_layers``, ``module__n_units``, ``module__dropout``,
        ``module__norm``, ``module__activation``); the same for every task.
    """
    return {
        "module__n_layers": Integer(1, 4),
        "module__n_units": Categorical([64, 128, 256, 512]),
        "module__dropout": Real(0.0, 0.5),
        "module__norm": Categorical(list(NORMS)),
        "module__activation": Categorical(sorted(ACTIVATIONS)),
    }


#: the values the MLP's own numeric parameters may take
BOUNDS = {
    "module__n_layers": Bound(0, integer=True),
    "module__n_units": Bound(1, integer=True),
    "module__dropout": Bound(0, 1, high_open=True),
}

#: the coarse grid ``search="grid"`` runs on the default space (with the
#: training settings' ``TRAINING_GRID``; other dimensions keep the defaults).
#: Each list holds the default, so the grid starts at the default config
GRID = {
    "module__n_layers": [1, 2, 3],
    "module__n_units": [128, 256],
    "module__dropout": [0.1, 0.3],
}

#: values the MLP's space starts from (a robust, known-good point)
DEFAULTS = {
    "module__n_layers": 2,
    "module__n_units": 256,
    "module__dropout": 0.1,
    "module__norm": "none",
    "module__activation": "relu",
}


def applies(task):
    """Tell whether the MLP fits ``task``: every tabular task.

    Parameters
    ----------
    task : skautodl.data.validation.TaskInfo
        The task being searched.

    Returns
    -------
    bool
        True for tabular input, False for images.
    """
    return task.input_kind == "tabular"
