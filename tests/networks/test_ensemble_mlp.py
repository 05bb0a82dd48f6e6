"""Tests of skautodl/networks/ensemble_mlp.py: the BatchEnsemble-style MLP,
its space and defaults, and end-to-end fits with the new families."""

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification, make_regression
from skopt.space import Dimension

from skautodl import AutoDLClassifier, AutoDLRegressor
from skautodl.data.validation import TaskInfo
from skautodl.networks.ensemble_mlp import (
    DEFAULTS,
    EnsembleMLP,
    LinearBatchEnsemble,
    LinearHeads,
    applies,
    space,
)
from skautodl.networks.mlp import ACTIVATIONS, MLP


@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_output_shape_for_each_activation(n_outputs, activation):
    net = EnsembleMLP(n_inputs=7, n_outputs=n_outputs, k=4, n_layers=2, n_units=16,
                      activation=activation)
    out = net(torch.randn(5, 7))
    assert out.shape == (5, n_outputs)
    assert torch.isfinite(out).all()
    assert net.forward_members(torch.randn(5, 7)).shape == (5, 4, n_outputs)
    kinds = [type(m) for m in net.layers]
    assert kinds.count(ACTIVATIONS[activation]) == 2
    assert kinds.count(LinearBatchEnsemble) == 2


def test_layer_shapes_and_sharing():
    net = EnsembleMLP(n_inputs=5, n_outputs=2, k=3, n_layers=2, n_units=8)
    first, second = [m for m in net.layers if isinstance(m, LinearBatchEnsemble)]
    assert first.weight.shape == (8, 5)  # one shared weight, not one per member
    assert first.r.shape == (3, 5) and first.s.shape == (3, 8)
    assert first.bias.shape == (3, 8)
    assert second.weight.shape == (8, 8) and second.r.shape == (3, 8)
    assert net.head.weight.shape == (3, 8, 2) and net.head.bias.shape == (3, 2)


def test_batch_ensemble_layer_formula():
    """y_i = ((x_i * r_i) @ W.T) * s_i + b_i for every member i."""
    layer = LinearBatchEnsemble(4, 3, k=5, random_signs=True)
    with torch.no_grad():
        layer.s.normal_()
        layer.bias.normal_()
    x = torch.randn(6, 5, 4)
    out = layer(x)
    assert out.shape == (6, 5, 3)
    for i in range(5):
        expected = ((x[:, i] * layer.r[i]) @ layer.weight.T) * layer.s[i]
        expected = expected + layer.bias[i]
        torch.testing.assert_close(out[:, i], expected)


def test_adapter_initialization():
    layer = LinearBatchEnsemble(6, 4, k=8, random_signs=True)
    assert set(layer.r.detach().unique().tolist()) <= {-1.0, 1.0}
    assert torch.equal(layer.s.detach(), torch.ones(8, 4))
    # the members' biases start equal, as with one nn.Linear
    assert torch.equal(layer.bias[0].detach().expand(8, 4), layer.bias.detach())
    plain = LinearBatchEnsemble(6, 4, k=8)
    assert torch.equal(plain.r.detach(), torch.ones(8, 6))


def test_heads_are_independent_linear_maps():
    heads = LinearHeads(4, 2, k=3)
    x = torch.randn(5, 3, 4)
    out = heads(x)
    for i in range(3):
        torch.testing.assert_close(out[:, i], x[:, i] @ heads.weight[i] + heads.bias[i])
    assert not torch.equal(heads.weight[0], heads.weight[1])


@pytest.mark.parametrize("n_layers", [0, 1, 2])
def test_members_differ_after_init(n_layers):
    net = EnsembleMLP(n_inputs=4, n_outputs=2, k=4, n_layers=n_layers, n_units=8,
                      dropout=0.0)
    members = net.forward_members(torch.randn(10, 4))
    for i in range(1, 4):
        assert not torch.allclose(members[:, 0], members[:, i])


@pytest.mark.parametrize("train", [False, True])
def test_forward_is_the_mean_over_members(train):
    net = EnsembleMLP(n_inputs=4, n_outputs=3, k=4, n_layers=2, n_units=8,
                      dropout=0.0)
    net.train(train)
    X = torch.randn(6, 4)
    torch.testing.assert_close(net(X), net.forward_members(X).mean(dim=1))


def test_gradients_reach_shared_weight_and_adapters():
    net = EnsembleMLP(n_inputs=4, n_outputs=2, k=4, n_layers=2, n_units=8,
                      dropout=0.0)
    net.train()
    net(torch.randn(16, 4)).pow(2).mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name
    first = net.layers[0]
    assert {"weight", "r", "s", "bias"} <= {n for n, _ in first.named_parameters()}


