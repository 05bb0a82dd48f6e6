"""GridSearcher: a finite grid over the space, asked in a fixed order."""

import itertools
import json
import math

import numpy as np
import pytest
from skopt.space import Categorical, Integer, Real

from skautodl.search.searchers import GridSearcher, make_searcher
from skautodl.search.searchers.grid import grid_values
from skautodl.search.space import SearchSpace

#: fixes or narrows the training parameters so the grid stays small
OVERRIDES = {
    "lr": Real(1e-4, 1e-2, prior="log-uniform"),
    "optimizer__weight_decay": 1e-4,
    "batch_size": [32, 64],
    "max_epochs": 20,
}


def Grid(space, **kwargs):
    """A full grid (every dimension gridded, as the user's own)."""
    return GridSearcher(space, coarse=False, **kwargs)


def small_space(families=("mlp",), overrides=OVERRIDES):
    family_spaces = {
        "mlp": {
            "module__n_layers": Integer(1, 3),
            "module__activation": Categorical(["relu", "gelu"]),
        },
        "resnet": {"module__dropout": Real(0.0, 0.4)},
    }
    return SearchSpace.build(
        list(families), {f: family_spaces[f] for f in families},
        {f: {} for f in families}, overrides,
    )


def expected_mlp_grid():
    # names in sorted order: batch_size, lr, module__activation, module__n_layers
    return [
        {"family": "mlp", "optimizer__weight_decay": 1e-4, "max_epochs": 20,
         "batch_size": b, "lr": lr, "module__activation": a, "module__n_layers": n}
        for b, lr, a, n in itertools.product(
            [32, 64], [1e-4, 1e-3, 1e-2], ["relu", "gelu"], [1, 2, 3])
    ]


def assert_same_configs(got, expected):
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert set(g) == set(e)
        for key, value in e.items():
            if isinstance(value, float):
                assert g[key] == pytest.approx(value, rel=1e-9), key
            else:
                assert g[key] == value, key


def test_order_is_the_cartesian_product_in_names_order():
    searcher = Grid(small_space())
    got = searcher.ask(100)
    assert_same_configs(got, expected_mlp_grid())
    # plain Python values only
    for config in got:
        assert type(config["batch_size"]) is int
        assert type(config["module__n_layers"]) is int
        assert type(config["lr"]) is float
        assert type(config["module__activation"]) is str


def test_order_is_deterministic_and_ignores_random_state():
    a = Grid(small_space(), random_state=0)
    b = Grid(small_space(), random_state=123)
    assert b.random_state == 123
    assert a.ask(len(a)) == b.ask(len(b))


def test_families_take_turns_and_grid_is_complete():
    space = small_space(families=("mlp", "resnet"))
    searcher = Grid(space, n_points=3)
    configs = searcher.ask(1000)
    # mlp: 2 * 3 * 2 * 3 = 36; resnet: batch 2 x lr 3 x dropout 3 = 18
    assert len(searcher) == searcher.n_candidates == 54 == len(configs)
    families = [c["family"] for c in configs]
    assert families == ["mlp", "resnet"] * 18 + ["mlp"] * 18
    mlp = [c for c in configs if c["family"] == "mlp"]
    resnet = [c for c in configs if c["family"] == "resnet"]
    assert_same_configs(mlp, expected_mlp_grid())
    assert all("module__n_layers" not in c for c in resnet)
    dropouts = sorted({c["module__dropout"] for c in resnet})
    assert dropouts == pytest.approx([0.0, 0.2, 0.4])
    unique = {json.dumps(c, sort_keys=True) for c in configs}
    assert len(unique) == len(configs)


def test_log_uniform_reals_are_spaced_geometrically():
    values = grid_values(Real(1e-5, 1e-1, prior="log-uniform"), 5)
    assert values == pytest.approx([1e-5, 1e-4, 1e-3, 1e-2, 1e-1], rel=1e-9)
    ratios = np.diff(np.log(values))
    assert np.allclose(ratios, ratios[0])
    linear = grid_values(Real(0.0, 1.0), 5)
    assert linear == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])
    assert all(type(v) is float for v in values + linear)


