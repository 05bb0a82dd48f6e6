"""Tests of skautodl/search/space.py: SearchSpace.build and its configs."""

import numpy as np
import pytest
from skopt.space import Categorical, Integer, Real

from skautodl.data.validation import TaskInfo
from skautodl.networks.registry import FAMILIES
from skautodl.search.space import TRAINING_DEFAULTS, TRAINING_SPACE, SearchSpace

TASK = TaskInfo("binary", 2)


def build(overrides=None, families=("mlp",)):
    families = list(families)
    return SearchSpace.build(
        families,
        {f: FAMILIES[f].space(TASK) for f in families},
        {f: FAMILIES[f].defaults for f in families},
        overrides,
    )


def test_default_space_has_training_and_family_dimensions():
    space = build()
    assert space.families == ["mlp"]
    names = space.names("mlp")
    assert names == sorted(names)
    assert set(TRAINING_SPACE) <= set(names)
    assert set(FAMILIES["mlp"].space(TASK)) <= set(names)
    assert space.fixed["mlp"] == {}


def test_skopt_dimension_override_is_used_as_is():
    dim = Real(1e-3, 5e-3, prior="log-uniform")
    space = build({"lr": dim})
    assert space.subspaces["mlp"]["lr"] is dim


def test_list_becomes_categorical():
    space = build({"batch_size": [16, 48]})
    dim = space.subspaces["mlp"]["batch_size"]
    assert isinstance(dim, Categorical)
    assert list(dim.categories) == [16, 48]


def test_single_item_list_fixes_the_value():
    space = build({"module__norm": ["layer"]})
    assert "module__norm" not in space.names("mlp")
    assert space.fixed["mlp"]["module__norm"] == "layer"


@pytest.mark.parametrize("value, kind, bounds", [
    ((2, 8), Integer, (2, 8)),
    ((0.1, 0.4), Real, (0.1, 0.4)),
    ((0, 0.5), Real, (0.0, 0.5)),  # one float makes it Real
])
def test_tuple_becomes_integer_or_real(value, kind, bounds):
    space = build({"module__dropout": value})
    dim = space.subspaces["mlp"]["module__dropout"]
    assert type(dim) is kind
    assert (dim.low, dim.high) == bounds


def test_fixed_scalars_leave_the_search():
    space = build({"max_epochs": 7, "lr": 0.003, "iterator_train__shuffle": False})
    names = space.names("mlp")
    assert "max_epochs" not in names and "lr" not in names
    assert space.fixed["mlp"] == {"max_epochs": 7, "lr": 0.003,
                                  "iterator_train__shuffle": False}
    config = space.default_config("mlp")
    assert config["max_epochs"] == 7 and config["lr"] == 0.003
    assert config["iterator_train__shuffle"] is False


def test_new_parameter_with_skorch_prefix_is_added():
    space = build({"optimizer__betas": [(0.9, 0.99), (0.8, 0.9)],
                   "criterion__label_smoothing": (0.0, 0.2)})
    assert isinstance(space.subspaces["mlp"]["optimizer__betas"], Categorical)
    assert isinstance(space.subspaces["mlp"]["criterion__label_smoothing"], Real)


@pytest.mark.parametrize("name, hint", [
    ("n_units", "module__n_units"),
    ("module_n_units", "module__n_units"),
    ("learning_rate", None),
])
def test_unknown_name_raises_naming_it(name, hint):
    with pytest.raises(ValueError, match=f"unknown parameter '{name}'") as info:
        build({name: [1, 2]})
    if hint:
        assert f"Did you mean '{hint}'" in str(info.value)
    else:
        assert "Did you mean" not in str(info.value)


def test_non_string_key_raises():
    with pytest.raises(ValueError, match="keys must be parameter names"):
        build({3: [1, 2]})


@pytest.mark.parametrize("value, match", [
    ([], "empty list"),
    ((5, 5), "empty range"),
    ((0.5, 0.1), "empty range"),
    ((1, 2, 3), r"\(low, high\) pair"),
    (("a", "b"), r"\(low, high\) pair"),
    ((True, 3), r"\(low, high\) pair"),
    ({"a": 1}, "unsupported type dict"),
    ({1, 2}, "unsupported type set"),
])
def test_bad_values_raise_naming_the_parameter(value, match):
    with pytest.raises(ValueError, match=match) as info:
        build({"module__n_units": value})
    assert "'module__n_units'" in str(info.value)


