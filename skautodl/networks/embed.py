"""The ``embed`` family: feature embeddings in front of an MLP or ResNet trunk.

Numeric columns get per-feature embeddings (periodic or piecewise-linear),
categorical code columns get learned embeddings, and binary columns pass
through; the flattened result feeds an :class:`~skautodl.networks.mlp.MLP` or
a :class:`~skautodl.networks.resnet.ResNet`.

The column layout comes from :class:`~skautodl.data.featurize.TabularFeaturizer`
with ``categorical_encoding="codes"`` (its ``module_params_``)::

    [n_numeric numeric columns][n_binary 0/1 columns][one code per code column]

References: Y. Gorishniy, I. Rubachev, A. Babenko, "On Embeddings for
Numerical Features in Tabular Deep Learning", NeurIPS 2022 (PLR and PLE
embeddings); J. Howard, S. Gugger, "fastai: A Layered API for Deep
Learning", 2020 (embedding sizes).
"""

from __future__ import annotations

import math

import torch
from skopt.space import Categorical, Real
from torch import nn

from skautodl.networks import mlp
from skautodl.networks.ensemble_mlp import LinearHeads  # one linear map per feature
from skautodl.networks.mlp import MLP, check_activation
from skautodl.networks.mlp import NORMS as NORMS  # the trunk's norms
from skautodl.networks.mlp import applies as applies  # every tabular task
from skautodl.networks.resnet import ResNet
from skautodl.search.space import Bound

NUMERIC_EMBEDDINGS = ("none", "linear", "periodic", "pbld", "pwl")
TRUNKS = ("mlp", "resnet")


def embedding_dim(cardinality):
    """Return fastai's embedding width for a categorical column.

    ``max(1, min(32, round(1.6 * cardinality ** 0.56)))``.

    Parameters
    ----------
    cardinality : int
        Number of codes (levels plus the unknown code 0).

    Returns
    -------
    int
        The width of the column's ``nn.Embedding``.

    Examples
    --------
    >>> from skautodl.networks.embed import embedding_dim
    >>> embedding_dim(2), embedding_dim(10), embedding_dim(100000)
    (2, 6, 32)
    """
    return max(1, min(32, round(1.6 * int(cardinality) ** 0.56)))


class PeriodicEmbedding(nn.Module):
    """PLR embedding of numeric features (Gorishniy et al., 2022).

    Feature ``j`` with value ``x`` becomes
    ``ReLU(Linear_j([sin(2 pi c_j x), cos(2 pi c_j x)]))`` with ``k``
    trainable frequencies ``c_j`` drawn from ``N(0, frequency_scale)``.

    Parameters
    ----------
    n_features : int
        Numeric features embedded.
    d_embedding : int
        Width of each feature's embedding.
    n_frequencies : int
        Frequencies ``k`` per feature.
    frequency_scale : float
        Standard deviation of the initial frequencies.
    """

    def __init__(self, n_features, d_embedding, n_frequencies, frequency_scale):
        super().__init__()
        self.frequencies = nn.Parameter(
            torch.randn(n_features, n_frequencies) * float(frequency_scale))
        self.linear = LinearHeads(2 * n_frequencies, d_embedding, k=n_features)

    def forward(self, x):
        """Embed each numeric feature.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, n_features)
            The numeric features.

        Returns
        -------
        torch.Tensor of shape (n_samples, n_features, d_embedding)
            One embedding per feature.
        """
        v = 2 * math.pi * self.frequencies * x[..., None]
        return torch.relu(self.linear(torch.cat([torch.sin(v), torch.cos(v)], -1)))


