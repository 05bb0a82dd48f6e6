"""Tests of skautodl/networks/mlp.py: the MLP module, its space and defaults."""

import pytest
import torch
from skopt.space import Categorical, Dimension
from torch import nn

from skautodl.data.validation import TaskInfo
from skautodl.networks.mlp import (
    ACTIVATIONS,
    DEFAULTS,
    MLP,
    NORMS,
    ParametricActivation,
    applies,
    make_activation,
    space,
)


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_output_shape_for_each_norm_and_activation(norm, activation):
    net = MLP(n_inputs=7, n_outputs=3, n_layers=2, n_units=16, norm=norm,
              activation=activation)
    out = net(torch.randn(5, 7))
    assert out.shape == (5, 3)
    assert torch.isfinite(out).all()
    kinds = [type(m) for m in net.layers]
    assert kinds.count(ACTIVATIONS[activation]) == 2
    assert (nn.BatchNorm1d in kinds) == (norm == "batch")
    assert (nn.LayerNorm in kinds) == (norm == "layer")


def test_zero_layers_is_a_linear_model():
    net = MLP(n_inputs=4, n_outputs=2, n_layers=0)
    assert len(net.layers) == 1
    assert isinstance(net.layers[0], nn.Linear)
    assert net.layers[0].in_features == 4 and net.layers[0].out_features == 2
    assert net(torch.randn(3, 4)).shape == (3, 2)


def test_widths_and_depth():
    net = MLP(n_inputs=5, n_outputs=1, n_layers=3, n_units=8, dropout=0.0)
    linears = [m for m in net.layers if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (5, 8), (8, 8), (8, 8), (8, 1)]
    # dropout=0 adds no Dropout layer
    assert not any(isinstance(m, nn.Dropout) for m in net.layers)


def test_dropout_layers_with_probability():
    net = MLP(n_inputs=5, n_outputs=1, n_layers=2, n_units=8, dropout=0.25)
    drops = [m for m in net.layers if isinstance(m, nn.Dropout)]
    assert len(drops) == 2 and all(d.p == 0.25 for d in drops)


def test_numpy_scalar_settings_are_accepted():
    import numpy as np

    net = MLP(n_inputs=3, n_outputs=2, n_layers=np.int64(1), n_units=np.int64(4),
              dropout=np.float64(0.1))
    assert net(torch.randn(2, 3)).shape == (2, 2)


def test_batch_norm_trains_on_a_batch():
    net = MLP(n_inputs=3, n_outputs=1, n_layers=1, n_units=4, norm="batch")
    net.train()
    loss = net(torch.randn(8, 3)).pow(2).mean()
    loss.backward()
    assert net.layers[0].weight.grad is not None


def test_bad_norm_raises():
    with pytest.raises(ValueError, match="norm must be one of.*'bogus'"):
        MLP(n_inputs=3, n_outputs=1, norm="bogus")


def test_bad_activation_raises():
    with pytest.raises(ValueError, match="activation must be one of.*'tanhh'"):
        MLP(n_inputs=3, n_outputs=1, activation="tanhh")


@pytest.mark.parametrize("name, base", [("pselu", torch.nn.functional.selu),
                                        ("pmish", torch.nn.functional.mish)])
def test_parametric_activation_starts_as_its_base_and_learns_alpha(name, base):
    act = make_activation(name, 5)
    assert isinstance(act, ParametricActivation)
    assert act.alpha.shape == (5,)
    x = torch.randn(4, 5)
    torch.testing.assert_close(act(x), base(x))
    with torch.no_grad():
        act.alpha[:2] = 0.0  # alpha 0: the identity on those units
    torch.testing.assert_close(act(x)[:, :2], x[:, :2])
    act(x).sum().backward()
    assert act.alpha.grad is not None and torch.isfinite(act.alpha.grad).all()


def test_mlp_gives_each_parametric_layer_one_alpha_per_unit():
    net = MLP(n_inputs=3, n_outputs=1, n_layers=2, n_units=8, activation="pmish")
    acts = [m for m in net.layers if isinstance(m, ParametricActivation)]
    assert [a.alpha.shape for a in acts] == [(8,), (8,)]
    # a layer built without a width shares one alpha
    assert make_activation("pselu").alpha.shape == (1,)
    assert type(make_activation("relu")) is nn.ReLU


def test_parametric_activations_are_searched():
    dim = space(TaskInfo("binary", 2))["module__activation"]
    assert {"pselu", "pmish"} <= set(dim.categories)


def test_space_and_defaults_agree():
    task = TaskInfo("binary", 2)
    dims = space(task)
    assert set(dims) == set(DEFAULTS)
    assert all(name.startswith("module__") for name in dims)
    for name, dim in dims.items():
        assert isinstance(dim, Dimension)
        assert DEFAULTS[name] in dim, name
    assert isinstance(dims["module__norm"], Categorical)
    assert set(dims["module__norm"].categories) == set(NORMS)


def test_defaults_build_a_working_module():
    kwargs = {k[len("module__"):]: v for k, v in DEFAULTS.items()}
    net = MLP(n_inputs=6, n_outputs=4, **kwargs)
    assert net(torch.randn(2, 6)).shape == (2, 4)


def test_applies_to_tabular_only():
    assert applies(TaskInfo("regression", 1, input_kind="tabular"))
    assert not applies(TaskInfo("regression", 1, input_kind="image"))
