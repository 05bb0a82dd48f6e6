"""Tests of skautodl/networks/embed.py: numeric and categorical embeddings,
the trunks, the space and defaults, and the featurizer's "codes" layout."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
from skopt.space import Dimension
from torch import nn

from skautodl.data.featurize import TabularFeaturizer
from skautodl.data.validation import TaskInfo
from skautodl.networks.embed import (
    DEFAULTS,
    NUMERIC_EMBEDDINGS,
    TRUNKS,
    EmbedNet,
    PBLDEmbedding,
    PeriodicEmbedding,
    PiecewiseLinearEmbedding,
    applies,
    embedding_dim,
    space,
)
from skautodl.networks.mlp import MLP
from skautodl.networks.resnet import ResNet


@pytest.fixture
def one_thread():
    """Tiny matrices train much faster on one thread than on two busy ones."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


BINS = [[-2.0, -1.0, 0.0, 1.0, 2.0], [-1.0, 1.0], [0.0, 0.5, 1.0]]


def _layout_input(n=6, cardinalities=(3, 7)):
    """3 numeric, 2 binary, then one code column per cardinality."""
    g = torch.Generator().manual_seed(0)
    numeric = torch.randn(n, 3, generator=g)
    binary = torch.randint(0, 2, (n, 2), generator=g).float()
    codes = torch.stack([torch.randint(0, c, (n,), generator=g).float()
                         for c in cardinalities], dim=1)
    return torch.cat([numeric, binary, codes], dim=1)


@pytest.mark.parametrize("numeric_embedding", NUMERIC_EMBEDDINGS)
@pytest.mark.parametrize("trunk", TRUNKS)
def test_shapes_with_codes_and_binary(numeric_embedding, trunk):
    net = EmbedNet(7, 3, n_numeric=3, n_binary=2, cardinalities=[3, 7], bins=BINS,
                   numeric_embedding=numeric_embedding, d_embedding=8, trunk=trunk,
                   n_layers=1, n_units=16)
    out = net(_layout_input())
    assert out.shape == (6, 3)
    assert torch.isfinite(out).all()
    d_numeric = 3 if numeric_embedding == "none" else 3 * 8
    d_codes = embedding_dim(3) + embedding_dim(7)
    assert net.n_features_embedded == d_numeric + 2 + d_codes
    assert net.embed(_layout_input()).shape == (6, net.n_features_embedded)
    assert isinstance(net.trunk, MLP if trunk == "mlp" else ResNet)


@pytest.mark.parametrize("numeric_embedding", ["none", "linear", "periodic", "pbld"])
@pytest.mark.parametrize("trunk", TRUNKS)
def test_plain_matrix_without_layout(numeric_embedding, trunk):
    """n_numeric=None: every column numeric, as for a one-hot featurized matrix."""
    net = EmbedNet(5, 2, numeric_embedding=numeric_embedding, d_embedding=4,
                   trunk=trunk, n_layers=1, n_units=8)
    assert net.n_numeric == 5 and net.n_binary == 0
    assert net(torch.randn(4, 5)).shape == (4, 2)


def test_pwl_on_a_plain_matrix_with_bins():
    net = EmbedNet(3, 1, bins=BINS, numeric_embedding="pwl", d_embedding=4,
                   n_layers=1, n_units=8)
    assert net(torch.randn(4, 3)).shape == (4, 1)


def test_only_codes_and_only_binary():
    codes_only = EmbedNet(2, 2, n_numeric=0, cardinalities=[4, 40], n_layers=1,
                          n_units=8)
    assert codes_only(torch.tensor([[1.0, 39.0], [0.0, 2.0]])).shape == (2, 2)
    binary_only = EmbedNet(3, 1, n_numeric=0, n_binary=3, numeric_embedding="pwl",
                           bins=[], n_layers=1, n_units=8)
    assert binary_only.n_features_embedded == 3
    assert binary_only(torch.ones(2, 3)).shape == (2, 1)