class PBLDEmbedding(nn.Module):
    """PBLD embedding of numeric features (RealMLP-TD's).

    Holzmueller et al., NeurIPS 2024: periodic with a bias, linear,
    "densenet". Feature ``j`` with value ``x`` becomes
    ``[x, Linear_j(cos(2 pi c_j x + b_j))]``: ``k`` trainable frequencies
    ``c_j`` drawn from ``N(0, frequency_scale)`` and phases ``b_j`` from
    ``U(-pi, pi)``, a per-feature linear map (no activation) to
    ``d_embedding - 1`` values, and the raw value kept as the first one.

    Parameters
    ----------
    n_features : int
        Numeric features embedded.
    d_embedding : int
        Width of each feature's embedding, at least 2 (the raw value and one
        learned component).
    n_frequencies : int
        Frequencies ``k`` per feature.
    frequency_scale : float
        Standard deviation of the initial frequencies.

    Raises
    ------
    ValueError
        If ``d_embedding`` is below 2.
    """

    def __init__(self, n_features, d_embedding, n_frequencies, frequency_scale):
        super().__init__()
        if int(d_embedding) < 2:
            raise ValueError(
                'numeric_embedding="pbld" needs d_embedding >= 2 (the raw value '
                f"and at least one learned component); got {d_embedding!r}."
            )
        self.frequencies = nn.Parameter(
            torch.randn(n_features, n_frequencies) * float(frequency_scale))
        self.phases = nn.Parameter(
            (torch.rand(n_features, n_frequencies) * 2 - 1) * math.pi)
        self.linear = LinearHeads(n_frequencies, int(d_embedding) - 1,
                                  k=n_features)

    def forward(self, x):
        """Embed each numeric feature.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, n_features)
            The numeric features.

        Returns
        -------
        torch.Tensor of shape (n_samples, n_features, d_embedding)
            One embedding per feature.
        """
        v = torch.cos(2 * math.pi * self.frequencies * x[..., None] + self.phases)
        return torch.cat([x[..., None], self.linear(v)], -1)


class LinearEmbedding(nn.Module):
    """LR embedding: ``ReLU(w_j x + b_j)`` per numeric feature.

    Parameters
    ----------
    n_features : int
        Numeric features embedded.
    d_embedding : int
        Width of each feature's embedding.
    """

    def __init__(self, n_features, d_embedding):
        super().__init__()
        self.linear = LinearHeads(1, d_embedding, k=n_features)

    def forward(self, x):
        """Embed each numeric feature.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, n_features)
            The numeric features.

        Returns
        -------
        torch.Tensor of shape (n_samples, n_features, d_embedding)
            One embedding per feature.
        """
        return torch.relu(self.linear(x[..., None]))


class PiecewiseLinearEmbedding(nn.Module):
    """PLE embedding of numeric features (Gorishniy et al., 2022).

    With edges ``b_0 < ... < b_T`` of feature ``j``, component ``t`` of its
    encoding is ``(x - b_{t-1}) / (b_t - b_{t-1})`` clipped to ``[0, 1]``,
    except that the first bin is not clipped below and the last bin not above
    (values outside the training range extrapolate linearly). Features with
    fewer bins are padded with zero components. A per-feature linear map and
    a ReLU follow.

    Parameters
    ----------
    bins : sequence of sequence of float
        Sorted edges (at least 2) per feature.
    d_embedding : int
        Width of each feature's embedding.
    """

    def __init__(self, bins, d_embedding):
        super().__init__()
        n_features = len(bins)
        n_bins = max((len(b) - 1 for b in bins), default=1)
        left = torch.zeros(n_features, n_bins)
        width = torch.ones(n_features, n_bins)
        low = torch.zeros(n_features, n_bins)
        high = torch.ones(n_features, n_bins)
        mask = torch.zeros(n_features, n_bins)
        for j, edges in enumerate(bins):
            edges = torch.as_tensor([float(e) for e in edges])
            t = len(edges) - 1
            left[j, :t] = edges[:-1]
            width[j, :t] = edges[1:] - edges[:-1]
            low[j, 0] = -math.inf
            high[j, t - 1] = math.inf
            mask[j, :t] = 1.0
        self.register_buffer("left", left)
        self.register_buffer("width", width)
        self.register_buffer("low", low)
        self.register_buffer("high", high)
        self.register_buffer("mask", mask)
        self.linear = LinearHeads(n_bins, d_embedding, k=n_features)

    def encode(self, x):
        """Compute the piecewise-linear encoding of ``x``.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, n_features)
            The numeric features.

        Returns
        -------
        torch.Tensor of shape (n_samples, n_features, n_bins)
            Each feature's bin components, zero-padded to the most bins.
        """
        r = (x[..., None] - self.left) / self.width
        return torch.minimum(torch.maximum(r, self.low), self.high) * self.mask

    def forward(self, x):
        """Embed each numeric feature.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, n_features)
            The numeric features.

        Returns
        -------
        torch.Tensor of shape (n_samples, n_features, d_embedding)
            One embedding per feature.
        """
        return torch.relu(self.linear(self.encode(x)))


