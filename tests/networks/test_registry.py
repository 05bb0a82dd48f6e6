"""Tests of skautodl/networks/registry.py: family lookup and building."""

import inspect

import pytest
import torch

from skautodl.data.validation import TaskInfo
from skautodl.networks import embed, ensemble_mlp, mlp, resnet
from skautodl.networks.registry import (
    FAMILIES,
    PLANNED_FAMILIES,
    Family,
    families_for,
    get_family,
)


def test_get_family_mlp():
    family = get_family("mlp")
    assert isinstance(family, Family)
    assert family.name == "mlp"
    assert family.module is mlp.MLP


@pytest.mark.parametrize("name", ["nope", "MLP", None])
def test_get_family_unknown_raises_naming_it(name):
    with pytest.raises(ValueError, match="Unknown network family") as info:
        get_family(name)
    assert repr(name) in str(info.value)
    assert "'mlp'" in str(info.value)  # lists the known families


def test_build_uses_module_keys_only():
    config = {"family": "mlp", "lr": 0.1, "module__n_layers": 1,
              "module__n_units": 4, "module__norm": "layer"}
    net = get_family("mlp").build(config, n_inputs=3, n_outputs=2)
    assert isinstance(net, mlp.MLP)
    assert net(torch.randn(5, 3)).shape == (5, 2)
    assert any(isinstance(m, torch.nn.LayerNorm) for m in net.layers)


def test_every_family_is_consistent():
    task = TaskInfo("multiclass", 3)
    for name, family in FAMILIES.items():
        assert family.name == name
        dims = family.space(task)
        assert set(family.defaults) <= set(dims)
        assert all(family.defaults[k] in dims[k] for k in family.defaults)
        if family.is_tree:  # no nn.Module (tests/training/test_hgb.py)
            continue
        extra = {"image_shape": (1, 2, 2)} if name == "cnn" else {}
        net = family.build({**family.defaults, "family": name}, 4, 3, **extra)
        assert net(torch.randn(2, 4)).shape == (2, 3)


def test_families_for_task():
    assert families_for(TaskInfo("binary", 2)) == ["mlp", "embed"]
    assert families_for(TaskInfo("regression", 1)) == ["mlp", "embed"]
    assert families_for(TaskInfo("binary", 2, input_kind="image",
                                 image_shape=(1, 8, 8))) == ["cnn"]


@pytest.mark.parametrize("name, cls", [("resnet", resnet.ResNet),
                                       ("ensemble_mlp", ensemble_mlp.EnsembleMLP)])
def test_opt_in_families_are_registered_but_not_auto(name, cls):
    family = get_family(name)
    assert family.module is cls
    assert family.in_auto is False
    assert family.applies(TaskInfo("binary", 2))
    assert name not in families_for(TaskInfo("binary", 2))
    assert get_family("mlp").in_auto is True


def test_no_planned_families_left():
    assert PLANNED_FAMILIES == ()
    assert "embed" in FAMILIES


def test_data_params_and_categorical_encoding():
    assert get_family("cnn").data_params == ("image_shape",)
    family = get_family("embed")
    assert family.data_params == ("n_numeric", "n_binary", "cardinalities", "bins")
    assert family.categorical_encoding == "codes"
    for name in ("mlp", "resnet", "ensemble_mlp", "cnn"):
        assert get_family(name).categorical_encoding == "onehot"
    for name in ("mlp", "resnet", "ensemble_mlp"):
        assert get_family(name).data_params == ()
    # every declared data parameter is a module argument, never searched
    for fam in FAMILIES.values():
        accepted = inspect.signature(fam.module).parameters
        assert set(fam.data_params) <= set(accepted), fam.name
        assert not any(f"module__{p}" in fam.space(TaskInfo("binary", 2))
                       for p in fam.data_params), fam.name


def test_build_embed_with_data_params():
    layout = {"n_numeric": 2, "n_binary": 1, "cardinalities": [4],
              "bins": [[-1.0, 0.0, 1.0], [0.0, 2.0]]}
    config = {**get_family("embed").defaults, "module__numeric_embedding": "pwl"}
    net = get_family("embed").build(config, 4, 3, **layout)
    assert isinstance(net, embed.EmbedNet)
    assert net(torch.tensor([[0.5, 1.0, 1.0, 2.0]])).shape == (1, 3)


def test_every_coarse_grid_holds_the_family_defaults():
    from skautodl.search.space import TRAINING_DEFAULTS, TRAINING_GRID

    for name, family in FAMILIES.items():
        assert family.grid, name
        for key, values in family.grid.items():
            assert family.defaults[key] in values, (name, key)
            assert len(values) in (2, 3), (name, key)
    for key, values in TRAINING_GRID.items():
        assert TRAINING_DEFAULTS[key] in values, key