@pytest.mark.parametrize("numeric_embedding", NUMERIC_EMBEDDINGS)
@pytest.mark.parametrize("trunk", TRUNKS)
def test_float64_and_batch_of_one_in_eval(numeric_embedding, trunk):
    """The estimators predict with the module cast to float64, row by row too."""
    net = EmbedNet(7, 2, n_numeric=3, n_binary=2, cardinalities=[3, 7], bins=BINS,
                   numeric_embedding=numeric_embedding, d_embedding=4, trunk=trunk,
                   n_layers=1, n_units=8, norm="batch").double().eval()
    X = _layout_input(n=1).double()
    out = net(X)
    assert out.dtype == torch.float64 and out.shape == (1, 2)
    assert torch.isfinite(out).all()


def test_unknown_nan_and_negative_codes_are_clamped():
    net = EmbedNet(3, 2, n_numeric=1, cardinalities=[3, 5], n_layers=1, n_units=8,
                   dropout=0.0).eval()
    X = torch.tensor([[0.3, 2.0, 4.0], [0.3, 99.0, 1e30],
                      [0.3, float("nan"), -3.0], [0.3, 0.0, 0.0]])
    out = net(X)
    assert torch.isfinite(out).all()
    # too large -> the last code; NaN and negative -> code 0
    torch.testing.assert_close(out[1], out[0])
    torch.testing.assert_close(out[2], out[3])
    # codes arrive as floats: 1.9999 rounds to 2
    X2 = torch.tensor([[0.3, 1.9999, 3.0001], [0.3, 2.0, 3.0]])
    out2 = net(X2)
    torch.testing.assert_close(out2[0], out2[1])


def test_embedding_widths_follow_fastai():
    assert [embedding_dim(c) for c in (2, 3, 10, 100, 10_000)] == [
        2, 3, 6, 21, 32]
    net = EmbedNet(2, 1, n_numeric=0, cardinalities=[10, 10_000])
    assert [e.embedding_dim for e in net.categorical] == [6, 32]
    assert [e.num_embeddings for e in net.categorical] == [10, 10_000]


def test_gradient_flows_to_frequencies_and_embeddings():
    net = EmbedNet(7, 1, n_numeric=3, n_binary=2, cardinalities=[3, 7],
                   n_layers=1, n_units=8, dropout=0.0)
    assert isinstance(net.numeric, PeriodicEmbedding)
    assert net.numeric.frequencies.shape == (3, 16)
    net(_layout_input(n=16)).pow(2).mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert net.numeric.frequencies.grad.abs().sum() > 0
    assert all(e.weight.grad.abs().sum() > 0 for e in net.categorical)


def test_initial_frequencies_have_the_given_scale():
    emb = PeriodicEmbedding(50, 4, 40, frequency_scale=0.5)
    assert emb.frequencies.std().item() == pytest.approx(0.5, rel=0.1)


def test_piecewise_linear_encoding_values():
    emb = PiecewiseLinearEmbedding([[0.0, 1.0, 3.0], [0.0, 2.0]], d_embedding=2)
    x = torch.tensor([[-1.0, 1.0], [0.5, 3.0], [2.0, -2.0], [5.0, 0.0]])
    enc = emb.encode(x)
    assert enc.shape == (4, 2, 2)
    expected_first = torch.tensor([
        [-1.0, 0.0],   # below the first edge: the first bin extrapolates
        [0.5, 0.0],
        [1.0, 0.5],
        [1.0, 2.0],    # above the last edge: the last bin extrapolates
    ])
    torch.testing.assert_close(enc[:, 0], expected_first)
    # one bin only: linear on both sides; the padded component stays 0
    torch.testing.assert_close(enc[:, 1, 0], torch.tensor([0.5, 1.5, -1.0, 0.0]))
    assert (enc[:, 1, 1] == 0).all()


