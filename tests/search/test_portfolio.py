"""Tests of skautodl/search/portfolio.py: the known-good configs tried first."""

import pytest
from skopt.space import Categorical, Integer, Real

from skautodl.data.validation import TaskInfo
from skautodl.networks.registry import FAMILIES
from skautodl.search.portfolio import (
    CNN_PORTFOLIO,
    EMBED_PORTFOLIO,
    ENSEMBLE_MLP_PORTFOLIO,
    MLP_PORTFOLIO,
    PORTFOLIOS,
    adapt,
    family_portfolio,
    portfolio,
)
from skautodl.search.searchers import BayesSearcher
from skautodl.search.space import (
    TRAINING_DEFAULTS,
    TRAINING_SPACE,
    SearchSpace,
    task_space,
)

TASK = TaskInfo("binary", 2)

NARROWED = {
    "lr": Real(1e-2, 1e-1, prior="log-uniform"),   # every entry's lr outside
    "module__dropout": (0.15, 0.25),               # only 0.2 inside
    "module__n_layers": (2, 3),                    # every entry inside
    "module__n_units": [128, 64],                  # 256 and 512 outside
    "batch_size": [32, 64],                        # 128 outside
}


def build(overrides=None, families=("mlp",)):
    families = list(families)
    return SearchSpace.build(
        families,
        {f: FAMILIES[f].space(TASK) for f in families},
        {f: FAMILIES[f].defaults for f in families},
        overrides,
    )


def assert_inside(config, space):
    family = config["family"]
    assert set(config) == {"family", *space.names(family), *space.fixed[family]}
    for name in space.names(family):
        assert config[name] in space.subspaces[family][name], (name, config[name])
    for name, value in space.fixed[family].items():
        assert config[name] == value, name


SPACES = {
    "default": None,
    "fidelity": {"max_epochs": 120},  # what fit does with fidelity="hyperband"
    "fixed": {"module__norm": "layer", "lr": 0.004, "max_epochs": 5},
    "narrowed": NARROWED,
    "extended": {"callbacks__early_stopping__patience": (5, 20),
                 "module__activation": ["silu", "relu"]},
}


def test_first_entry_is_the_family_defaults():
    # the shipped list starts with the defaults, so it cannot drift from them
    defaults = {**TRAINING_DEFAULTS, **FAMILIES["mlp"].defaults}
    assert set(TRAINING_SPACE) | set(FAMILIES["mlp"].defaults) == set(MLP_PORTFOLIO[0])
    assert MLP_PORTFOLIO[0] == {k: defaults[k] for k in MLP_PORTFOLIO[0]}
    assert 3 <= len(MLP_PORTFOLIO) <= 5


@pytest.mark.parametrize("key", list(SPACES))
def test_configs_are_points_of_the_space(key):
    space = build(SPACES[key])
    configs = portfolio(space)
    assert configs[0] == space.default_config("mlp")
    for config in configs:
        assert_inside(config, space)
    assert len({tuple(sorted(c.items())) for c in configs}) == len(configs)


def test_default_space_runs_every_entry_as_written():
    # without a task the shared settings of a task (scaling, label
    # smoothing) are no dimensions; everything else runs as written
    space = build()
    configs = portfolio(space)
    assert configs == [
        {"family": "mlp", **{k: v for k, v in entry.items()
                             if k in space.names("mlp")}}
        for entry in MLP_PORTFOLIO]


TABULAR = {"mlp": MLP_PORTFOLIO, "embed": EMBED_PORTFOLIO,
           "ensemble_mlp": ENSEMBLE_MLP_PORTFOLIO}


@pytest.mark.parametrize("family", list(TABULAR))
def test_tabular_portfolios_start_with_the_defaults(family):
    entries = TABULAR[family]
    assert PORTFOLIOS[family] is entries
    defaults = {**TRAINING_DEFAULTS, **FAMILIES[family].defaults}
    assert set(TRAINING_SPACE) | set(FAMILIES[family].defaults) == set(entries[0])
    assert entries[0] == {k: defaults[k] for k in entries[0]}
    assert 2 <= len(entries) <= 5