def test_parameter_count_much_smaller_than_k_mlps():
    k, n_inputs, n_units = 8, 20, 256
    ens = EnsembleMLP(n_inputs, 3, k=k, n_layers=2, n_units=n_units)
    mlp = MLP(n_inputs, 3, n_layers=2, n_units=n_units)

    def count(m):
        return sum(p.numel() for p in m.parameters())

    assert count(ens) < 0.25 * k * count(mlp)


def test_dropout_and_numpy_settings():
    net = EnsembleMLP(n_inputs=3, n_outputs=1, k=np.int64(2), n_layers=np.int64(1),
                      n_units=np.int64(4), dropout=np.float64(0.25))
    drops = [m for m in net.layers if isinstance(m, torch.nn.Dropout)]
    assert len(drops) == 1 and drops[0].p == 0.25
    assert net(torch.randn(2, 3)).shape == (2, 1)
    assert not any(isinstance(m, torch.nn.Dropout)
                   for m in EnsembleMLP(3, 1, dropout=0.0).layers)


def test_float64_forward():
    """The estimators predict with the module cast to float64."""
    net = EnsembleMLP(n_inputs=3, n_outputs=2, k=2, n_layers=1, n_units=4).double()
    assert net(torch.randn(2, 3, dtype=torch.float64)).dtype == torch.float64


@pytest.mark.parametrize("kwargs, match", [
    ({"activation": "tanh"}, "activation must be one of"),
    ({"k": 0}, "k must be a positive integer"),
])
def test_bad_settings_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EnsembleMLP(n_inputs=3, n_outputs=1, **kwargs)


def test_space_and_defaults():
    task = TaskInfo("continuous", 1)
    dims = space(task)
    assert set(dims) == {"module__k", "module__n_layers", "module__n_units",
                         "module__dropout", "module__activation"}
    assert all(isinstance(d, Dimension) for d in dims.values())
    assert set(DEFAULTS) == set(dims)
    assert all(DEFAULTS[k] in dims[k] for k in DEFAULTS)
    net = EnsembleMLP(3, 1, **{k[len("module__"):]: v for k, v in DEFAULTS.items()})
    assert net(torch.randn(4, 3)).shape == (4, 1)


def test_tabm_defaults_are_points_of_the_space():
    # TabM's defaults (Gorishniy et al., 2025): 3 x 512, dropout 0.1, k=32
    dims = space(TaskInfo("binary", 2))
    tabm = {"module__k": 32, "module__n_layers": 3, "module__n_units": 512,
            "module__dropout": 0.1}
    assert all(value in dims[name] for name, value in tabm.items())


def test_parametric_activation_has_one_alpha_per_unit():
    net = EnsembleMLP(n_inputs=3, n_outputs=2, k=4, n_layers=2, n_units=8,
                      activation="pselu")
    alphas = [m.alpha for m in net.layers if hasattr(m, "alpha")]
    assert [a.shape for a in alphas] == [(8,), (8,)]
    assert net(torch.randn(5, 3)).shape == (5, 2)


def test_applies_to_tabular_only():
    assert applies(TaskInfo("binary", 2))
    assert not applies(TaskInfo("binary", 2, input_kind="image"))


def test_classifier_end_to_end():
    X, y = make_classification(n_samples=150, n_features=6, n_informative=4,
                               random_state=0)
    clf = AutoDLClassifier(families=["ensemble_mlp"], time_budget=None, n_trials=2,
                           fidelity=None, search_space={"max_epochs": 5},
                           verbose=0, random_state=0, device="cpu")
    clf.fit(X, y)
    assert set(clf.cv_results_["param_family"]) == {"ensemble_mlp"}
    assert clf.predict_proba(X).shape == (150, 2)
    assert clf.score(X, y) > 0.6


def test_regressor_searches_several_families():
    X, y = make_regression(n_samples=150, n_features=5, noise=5.0, random_state=0)
    reg = AutoDLRegressor(families=["mlp", "resnet", "ensemble_mlp"],
                          time_budget=None, n_trials=4, fidelity=None,
                          search_space={"max_epochs": 5}, verbose=0,
                          random_state=0, device="cpu")
    reg.fit(X, y)
    families = set(reg.cv_results_["param_family"])
    assert len(families) > 1
    assert families <= {"mlp", "resnet", "ensemble_mlp"}
    assert reg.predict(X).shape == (150,)


def test_auto_uses_mlp_and_embed_not_ensemble_mlp():
    X, y = make_regression(n_samples=60, n_features=3, random_state=0)
    reg = AutoDLRegressor(time_budget=None, n_trials=4, fidelity=None,
                          search_space={"max_epochs": 2}, verbose=0,
                          random_state=0, device="cpu")
    reg.fit(X, y)
    # the two default configs come first (the portfolio's half of the 4
    # trials): one per family of "auto"; the searcher picks among them too
    assert set(reg.cv_results_["param_family"]) == {"mlp", "embed"}