def _check_bins(bins, n_numeric):
    if len(bins) != n_numeric:
        raise ValueError(
            f"bins must hold one list of edges per numeric feature ({n_numeric}); "
            f"got {len(bins)}."
        )
    for j, edges in enumerate(bins):
        edges = [float(e) for e in edges]
        increasing = all(a < b for a, b in zip(edges[:-1], edges[1:], strict=True))
        if len(edges) < 2 or not increasing:
            raise ValueError(
                f"bins[{j}] must be at least 2 strictly increasing edges; "
                f"got {edges!r}."
            )


class EmbedNet(nn.Module):
    """Feature embeddings followed by an MLP or ResNet trunk.

    The input columns are split as ``[n_numeric][n_binary][codes]``. Numeric
    features are embedded one by one (``numeric_embedding``), each code
    column through an ``nn.Embedding`` of width :func:`embedding_dim`; the
    flattened numeric embeddings, the binary columns and the categorical
    embeddings are concatenated and fed to the trunk.

    Parameters
    ----------
    n_inputs : int
        Width of the featurized input.
    n_outputs : int
        Classes (logits) or regression targets.
    n_numeric : int or None, default=None
        Leading numeric columns; ``None`` treats all ``n_inputs`` columns as
        numeric (plain matrices, no binary or code columns).
    n_binary : int, default=0
        0/1 columns after the numeric ones, passed through unchanged.
    cardinalities : sequence of int, default=()
        Number of codes of each trailing code column (codes arrive as floats,
        are rounded and clamped into ``[0, cardinality - 1]``).
    bins : sequence of sequence of float or None, default=None
        Sorted bin edges per numeric column; needed by ``"pwl"``.
    numeric_embedding : {"none", "linear", "periodic", "pbld", "pwl"}, \
default="periodic"
        ``"none"`` keeps the raw value; ``"linear"`` is a per-feature linear
        map and ReLU (LR); ``"periodic"`` the PLR embedding
        (:class:`PeriodicEmbedding`); ``"pbld"`` RealMLP's periodic
        embedding with phases, a linear map and the raw value kept
        (:class:`PBLDEmbedding`, needs ``d_embedding >= 2``); ``"pwl"`` the
        piecewise-linear encoding
        on ``bins`` then a per-feature linear map and ReLU
        (:class:`PiecewiseLinearEmbedding`).
    d_embedding : int, default=16
        Width of each numeric feature's embedding.
    n_frequencies : int, default=16
        Frequencies per feature of ``"periodic"`` and ``"pbld"``.
    frequency_scale : float, default=0.1
        Standard deviation of the initial frequencies of ``"periodic"`` and
        ``"pbld"``.
    trunk : {"mlp", "resnet"}, default="mlp"
        :class:`~skautodl.networks.mlp.MLP` with these ``n_layers``,
        ``n_units``, ``dropout``, ``norm`` and ``activation``, or
        :class:`~skautodl.networks.resnet.ResNet` with ``n_blocks=n_layers``,
        ``d_main=n_units``, ``dropout_first=dropout`` and ``norm`` (``"none"``
        becomes ``"batch"``: the ResNet always normalizes).
    n_layers : int, default=2
        Hidden blocks of the trunk.
    n_units : int, default=256
        Width of the trunk.
    dropout : float, default=0.1
        Dropout probability in the trunk.
    norm : {"none", "batch", "layer"}, default="none"
        Normalization in the trunk.
    activation : {"relu", "gelu", "silu", "pselu", "pmish"}, default="relu"
        Activation of the trunk.

    Attributes
    ----------
    n_features_embedded : int
        Width of the concatenated embeddings (the trunk's input).

    Raises
    ------
    ValueError
        For an unknown ``numeric_embedding``, ``trunk``, ``norm`` or
        ``activation``, a column layout that does not add up to
        ``n_inputs``, or ``"pwl"`` without valid ``bins``.

    Examples
    --------
    >>> import torch
    >>> from skautodl.networks.embed import EmbedNet
    >>> net = EmbedNet(4, 2, n_numeric=2, n_binary=1, cardinalities=[5],
    ...                d_embedding=8)
    >>> net.n_features_embedded  # 2 * 8 + 1 + embedding_dim(5)
    21
    >>> net(torch.tensor([[0.5, -1.0, 1.0, 3.0]])).shape
    torch.Size([1, 2])
    """

    def __init__(self, n_inputs, n_outputs, n_numeric=None, n_binary=0,
                 cardinalities=(), bins=None, numeric_embedding="periodic",
                 d_embedding=16, n_frequencies=16, frequency_scale=0.1, trunk="mlp",
                 n_layers=2, n_units=256, dropout=0.1, norm="none",
                 activation="relu"):
        super().__init__()
        if numeric_embedding not in NUMERIC_EMBEDDINGS:
            raise ValueError(
                f"numeric_embedding must be one of {NUMERIC_EMBEDDINGS}; got "
                f"{numeric_embedding!r}."
            )
        if trunk not in TRUNKS:
            raise ValueError(f"trunk must be one of {TRUNKS}; got {trunk!r}.")
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}; got {norm!r}.")
        check_activation(activation)
        n_inputs = int(n_inputs)
        cardinalities = [int(c) for c in cardinalities]
        n_numeric = n_inputs if n_numeric is None else int(n_numeric)
        n_binary = int(n_binary)
        if n_numeric < 0 or n_binary < 0 or any(c < 1 for c in cardinalities):
            raise ValueError(
                "n_numeric and n_binary must be non-negative and cardinalities "
                f"positive; got n_numeric={n_numeric}, n_binary={n_binary}, "
                f"cardinalities={cardinalities}."
            )
        if n_numeric + n_binary + len(cardinalities) != n_inputs:
            raise ValueError(
                f"The layout n_numeric={n_numeric} + n_binary={n_binary} + "
                f"{len(cardinalities)} code columns does not match "
                f"n_inputs={n_inputs}."
            )
        d = int(d_embedding)
        if numeric_embedding == "pwl":
            if bins is None:
                raise ValueError(
                    'numeric_embedding="pwl" needs bins (sorted edges per numeric '
                    "feature), which TabularFeaturizer(categorical_encoding="
                    '"codes") provides in module_params_["bins"]; got bins=None.'
                )
            _check_bins(bins, n_numeric)
        self.n_numeric = n_numeric
        self.n_binary = n_binary
        self.numeric_embedding = numeric_embedding
        if n_numeric == 0 or numeric_embedding == "none":
            self.numeric = None
            width = n_numeric
        elif numeric_embedding == "linear":
            self.numeric = LinearEmbedding(n_numeric, d)
            width = n_numeric * d
        elif numeric_embedding == "periodic":
            self.numeric = PeriodicEmbedding(n_numeric, d, int(n_frequencies),
                                             frequency_scale)
            width = n_numeric * d
        elif numeric_embedding == "pbld":
            self.numeric = PBLDEmbedding(n_numeric, d, int(n_frequencies),
                                         frequency_scale)
            width = n_numeric * d
        else:
            self.numeric = PiecewiseLinearEmbedding(bins, d)
            width = n_numeric * d
        self.categorical = nn.ModuleList(
            nn.Embedding(c, embedding_dim(c)) for c in cardinalities)
        self.register_buffer(
            "max_codes", torch.as_tensor([c - 1 for c in cardinalities],
                                         dtype=torch.long))
        width += n_binary + sum(e.embedding_dim for e in self.categorical)
        self.n_features_embedded = width
        if trunk == "mlp":
            self.trunk = MLP(width, n_outputs, n_layers=n_layers, n_units=n_units,
                             dropout=dropout, norm=norm, activation=activation)
        else:
            self.trunk = ResNet(width, n_outputs, n_blocks=n_layers,
                                d_main=n_units, dropout_first=dropout,
                                norm="batch" if norm == "none" else norm,
                                activation=activation)

    def embed(self, X):
        """Embed the columns: the trunk's input.

        Parameters
        ----------
        X : torch.Tensor of shape (n_samples, n_inputs)
            Featurized rows, laid out as ``[n_numeric][n_binary][codes]``.
            Missing, negative or unknown codes are clamped into range.

        Returns
        -------
        torch.Tensor of shape (n_samples, n_features_embedded)
            The flattened numeric embeddings, the binary columns and the
            categorical embeddings, concatenated.
        """
        n_num, n_bin = self.n_numeric, self.n_binary
        numeric = X[:, :n_num]
        parts = [numeric if self.numeric is None
                 else self.numeric(numeric).flatten(1)]
        if n_bin:
            parts.append(X[:, n_num:n_num + n_bin])
        if len(self.categorical):
            # codes arrive as floats; NaN, negative or unknown (too large)
            # codes must not index out of range: clamp them (as floats, so
            # huge values cannot overflow the cast)
            codes = torch.nan_to_num(X[:, n_num + n_bin:], nan=0.0).clamp(min=0)
            codes = torch.minimum(codes.round(), self.max_codes.to(codes.dtype))
            codes = codes.long()
            parts += [emb(codes[:, i]) for i, emb in enumerate(self.categorical)]
        return torch.cat(parts, dim=1)

    def forward(self, X):
        """Compute the network's outputs.

        Parameters
        ----------
        X : torch.Tensor of shape (n_samples, n_inputs)
            Featurized rows, laid out as ``[n_numeric][n_binary][codes]``.

        Returns
        -------
        torch.Tensor of shape (n_samples, n_outputs)
            Logits (classifier) or standardized values (regressor).
        """
        return self.trunk(self.embed(X))


