"""The tabular ResNet family (Gorishniy et al., 2021).

Reference: Y. Gorishniy, I. Rubachev, V. Khrulkov, A. Babenko, "Revisiting
Deep Learning Models for Tabular Data", NeurIPS 2021.
"""

from __future__ import annotations

from skopt.space import Categorical, Integer, Real
from torch import nn

from skautodl.networks.mlp import ACTIVATIONS
from skautodl.networks.mlp import applies as applies  # every tabular task
from skautodl.search.space import Bound

NORMS = ("batch", "layer")


def _norm(kind, width):
    return nn.BatchNorm1d(width) if kind == "batch" else nn.LayerNorm(width)


class ResidualBlock(nn.Module):
    """One pre-norm residual block of the tabular ResNet.

    Computes ``x + Dropout2(Linear1(Dropout1(Act(Linear0(Norm(x))))))``.

    Parameters
    ----------
    d_main : int
        Width of the residual stream.
    d_hidden : int
        Width inside the block.
    dropout_first : float
        Dropout probability after the activation (hidden dropout).
    dropout_second : float
        Dropout probability on the block's output before it is added to the
        residual stream (residual dropout).
    norm : {"batch", "layer"}
        Normalization at the start of the block.
    activation : {"relu", "gelu", "silu", "pselu", "pmish"}
        The activation between the two linear layers.
    """

    def __init__(self, d_main, d_hidden, dropout_first, dropout_second, norm,
                 activation):
        super().__init__()
        self.norm = _norm(norm, d_main)
        self.linear0 = nn.Linear(d_main, d_hidden)
        self.activation = ACTIVATIONS[activation]()
        self.dropout0 = nn.Dropout(float(dropout_first))
        self.linear1 = nn.Linear(d_hidden, d_main)
        self.dropout1 = nn.Dropout(float(dropout_second))

    def forward(self, x):
        """Add the block's output to the residual stream.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, d_main)
            The residual stream.

        Returns
        -------
        torch.Tensor of shape (n_samples, d_main)
            ``x`` plus the block's output.
        """
        z = self.norm(x)
        z = self.dropout0(self.activation(self.linear0(z)))
        z = self.dropout1(self.linear1(z))
        return x + z


class ResNet(nn.Module):
    """Tabular ResNet: input projection, pre-norm residual blocks, linear head.

    As in Gorishniy et al. (2021)::

        x = Linear(n_inputs, d_main)(x)
        for each block:
            x = x + Dropout(Linear(Dropout(Act(Linear(Norm(x))))))
        out = Linear(d_main, n_outputs)(Act(Norm(x)))

    with hidden width ``int(d_main * d_hidden_factor)`` inside each block.

    Parameters
    ----------
    n_inputs : int
        Width of the featurized input.
    n_outputs : int
        Classes (logits) or regression targets.
    n_blocks : int, default=2
        Residual blocks (0 gives input projection and head only).
    d_main : int, default=128
        Width of the residual stream.
    d_hidden_factor : float, default=2.0
        Hidden width of each block relative to ``d_main``.
    dropout_first : float, default=0.2
        Dropout probability after each block's activation.
    dropout_second : float, default=0.0
        Dropout probability on each block's output (residual dropout).
    norm : {"batch", "layer"}, default="batch"
        Normalization at the start of each block and in the head.
    activation : {"relu", "gelu", "silu", "pselu", "pmish"}, default="relu"
        The parametric ones (:class:`~skautodl.networks.mlp.ParametricActivation`)
        learn one ``alpha`` per layer here, shared by its units.

    Raises
    ------
    ValueError
        For an unknown ``norm`` or ``activation``.

    Examples
    --------
    >>> import torch
    >>> from skautodl.networks.resnet import ResNet
    >>> net = ResNet(n_inputs=10, n_outputs=1, n_blocks=2, d_main=32)
    >>> net(torch.zeros(4, 10)).shape
    torch.Size([4, 1])
    """

    def __init__(self, n_inputs, n_outputs, n_blocks=2, d_main=128,
                 d_hidden_factor=2.0, dropout_first=0.2, dropout_second=0.0,
                 norm="batch", activation="relu"):
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}; got {norm!r}.")
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(ACTIVATIONS)}; got {activation!r}."
            )
        d_main = int(d_main)
        d_hidden = max(1, int(d_main * float(d_hidden_factor)))
        self.first_layer = nn.Linear(n_inputs, d_main)
        self.blocks = nn.Sequential(*[
            ResidualBlock(d_main, d_hidden, dropout_first, dropout_second, norm,
                          activation)
            for _ in range(int(n_blocks))
        ])
        self.head = nn.Sequential(
            _norm(norm, d_main),
            ACTIVATIONS[activation](),
            nn.Linear(d_main, n_outputs),
        )

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
        return self.head(self.blocks(self.first_layer(X)))


def space(task):
    """The ResNet's own hyperparameters (architecture search dimensions).

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
        "module__n_blocks": Integer(1, 4),
        "module__d_main": Categorical([64, 128, 256]),
        "module__d_hidden_factor": Real(1.0, 4.0),
        "module__dropout_first": Real(0.0, 0.5),
        "module__dropout_second": Real(0.0, 0.3),
        "module__norm": Categorical(list(NORMS)),
        "module__activation": Categorical(sorted(ACTIVATIONS)),
    }


#: the values the ResNet's own numeric parameters may take
BOUNDS = {
    "module__n_blocks": Bound(0, integer=True),
    "module__d_main": Bound(1, integer=True),
    "module__d_hidden_factor": Bound(0, low_open=True),
    "module__dropout_first": Bound(0, 1, high_open=True),
    "module__dropout_second": Bound(0, 1, high_open=True),
}

#: the coarse grid ``search="grid"`` runs on the default space (each list
#: holds the default, so the grid starts at the family's default config)
GRID = {
    "module__n_blocks": [1, 2, 3],
    "module__d_main": [128, 256],
    "module__dropout_first": [0.0, 0.2],
}

#: values the ResNet's space starts from (close to the paper's tuned ranges)
DEFAULTS = {
    "module__n_blocks": 2,
    "module__d_main": 128,
    "module__d_hidden_factor": 2.0,
    "module__dropout_first": 0.2,
    "module__dropout_second": 0.0,
    "module__norm": "batch",
    "module__activation": "relu",
}
