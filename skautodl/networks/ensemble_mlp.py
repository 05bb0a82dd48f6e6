"""The parameter-efficient ensemble MLP family (BatchEnsemble / TabM style).

References: Y. Wen, D. Tran, J. Ba, "BatchEnsemble: an Alternative Approach to
Efficient Ensemble and Lifelong Learning", ICLR 2020; Y. Gorishniy,
A. Kotelnikov, A. Babenko, "TabM: Advancing Tabular Deep Learning with
Parameter-Efficient Ensembling", ICLR 2025.
"""

from __future__ import annotations

import math

import torch
from skopt.space import Categorical, Integer, Real
from torch import nn

from skautodl.networks.mlp import ACTIVATIONS, check_activation, make_activation
from skautodl.networks.mlp import applies as applies  # every tabular task
from skautodl.search.space import Bound


class LinearBatchEnsemble(nn.Module):
    """A linear layer shared by ``k`` members with rank-1 member adapters.

    Member ``i`` computes ``y_i = ((x_i * r_i) @ W.T) * s_i + b_i``: the weight
    ``W`` is shared, the input adapter ``r_i``, the output adapter ``s_i`` and
    the bias ``b_i`` are the member's own. Inputs and outputs have shape
    ``(batch, k, width)``; all members run in one batched product.

    Parameters
    ----------
    in_features : int
        Width of each member's input.
    out_features : int
        Width of each member's output.
    k : int
        Ensemble members.
    random_signs : bool, default=False
        Initialize ``r`` with random signs (+-1) instead of ones. As in TabM,
        the first layer uses random signs, which makes the members differ from
        the start; ``s`` starts at ones.
    """

    def __init__(self, in_features, out_features, k, random_signs=False):
        super().__init__()
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.k = int(k)
        self.random_signs = bool(random_signs)
        self.weight = nn.Parameter(torch.empty(self.out_features, self.in_features))
        self.r = nn.Parameter(torch.empty(self.k, self.in_features))
        self.s = nn.Parameter(torch.empty(self.k, self.out_features))
        self.bias = nn.Parameter(torch.empty(self.k, self.out_features))
        self.reset_parameters()

    def reset_parameters(self):
        """Initialize the weights.

        ``W`` and ``b`` as in ``nn.Linear`` (the same bias for every
        member); ``r`` random signs or ones, ``s`` ones.
        """
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
        with torch.no_grad():
            self.bias[0].uniform_(-bound, bound)
            self.bias.copy_(self.bias[0].expand_as(self.bias))
            if self.random_signs:
                self.r.copy_(torch.randint(0, 2, self.r.shape) * 2.0 - 1.0)
            else:
                self.r.fill_(1.0)
            self.s.fill_(1.0)

    def forward(self, x):
        """Apply every member's layer.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, k, in_features)
            One input per member.

        Returns
        -------
        torch.Tensor of shape (n_samples, k, out_features)
            One output per member.
        """
        return (x * self.r) @ self.weight.T * self.s + self.bias


class LinearHeads(nn.Module):
    """``k`` independent linear heads applied member-wise.

    Maps ``(batch, k, in_features)`` to ``(batch, k, out_features)`` with a
    ``(k, in_features, out_features)`` weight; each head is initialized
    independently like ``nn.Linear``.

    Parameters
    ----------
    in_features : int
        Width of each head's input.
    out_features : int
        Width of each head's output.
    k : int
        Heads (ensemble members, or features when embedding them one by
        one).

    Examples
    --------
    >>> import torch
    >>> from skautodl.networks.ensemble_mlp import LinearHeads
    >>> LinearHeads(3, 5, k=4)(torch.zeros(2, 4, 3)).shape
    torch.Size([2, 4, 5])
    """

    def __init__(self, in_features, out_features, k):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(int(k), int(in_features),
                                               int(out_features)))
        self.bias = nn.Parameter(torch.empty(int(k), int(out_features)))
        bound = 1 / math.sqrt(in_features) if in_features > 0 else 0
        with torch.no_grad():
            # nn.Linear's default init is U(-1/sqrt(fan_in), 1/sqrt(fan_in))
            self.weight.uniform_(-bound, bound)
            self.bias.uniform_(-bound, bound)

    def forward(self, x):
        """Apply head ``i`` to slice ``i`` of ``x``.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, k, in_features)
            One input per head.

        Returns
        -------
        torch.Tensor of shape (n_samples, k, out_features)
            One output per head.
        """
        return torch.einsum("bki,kio->bko", x, self.weight) + self.bias


