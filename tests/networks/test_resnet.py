"""Tests of skautodl/networks/resnet.py: the ResNet module, its space, defaults
and an end-to-end fit through AutoDLClassifier."""

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from skopt.space import Dimension
from torch import nn

from skautodl import AutoDLClassifier
from skautodl.data.validation import TaskInfo
from skautodl.networks.mlp import ACTIVATIONS
from skautodl.networks.resnet import DEFAULTS, NORMS, ResNet, applies, space


@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_output_shape_for_each_norm_and_activation(n_outputs, norm, activation):
    net = ResNet(n_inputs=7, n_outputs=n_outputs, n_blocks=2, d_main=16,
                 norm=norm, activation=activation)
    out = net(torch.randn(5, 7))
    assert out.shape == (5, n_outputs)
    assert torch.isfinite(out).all()
    kinds = [type(m) for m in net.modules()]
    # one activation per block, one in the head
    assert kinds.count(ACTIVATIONS[activation]) == 3
    norm_cls = nn.BatchNorm1d if norm == "batch" else nn.LayerNorm
    other = nn.LayerNorm if norm == "batch" else nn.BatchNorm1d
    assert kinds.count(norm_cls) == 3 and other not in kinds


def test_architecture_widths():
    net = ResNet(n_inputs=5, n_outputs=2, n_blocks=3, d_main=8, d_hidden_factor=2.5)
    assert (net.first_layer.in_features, net.first_layer.out_features) == (5, 8)
    assert len(net.blocks) == 3
    for block in net.blocks:
        assert (block.linear0.in_features, block.linear0.out_features) == (8, 20)
        assert (block.linear1.in_features, block.linear1.out_features) == (20, 8)
    assert isinstance(net.head[0], nn.BatchNorm1d)
    assert (net.head[-1].in_features, net.head[-1].out_features) == (8, 2)


def test_dropout_probabilities():
    net = ResNet(n_inputs=3, n_outputs=1, n_blocks=1, d_main=4, dropout_first=0.3,
                 dropout_second=0.1)
    block = net.blocks[0]
    assert block.dropout0.p == 0.3 and block.dropout1.p == 0.1


def test_block_is_residual():
    """With the block's last linear layer zeroed, a block is the identity."""
    net = ResNet(n_inputs=4, n_outputs=1, n_blocks=1, d_main=6, norm="layer")
    block = net.blocks[0]
    with torch.no_grad():
        block.linear1.weight.zero_()
        block.linear1.bias.zero_()
    x = torch.randn(3, 6)
    assert torch.equal(block(x), x)


def test_zero_blocks_and_numpy_settings():
    net = ResNet(n_inputs=3, n_outputs=2, n_blocks=np.int64(0), d_main=np.int64(4),
                 d_hidden_factor=np.float64(1.5))
    assert len(net.blocks) == 0
    net.eval()
    assert net(torch.randn(2, 3)).shape == (2, 2)


def test_gradients_reach_every_parameter():
    net = ResNet(n_inputs=4, n_outputs=2, n_blocks=2, d_main=8, dropout_first=0.0)
    net.train()
    net(torch.randn(16, 4)).pow(2).mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("kwargs, match", [
    ({"norm": "none"}, "norm must be one of"),
    ({"norm": "group"}, "norm must be one of"),
    ({"activation": "tanh"}, "activation must be one of"),
])
def test_bad_settings_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ResNet(n_inputs=3, n_outputs=1, **kwargs)


def test_space_and_defaults():
    task = TaskInfo("binary", 2)
    dims = space(task)
    assert set(dims) == {
        "module__n_blocks", "module__d_main", "module__d_hidden_factor",
        "module__dropout_first", "module__dropout_second", "module__norm",
        "module__activation"}
    assert all(isinstance(d, Dimension) for d in dims.values())
    assert set(DEFAULTS) == set(dims)
    assert all(DEFAULTS[k] in dims[k] for k in DEFAULTS)
    assert set(dims["module__norm"].categories) == set(NORMS)
    net = ResNet(3, 2, **{k[len("module__"):]: v for k, v in DEFAULTS.items()})
    assert net(torch.randn(4, 3)).shape == (4, 2)


def test_applies_to_tabular_only():
    assert applies(TaskInfo("binary", 2))
    assert not applies(TaskInfo("binary", 2, input_kind="image"))


def test_classifier_end_to_end():
    X, y = make_classification(n_samples=150, n_features=6, n_informative=4,
                               random_state=0)
    clf = AutoDLClassifier(families=["resnet"], time_budget=None, n_trials=2,
                           fidelity=None, search_space={"max_epochs": 5},
                           verbose=0, random_state=0, device="cpu")
    clf.fit(X, y)
    assert set(clf.cv_results_["param_family"]) == {"resnet"}
    assert clf.predict(X).shape == (150,)
    assert clf.score(X, y) > 0.6