@pytest.mark.parametrize("kwargs, match", [
    ({"numeric_embedding": "pwl"}, "needs bins"),
    ({"numeric_embedding": "pwl", "bins": [[0.0, 1.0]]}, "one list of edges per"),
    ({"numeric_embedding": "pwl", "bins": [[0.0]] * 3}, "at least 2 strictly"),
    ({"numeric_embedding": "pwl", "bins": [[0.0, 1.0], [1.0, 1.0], [0.0, 1.0]]},
     "strictly increasing"),
    ({"numeric_embedding": "fourier"}, "numeric_embedding must be one of"),
    ({"numeric_embedding": "pbld", "d_embedding": 1}, "needs d_embedding >= 2"),
    ({"trunk": "transformer"}, "trunk must be one of"),
    ({"norm": "group"}, "norm must be one of"),
    ({"activation": "tanh"}, "activation must be one of"),
    ({"n_numeric": 2}, "does not match n_inputs=3"),
    ({"n_numeric": 1, "n_binary": 1, "cardinalities": [0]}, "cardinalities"),
])
def test_bad_settings_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EmbedNet(3, 1, **kwargs)


def test_pbld_keeps_the_raw_value_and_adds_a_linear_periodic_part():
    torch.manual_seed(0)
    emb = PBLDEmbedding(3, 4, n_frequencies=16, frequency_scale=0.1)
    assert emb.frequencies.shape == (3, 16) and emb.phases.shape == (3, 16)
    assert (emb.phases.abs() <= math.pi).all()
    x = torch.randn(5, 3)
    out = emb(x)
    assert out.shape == (5, 3, 4)
    torch.testing.assert_close(out[..., 0], x)  # the "densenet" part
    # no activation after the linear map: negative values pass
    assert (out[..., 1:] < 0).any()
    # the learned part is a linear map of cos(2 pi c x + b)
    v = torch.cos(2 * math.pi * emb.frequencies * x[..., None] + emb.phases)
    torch.testing.assert_close(out[..., 1:], emb.linear(v))
    out.sum().backward()
    assert emb.frequencies.grad is not None and emb.phases.grad is not None


def test_pbld_in_the_net_and_the_space():
    net = EmbedNet(3, 2, n_numeric=2, n_binary=1, numeric_embedding="pbld",
                   d_embedding=4)
    assert isinstance(net.numeric, PBLDEmbedding)
    assert net.n_features_embedded == 2 * 4 + 1
    assert net(torch.randn(6, 3)).shape == (6, 2)
    dims = space(TaskInfo("binary", 2))
    assert "pbld" in dims["module__numeric_embedding"].categories
    assert 4 in dims["module__d_embedding"].categories


def test_resnet_trunk_maps_the_settings():
    net = EmbedNet(4, 2, numeric_embedding="none", trunk="resnet", n_layers=3,
                   n_units=32, dropout=0.2, norm="layer")
    assert len(net.trunk.blocks) == 3
    assert net.trunk.first_layer.in_features == 4
    assert net.trunk.first_layer.out_features == 32
    assert isinstance(net.trunk.blocks[0].norm, nn.LayerNorm)
    assert net.trunk.blocks[0].dropout0.p == 0.2
    # the ResNet always normalizes: "none" becomes batch norm
    plain = EmbedNet(4, 2, trunk="resnet", norm="none")
    assert isinstance(plain.trunk.blocks[0].norm, nn.BatchNorm1d)


def test_numpy_scalar_settings_are_accepted():
    net = EmbedNet(3, 2, n_numeric=np.int64(2), n_binary=np.int64(1),
                   d_embedding=np.int64(4), n_frequencies=np.int64(8),
                   frequency_scale=np.float64(0.2), n_layers=np.int64(1),
                   n_units=np.int64(8), dropout=np.float64(0.1))
    assert net(torch.randn(2, 3)).shape == (2, 2)