class EnsembleMLP(nn.Module):
    """MLP ensemble of ``k`` members sharing their hidden weights (TabM style).

    Each hidden block is a :class:`LinearBatchEnsemble` (shared weight ``W``,
    per-member adapters ``r_i``, ``s_i`` and bias ``b_i``) followed by the
    activation and dropout, computed on tensors of shape
    ``(batch, k, width)``. The input is broadcast to the ``k`` members at
    the first layer, whose input adapters start as random signs so the
    members differ from initialization; the output layer is ``k`` separate
    linear heads. ``forward`` returns the mean over members of their outputs
    (logits for classification, values for regression), so the usual skorch
    losses apply unchanged.

    This averages the members' logits and then applies the loss, a
    simplification of TabM, which trains on the mean of the per-member losses
    (each member optimized separately) and averages the members'
    probabilities at prediction time. :meth:`forward_members` gives the
    per-member outputs.

    Parameters
    ----------
    n_inputs : int
        Width of the featurized input.
    n_outputs : int
        Classes (logits) or regression targets.
    k : int, default=8
        Ensemble members.
    n_layers : int, default=2
        Hidden blocks (0 gives ``k`` linear models on the input).
    n_units : int, default=256
        Width of every hidden block.
    dropout : float, default=0.1
        Dropout probability after each activation (independent masks per
        member).
    activation : {"relu", "gelu", "silu", "pselu", "pmish"}, default="relu"
        The parametric ones learn one ``alpha`` per unit, shared by the
        members.

    Raises
    ------
    ValueError
        For an unknown ``activation`` or ``k`` below 1.

    Examples
    --------
    >>> import torch
    >>> from skautodl.networks.ensemble_mlp import EnsembleMLP
    >>> net = EnsembleMLP(n_inputs=6, n_outputs=2, k=4, n_units=32)
    >>> X = torch.zeros(3, 6)
    >>> net.forward_members(X).shape, net(X).shape
    (torch.Size([3, 4, 2]), torch.Size([3, 2]))
    """

    def __init__(self, n_inputs, n_outputs, k=8, n_layers=2, n_units=256,
                 dropout=0.1, activation="relu"):
        super().__init__()
        check_activation(activation)
        if int(k) < 1:
            raise ValueError(f"k must be a positive integer; got {k!r}.")
        self.k = int(k)
        layers = []
        width = int(n_inputs)
        for i in range(int(n_layers)):
            layers.append(LinearBatchEnsemble(width, int(n_units), self.k,
                                              random_signs=i == 0))
            layers.append(make_activation(activation, int(n_units)))
            if dropout > 0:
                layers.append(nn.Dropout(float(dropout)))
            width = int(n_units)
        self.layers = nn.Sequential(*layers)
        self.head = LinearHeads(width, n_outputs, self.k)

    def forward_members(self, X):
        """Compute every member's outputs.

        Parameters
        ----------
        X : torch.Tensor of shape (n_samples, n_inputs)
            Featurized rows, broadcast to the ``k`` members.

        Returns
        -------
        torch.Tensor of shape (n_samples, k, n_outputs)
            Each member's logits (classifier) or standardized values
            (regressor).
        """
        x = X.unsqueeze(1).expand(-1, self.k, -1)
        return self.head(self.layers(x))

    def forward(self, X):
        """Compute the mean of the members' outputs.

        Parameters
        ----------
        X : torch.Tensor of shape (n_samples, n_inputs)
            Featurized rows.

        Returns
        -------
        torch.Tensor of shape (n_samples, n_outputs)
            The members' mean logits (classifier) or values (regressor).
        """
        return self.forward_members(X).mean(dim=1)


def space(task):
    """The ensemble MLP's own hyperparameters (architecture search dimensions).

    Parameters
    ----------
    task : skautodl.data.validation.TaskInfo
        The task being searched.

    Returns
    -------
    dict
        The skopt dimensions keyed by skorch parameter names; the same for
        every task.
    """
    return {
        "module__k": Categorical([4, 8, 16, 32]),
        "module__n_layers": Integer(1, 3),
        "module__n_units": Categorical([128, 256, 512]),
        "module__dropout": Real(0.0, 0.5),
        "module__activation": Categorical(sorted(ACTIVATIONS)),
    }


#: the values the ensemble MLP's own numeric parameters may take
BOUNDS = {
    "module__k": Bound(1, integer=True),
    "module__n_layers": Bound(1, integer=True),
    "module__n_units": Bound(1, integer=True),
    "module__dropout": Bound(0, 1, high_open=True),
}

#: the coarse grid ``search="grid"`` runs on the default space (each list
#: holds the default, so the grid starts at the family's default config)
GRID = {
    "module__k": [4, 8],
    "module__n_layers": [1, 2, 3],
    "module__n_units": [256, 512],
}

#: values the ensemble MLP's space starts from
DEFAULTS = {
    "module__k": 8,
    "module__n_layers": 2,
    "module__n_units": 256,
    "module__dropout": 0.1,
    "module__activation": "relu",
}