def test_family_override_selects_families():
    space = build({"family": "mlp"})
    assert space.families == ["mlp"]
    with pytest.raises(ValueError, match=r"\['resnet'\]"):
        build({"family": ["resnet"]})


def test_default_config_is_the_known_good_point():
    config = build().default_config("mlp")
    assert config["family"] == "mlp"
    # the training defaults without a task (no schedule dimensions) and the
    # family's own
    for name in [*TRAINING_SPACE, *FAMILIES["mlp"].defaults]:
        value = {**TRAINING_DEFAULTS, **FAMILIES["mlp"].defaults}[name]
        assert config[name] == value, name


def test_default_config_moves_inside_narrowed_ranges():
    space = build({
        "lr": Real(1e-2, 1e-1, prior="log-uniform"),   # default 1e-3 outside
        "module__dropout": (0.3, 0.5),                 # default 0.1 outside
        "module__n_layers": (5, 8),                    # default 2 outside
        "module__n_units": [32, 16],                   # default 256 outside
        "batch_size": [64, 512],                       # default 64 inside
    })
    config = space.default_config("mlp")
    for name in space.names("mlp"):
        assert config[name] in space.subspaces["mlp"][name], name
    assert config["lr"] == pytest.approx(np.sqrt(1e-2 * 1e-1))
    assert config["module__dropout"] == pytest.approx(0.4)
    assert config["module__n_layers"] in (6, 7) and isinstance(
        config["module__n_layers"], int)
    assert config["module__n_units"] == 32
    assert config["batch_size"] == 64


def _assert_plain(config):
    for name, value in config.items():
        assert type(value) in (int, float, str, bool), (name, type(value))


def test_to_config_returns_plain_python_types():
    space = build()
    dims = space.dimensions("mlp")
    point = [d.rvs(n_samples=1, random_state=0)[0] for d in dims]
    assert any(isinstance(v, np.generic) for v in point)  # skopt gives numpy
    config = space.to_config("mlp", point)
    _assert_plain(config)
    assert space.to_point(config) == [config[n] for n in space.names("mlp")]


def test_sample_is_inside_the_space_and_plain():
    space = build({"module__n_units": (8, 16)})
    rng = np.random.RandomState(0)
    configs = [space.sample("mlp", rng) for _ in range(20)]
    for config in configs:
        _assert_plain(config)
        for name in space.names("mlp"):
            assert config[name] in space.subspaces["mlp"][name]
    assert len({c["lr"] for c in configs}) == 20


def test_to_config_checks_point_length():
    with pytest.raises(ValueError):
        build().to_config("mlp", [1, 2])


def test_describe_lists_searched_and_fixed():
    rows = build({"max_epochs": 3}).describe()
    names = [name for _, name, _ in rows]
    assert "max_epochs" in names and "lr" in names
    assert ("mlp", "max_epochs", 3) in rows


# ---------------------------------------------------------- task-dependent
def _task_space(task, overrides=None, families=("mlp",)):
    families = list(families)
    return SearchSpace.build(
        families, {f: FAMILIES[f].space(task) for f in families},
        {f: FAMILIES[f].defaults for f in families}, overrides, task=task)


def test_task_space_adds_regularization_scaling_and_augmentation():
    space = _task_space(TASK)
    names = set(space.names("mlp"))
    assert {"lr_schedule", "callbacks__early_stopping__patience",
            "criterion__label_smoothing", "featurize__numeric_scaling",
            "augment__mixup_alpha"} <= names
    assert set(space.subspaces["mlp"]["featurize__numeric_scaling"].categories) == {
        "standard", "quantile", "robust"}
    default = space.default_config("mlp")
    # everything new starts off: the default config trains as before
    assert default["lr_schedule"] == "cosine"
    assert default["criterion__label_smoothing"] == 0.0
    assert default["augment__mixup_alpha"] == 0.0
    assert default["featurize__numeric_scaling"] == "standard"