@pytest.mark.parametrize("numeric_embedding", ["periodic", "pwl"])
@pytest.mark.usefixtures("one_thread")
def test_learns_a_periodic_target_better_than_linear(numeric_embedding):
    x = torch.linspace(-2, 2, 256)[:, None]
    y = torch.sin(3 * x)
    edges = torch.quantile(x[:, 0], torch.linspace(0, 1, 17)).tolist()
    net = EmbedNet(1, 1, bins=[edges], numeric_embedding=numeric_embedding,
                   d_embedding=16, frequency_scale=0.5, n_layers=1, n_units=32,
                   dropout=0.0)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(300):
        opt.zero_grad()
        loss = (net(x) - y).pow(2).mean()
        loss.backward()
        opt.step()
    # the best linear fit of sin(3x) on [-2, 2] leaves most of its variance
    A = torch.cat([x, torch.ones_like(x)], dim=1)
    coef = torch.linalg.lstsq(A, y).solution
    linear_mse = (A @ coef - y).pow(2).mean().item()
    net.eval()
    with torch.no_grad():
        mse = (net(x) - y).pow(2).mean().item()
    # a plain MLP of this size leaves about 10-20% of the linear error after
    # these steps; the embeddings bring it to well under 1%
    assert mse < 0.02 * linear_mse


def test_space_and_defaults_agree():
    dims = space(TaskInfo("binary", 2))
    # mixup is fixed off for this family (it would blend categorical codes)
    assert dims.pop("augment__mixup_alpha") == 0.0
    assert set(dims) == set(DEFAULTS)
    assert all(name.startswith("module__") for name in dims)
    for name, dim in dims.items():
        assert isinstance(dim, Dimension)
        assert DEFAULTS[name] in dim, name
    assert set(dims["module__numeric_embedding"].categories) == {
        "none", "periodic", "pbld", "pwl"}
    assert set(dims["module__trunk"].categories) == set(TRUNKS)
    assert dims["module__frequency_scale"].prior == "log-uniform"
    assert DEFAULTS["module__numeric_embedding"] == "periodic"
    assert DEFAULTS["module__trunk"] == "mlp"
    # the layout comes from the data: never searched
    assert not {"module__n_numeric", "module__n_binary", "module__cardinalities",
                "module__bins"} & set(dims)


def test_defaults_build_a_working_module():
    kwargs = {k[len("module__"):]: v for k, v in DEFAULTS.items()}
    net = EmbedNet(6, 4, **kwargs)
    assert net(torch.randn(2, 6)).shape == (2, 4)


def test_applies_to_tabular_only():
    assert applies(TaskInfo("regression", 1))
    assert not applies(TaskInfo("regression", 1, input_kind="image",
                                image_shape=(1, 4, 4)))


@pytest.mark.parametrize("numeric_embedding", NUMERIC_EMBEDDINGS)
def test_runs_on_the_featurizer_codes_layout(mixed_frame, numeric_embedding):
    X, _ = mixed_frame
    X = X.assign(many=pd.Categorical([f"l{i % 9}" for i in range(len(X))]))
    feat = TabularFeaturizer(numeric_scaling="robust", categorical_encoding="codes")
    Xt = feat.fit_transform(X)
    params = feat.module_params_
    assert params["cardinalities"]  # "many" has 9 levels > max_onehot
    net = EmbedNet(Xt.shape[1], 2, numeric_embedding=numeric_embedding,
                   n_layers=1, n_units=8, **params)
    out = net(torch.from_numpy(Xt))
    assert out.shape == (len(X), 2) and torch.isfinite(out).all()
    # unseen levels at transform map to code 0 and still run
    new = X.assign(many=pd.Categorical(["never"] * len(X)))
    assert torch.isfinite(net(torch.from_numpy(feat.transform(new)))).all()
    assert math.isfinite(net.double()(torch.from_numpy(Xt).double()).sum().item())