def test_integer_values_are_distinct_and_within_bounds():
    assert grid_values(Integer(0, 10), 3) == [0, 5, 10]
    assert grid_values(Integer(0, 10), 4) == [0, 3, 7, 10]
    assert grid_values(Integer(1, 2), 5) == [1, 2]
    assert grid_values(Integer(1, 1000, prior="log-uniform"), 4) == [1, 10, 100, 1000]
    assert all(type(v) is int for v in grid_values(Integer(0, 10), 3))
    # one point: the (geometric) middle of the range
    assert grid_values(Integer(0, 10), 1) == [5]
    assert grid_values(Real(1e-4, 1e-2, prior="log-uniform"), 1) == pytest.approx(
        [1e-3])


def test_categorical_gives_all_categories_in_order():
    assert grid_values(Categorical(["b", "a", "c"]), 2) == ["b", "a", "c"]


def test_exhaustion():
    searcher = Grid(small_space())
    assert not searcher.exhausted
    first = searcher.ask(30)
    assert len(first) == 30 and not searcher.exhausted
    rest = searcher.ask(10)
    assert len(rest) == 6
    assert searcher.exhausted
    assert searcher.ask(1) == []
    assert searcher.ask() == []
    assert_same_configs(first + rest, expected_mlp_grid())


def test_fully_fixed_space_has_one_candidate():
    fixed = {"lr": 1e-3, "optimizer__weight_decay": 1e-4, "batch_size": 64,
             "max_epochs": 10, "module__n_layers": 2, "module__activation": "relu"}
    searcher = Grid(small_space(overrides=fixed))
    assert len(searcher) == 1
    assert searcher.ask(5) == [{"family": "mlp", **fixed}]
    assert searcher.exhausted


def test_size_guard_names_the_size():
    overrides = {**OVERRIDES, "batch_size": list(range(1, 101)),
                 "module__units": list(range(1, 101))}
    with pytest.raises(ValueError, match=r"180000 candidates \(mlp: batch_size=100 "
                       r"x .*module__units=100\).*max_candidates=10000"):
        Grid(small_space(overrides=overrides))
    with pytest.raises(ValueError, match=r"36 candidates.*search_space"):
        Grid(small_space(), max_candidates=35)
    assert len(Grid(small_space(), max_candidates=36)) == 36


@pytest.mark.parametrize("name", ["n_points", "max_candidates"])
@pytest.mark.parametrize("value", [0, -1, 2.5, True, "3"])
def test_invalid_counts(name, value):
    with pytest.raises(ValueError, match=name):
        Grid(small_space(), **{name: value})


def test_state_round_trip():
    searcher = Grid(small_space())
    configs = searcher.ask(7)
    searcher.tell(configs, [float(i) for i in range(6)] + [math.nan])
    state = json.loads(json.dumps(searcher.state()))
    resumed = GridSearcher.from_state(state, small_space(), coarse=False)
    assert repr(resumed.history) == repr(searcher.history)
    assert resumed.ask(10) == searcher.ask(10)
    assert resumed.ask(100) == searcher.ask(100)
    assert resumed.exhausted and searcher.exhausted


def test_points_asked_but_not_told_are_asked_again_after_resume():
    searcher = Grid(small_space())
    configs = searcher.ask(4)
    searcher.tell(configs[1:2], [0.5])
    state = json.loads(json.dumps(searcher.state()))
    resumed = GridSearcher.from_state(state, small_space(), coarse=False)
    again = resumed.ask(4)
    expected = expected_mlp_grid()
    assert_same_configs(again, [expected[0], expected[2], expected[3], expected[4]])
    # every grid point is asked exactly once after the resume
    rest = resumed.ask(100)
    assert resumed.exhausted
    assert len(again) + len(rest) == 36 - 1