@pytest.mark.parametrize("family", list(TABULAR))
@pytest.mark.parametrize("task", [TaskInfo("multiclass", 3),
                                  TaskInfo("continuous", 1)],
                         ids=["classification", "regression"])
def test_task_space_runs_every_entry_as_written(family, task):
    # with a task, every key of every entry is a point of its space (label
    # smoothing only exists for classifiers)
    families = [FAMILIES[family]]
    space = SearchSpace.for_task(families, task)
    configs = family_portfolio(space, family)
    assert len(configs) == len(TABULAR[family])
    for config, entry in zip(configs, TABULAR[family], strict=True):
        kept = {k: v for k, v in entry.items()
                if task.is_classification or k != "criterion__label_smoothing"}
        assert {k: config[k] for k in kept} == kept
        assert_inside(config, space)


def test_fixed_values_override_the_portfolio():
    space = build(SPACES["fixed"])
    configs = portfolio(space)
    assert len(configs) == len(MLP_PORTFOLIO)
    for config in configs:
        assert config["module__norm"] == "layer"
        assert config["lr"] == 0.004
        assert config["max_epochs"] == 5
    # the other entries' own values survive
    assert {c["module__activation"] for c in configs} == {
        e["module__activation"] for e in MLP_PORTFOLIO}


def test_fidelity_fixes_max_epochs():
    configs = portfolio(build(SPACES["fidelity"]))
    assert {c["max_epochs"] for c in configs} == {120}
    assert len(configs) == len(MLP_PORTFOLIO)


def test_narrowed_ranges_move_values_inside():
    space = build(NARROWED)
    default = space.default_config("mlp")
    configs = portfolio(space)
    for config in configs:
        assert config["lr"] == default["lr"]  # no entry's lr is inside
        assert config["module__n_units"] in (128, 64)
        assert config["batch_size"] in (32, 64)
    # values inside the narrowed dimensions are kept
    assert any(c["module__dropout"] == 0.2 for c in configs)
    assert any(c["module__n_units"] == 128 for c in configs)


def test_size_caps_configs_per_family():
    space = build()
    assert portfolio(space, size=1) == [space.default_config("mlp")]
    assert portfolio(space, size=2) == portfolio(space)[:2]


def test_entries_that_coincide_are_dropped():
    space = build({name: MLP_PORTFOLIO[0][name] for name in MLP_PORTFOLIO[0]})
    assert space.names("mlp") == []
    assert portfolio(space) == [space.default_config("mlp")]


def test_integer_dimension_needs_an_integer():
    # 2.5 lies within Integer(1, 4)'s bounds but is no point of it
    space = build()
    assert adapt(space, "mlp", {"module__n_layers": 2.5}) == space.default_config(
        "mlp")
    assert adapt(space, "mlp", {"module__n_layers": 3})["module__n_layers"] == 3
    assert adapt(space, "mlp", {"module__norm": 3, "lr": "x", "unknown": 1}) == (
        space.default_config("mlp"))


def test_families_are_interleaved_defaults_first():
    space = SearchSpace.build(
        ["mlp", "other"],
        {"mlp": FAMILIES["mlp"].space(TASK),
         "other": {"module__depth": Integer(1, 3),
                   "module__kind": Categorical(["a", "b"])}},
        {"mlp": FAMILIES["mlp"].defaults, "other": {"module__depth": 2}},
    )
    configs = portfolio(space)
    assert configs[0] == space.default_config("mlp")
    assert configs[1] == space.default_config("other")
    assert [c["family"] for c in configs].count("other") == 1
    for config in configs:
        assert_inside(config, space)