def space(task):
    """The embed family's own hyperparameters (architecture search dimensions).

    Parameters
    ----------
    task : skautodl.data.validation.TaskInfo
        The task being searched.

    Returns
    -------
    dict
        The skopt dimensions keyed by skorch parameter names, and
        ``augment__mixup_alpha`` fixed to 0: mixup would blend the integer
        codes of the categorical columns into codes of other levels.
    """
    return {
        "augment__mixup_alpha": 0.0,
        "module__numeric_embedding": Categorical(["none", "periodic", "pbld",
                                                  "pwl"]),
        "module__d_embedding": Categorical([4, 8, 16, 32]),
        "module__n_frequencies": Categorical([8, 16, 32]),
        "module__frequency_scale": Real(0.01, 1.0, prior="log-uniform"),
        "module__trunk": Categorical(list(TRUNKS)),
        # the trunk's depth, width, dropout, norm and activation: the MLP's
        **mlp.space(task),
    }


#: the values the embed family's own numeric parameters may take
BOUNDS = {
    **mlp.BOUNDS,
    "module__d_embedding": Bound(1, integer=True),
    "module__n_frequencies": Bound(1, integer=True),
    "module__frequency_scale": Bound(0, low_open=True),
}

#: the coarse grid ``search="grid"`` runs on the default space (each list
#: holds the default, so the grid starts at the family's default config)
GRID = {
    "module__numeric_embedding": ["periodic", "pwl"],
    "module__n_layers": [1, 2],
    "module__n_units": [128, 256],
}

#: values the embed family's space starts from (PLR embeddings, MLP trunk)
DEFAULTS = {
    "module__numeric_embedding": "periodic",
    "module__d_embedding": 16,
    "module__n_frequencies": 16,
    "module__frequency_scale": 0.1,
    "module__trunk": "mlp",
    **mlp.DEFAULTS,
}