def test_make_searcher_grid():
    from skautodl.search import SearchSpec

    searcher = make_searcher(SearchSpec("grid", n_points=2, coarse=False),
                             small_space(), 0)
    assert isinstance(searcher, GridSearcher)
    assert searcher.n_points == 2
    assert len(searcher) == 2 * 2 * 2 * 2


# ---------------------------------------------------------------------- coarse grid
def default_space(families=("mlp", "embed"), overrides=None):
    from skautodl.data.validation import TaskInfo
    from skautodl.networks.registry import FAMILIES
    from skautodl.training.net import routed_parameters

    fams = [FAMILIES[f] for f in families]
    return SearchSpace.for_task(fams, TaskInfo("binary", 2), overrides,
                                routed=routed_parameters(fams), fidelity=True)


def test_default_space_gets_the_documented_coarse_grid():
    from skautodl.networks import embed, mlp
    from skautodl.search.space import TRAINING_GRID

    space = default_space()
    # the full grid of this space is far too large
    with pytest.raises(ValueError, match="more than max_candidates"):
        Grid(space)
    searcher = GridSearcher(space)
    sizes = {f: math.prod(len(v) for v in {**TRAINING_GRID, **m.GRID}.values())
             for f, m in (("mlp", mlp), ("embed", embed))}
    assert len(searcher) == sizes["mlp"] + sizes["embed"] == 48 + 32
    configs = searcher.ask(1000)
    assert len({json.dumps(c, sort_keys=True) for c in configs}) == len(configs)
    for family, module in (("mlp", mlp), ("embed", embed)):
        mine = [c for c in configs if c["family"] == family]
        grid = {**TRAINING_GRID, **module.GRID}
        # the coarse dimensions take exactly their grid values...
        for name, values in grid.items():
            assert sorted({c[name] for c in mine}) == sorted(values), name
        # ...every other dimension stays at the family's default
        first = space.default_config(family)
        for name in set(space.names(family)) - set(grid):
            assert {c[name] for c in mine} == {first[name]}, name
    # the default configs come first, the families taking turns
    assert configs[:2] == [space.default_config("mlp"),
                           space.default_config("embed")]
    changed = [sum(c[n] != space.default_config(c["family"])[n]
                   for n in space.names(c["family"])) for c in configs[::2][:24]]
    assert changed == sorted(changed)


def test_user_dimensions_are_gridded_in_full_beside_the_coarse_ones():
    space = default_space(("mlp",), {"batch_size": [32, 64, 128]})
    searcher = GridSearcher(space)
    assert len(searcher) == 48 * 3
    configs = searcher.ask(1000)
    assert sorted({c["batch_size"] for c in configs}) == [32, 64, 128]
    # the user's own dimension varies within the points nearest the defaults
    assert [c["batch_size"] for c in configs[:3]] == [32, 64, 128]


def test_size_error_only_for_a_grid_the_user_made_too_large():
    space = default_space(("mlp",), {"batch_size": list(range(1, 300))})
    with pytest.raises(ValueError, match=r"mlp: .*batch_size=299.*search_space"):
        GridSearcher(space)


def test_grid_search_with_the_default_space_runs(small_clf_data=None):
    from sklearn.datasets import make_classification

    from skautodl import AutoDLClassifier

    X, y = make_classification(n_samples=80, n_features=4, random_state=0)
    clf = AutoDLClassifier(search="grid", time_budget=None, n_trials=4,
                           search_space={"max_epochs": 2}, fidelity=None,
                           random_state=0, verbose=0, device="cpu").fit(X, y)
    grid = [c for c, o in zip(clf.cv_results_["params"], clf.cv_results_["origin"],
                              strict=True) if o == "searcher"]
    assert clf.searcher_.n_asked == len(grid) == 2
    assert all(c["family"] in ("mlp", "embed") for c in grid)