@pytest.mark.parametrize("key", list(SPACES))
def test_bayes_searcher_can_be_told_all_of_them(key):
    space = build(SPACES[key])
    configs = portfolio(space)
    searcher = BayesSearcher(space, random_state=0, n_initial_points=2)
    searcher.tell(configs, [0.5 + 0.01 * i for i in range(len(configs))])
    assert len(searcher.history) == len(configs)
    assert_inside(searcher.ask(1)[0], space)


# ------------------------------------------------------------ the CNN portfolio
def image_task(shape, kind="multiclass"):
    return TaskInfo(kind, 10 if kind == "multiclass" else 1, input_kind="image",
                    image_shape=shape)


def build_cnn(shape, overrides=None, kind="multiclass"):
    task = image_task(shape, kind)
    return SearchSpace.build(["cnn"], {"cnn": FAMILIES["cnn"].space(task)},
                             {"cnn": FAMILIES["cnn"].defaults}, overrides, task=task)


def test_portfolios_name_registered_families():
    assert PORTFOLIOS == {"mlp": MLP_PORTFOLIO, "embed": EMBED_PORTFOLIO,
                          "ensemble_mlp": ENSEMBLE_MLP_PORTFOLIO,
                          "cnn": CNN_PORTFOLIO}
    assert set(PORTFOLIOS) <= set(FAMILIES)


def test_cnn_first_entry_is_the_family_defaults():
    defaults = {**TRAINING_DEFAULTS, **FAMILIES["cnn"].defaults}
    assert set(TRAINING_SPACE) | set(FAMILIES["cnn"].defaults) == set(CNN_PORTFOLIO[0])
    assert CNN_PORTFOLIO[0] == {k: defaults[k] for k in CNN_PORTFOLIO[0]}
    assert 3 <= len(CNN_PORTFOLIO) <= 4


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_cnn_entries_run_as_written_on_large_images(shape):
    space = build_cnn(shape)
    configs = portfolio(space)
    assert configs[0] == space.default_config("cnn")
    assert len(configs) == len(CNN_PORTFOLIO)
    _, shared_defaults = task_space(image_task(shape))
    for config, entry in zip(configs, CNN_PORTFOLIO, strict=True):
        assert_inside(config, space)
        # every value of the entry is kept; the rest are the task's defaults
        schedule = {k: TRAINING_DEFAULTS[k] for k in
                    ("lr_schedule", "callbacks__early_stopping__patience")}
        assert config == {"family": "cnn", **schedule, **shared_defaults, **entry}


@pytest.mark.parametrize("kind", ["multiclass", "regression"])
def test_cnn_entries_adapt_to_small_images_and_regression(kind):
    # no stem choice under 16 pixels; no label smoothing for a regressor
    space = build_cnn((1, 8, 8), kind=kind)
    configs = portfolio(space)
    assert len(configs) == len(CNN_PORTFOLIO)
    for config, entry in zip(configs, CNN_PORTFOLIO, strict=True):
        assert_inside(config, space)
        assert "module__stem" not in config
        dropped = {"module__stem"} | (
            set() if kind == "multiclass" else {"criterion__label_smoothing"})
        assert {k: v for k, v in entry.items() if k not in dropped} == {
            k: config[k] for k in entry if k not in dropped}


def test_cnn_entries_under_fidelity_and_fixed_values():
    space = build_cnn((1, 28, 28), {"max_epochs": 120, "module__width": 16,
                                    "augment__shift": [0, 2]})
    configs = portfolio(space)
    assert {c["max_epochs"] for c in configs} == {120}
    assert {c["module__width"] for c in configs} == {16}
    assert {c["augment__shift"] for c in configs} == {0}  # 1 is no choice now
    for config in configs:
        assert_inside(config, space)
    searcher = BayesSearcher(space, random_state=0, n_initial_points=2)
    searcher.tell(configs, [0.9 - 0.01 * i for i in range(len(configs))])
    assert_inside(searcher.ask(1)[0], space)