def test_task_space_for_regression_and_images():
    reg = _task_space(TaskInfo("regression", 1))
    assert "criterion__label_smoothing" not in reg.names("mlp")
    img = TaskInfo("multiclass", 10, input_kind="image", image_shape=(1, 28, 28))
    space = _task_space(img, families=("cnn",))
    names = set(space.names("cnn"))
    assert {"augment__shift", "augment__rotation", "augment__cutout"} <= names
    assert "featurize__numeric_scaling" not in names
    assert "augment__flip" not in names  # flips are opt-in (digits)
    assert max(space.subspaces["cnn"]["augment__shift"].categories) == 2
    flips = _task_space(img, {"augment__flip": [False, True]}, families=("cnn",))
    assert "augment__flip" in flips.names("cnn")


def test_task_space_entries_can_be_fixed_by_the_user():
    space = _task_space(TASK, {"featurize__numeric_scaling": "robust",
                               "lr_schedule": "onecycle"})
    assert space.fixed["mlp"] == {"featurize__numeric_scaling": "robust",
                                  "lr_schedule": "onecycle"}
    assert "featurize__numeric_scaling" not in space.names("mlp")


def test_family_space_value_fixes_a_shared_dimension():
    space = _task_space(TASK, families=("mlp", "embed"))
    assert "augment__mixup_alpha" in space.names("mlp")
    assert "augment__mixup_alpha" not in space.names("embed")
    assert space.fixed["embed"] == {"augment__mixup_alpha": 0.0}
    assert space.default_config("embed")["augment__mixup_alpha"] == 0.0
    # the user's search_space still wins
    user = _task_space(TASK, {"augment__mixup_alpha": [0.0, 0.2]},
                       families=("embed",))
    assert "augment__mixup_alpha" in user.names("embed")
    assert "augment__mixup_alpha" not in user.fixed["embed"]


# ---------------------------------------------------------------------- bounds
@pytest.mark.parametrize("name, value, words", [
    ("max_epochs", 0, "max_epochs must be an int >= 1"),
    ("max_epochs", -3, "max_epochs must be an int >= 1"),
    ("max_epochs", (0, 10), "= (0, 10) is out of range"),
    ("batch_size", 0, "batch_size must be an int >= 1"),
    ("batch_size", [0, 32], "the choice 0"),
    ("lr", 0.0, "lr must be a number > 0"),
    ("lr", -1e-3, "lr must be a number > 0"),
    ("optimizer__weight_decay", -0.1, "must be a number >= 0"),
    ("callbacks__early_stopping__patience", 0, "an int >= 1"),
    ("module__n_units", 0, "module__n_units must be an int >= 1"),
    ("module__n_layers", -1, "module__n_layers must be an int >= 0"),
    ("module__dropout", 1.0, "must be a number >= 0 and < 1"),
    ("module__dropout", (0.0, 1.5), "out of range"),
])
def test_settings_that_cannot_train_are_refused(name, value, words):
    from skautodl.networks.registry import FAMILIES as families

    mlp = families["mlp"]
    with pytest.raises(ValueError, match=f"search_space\\['{name}'\\]") as info:
        SearchSpace.for_task([mlp], TASK, {name: value})
    assert words in str(info.value) and "Nothing was trained" in str(info.value)


def test_settings_inside_their_bounds_pass():
    from skautodl.networks.registry import FAMILIES as families

    space = SearchSpace.for_task([families["mlp"]], TASK, {
        "max_epochs": 1, "batch_size": [1, 8], "module__n_layers": 0,
        "module__dropout": (0.0, 0.9), "lr": 1e-6})
    assert space.fixed["mlp"]["max_epochs"] == 1


def test_every_family_default_and_grid_lies_inside_its_bounds():
    from skautodl.search.space import TRAINING_BOUNDS, TRAINING_DEFAULTS, TRAINING_GRID

    for name, family in FAMILIES.items():
        for key, bound in family.bounds.items():
            assert family.defaults[key] in bound, (name, key)
            for value in family.grid.get(key, ()):
                assert value in bound, (name, key, value)
    for key, bound in TRAINING_BOUNDS.items():
        if key in TRAINING_DEFAULTS:
            assert TRAINING_DEFAULTS[key] in bound, key
        for value in TRAINING_GRID.get(key, ()):
            assert value in bound, key
