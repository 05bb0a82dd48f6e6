"""EvolutionSearcher: a seeded genetic algorithm that stays inside the space."""

import json
import math

import numpy as np
import pytest
from skopt.space import Categorical, Integer, Real

from skautodl.search.searchers import (
    EvolutionSearcher,
    RandomSearcher,
    SearchSpec,
    make_searcher,
)
from skautodl.search.space import SearchSpace


def mixed_space():
    """Two families with shared training parameters and their own ones."""
    return SearchSpace.build(
        ["mlp", "resnet"],
        {
            "mlp": {
                "module__n_layers": Integer(1, 4),
                "module__units": Integer(16, 1024, prior="log-uniform"),
                "module__activation": Categorical(["relu", "gelu", "silu"]),
            },
            "resnet": {
                "module__dropout": Real(0.0, 0.5),
                "module__n_blocks": Integer(1, 3),
            },
        },
        {"mlp": {}, "resnet": {}},
        {"max_epochs": 20, "module__norm": ["batch", "layer"]},
    )


def toy_space():
    dims = {f"x{i}": Real(0.0, 1.0) for i in range(4)}
    dims.update({
        "k": Integer(0, 20),
        "c": Categorical(["a", "b", "c", "d"]),
        "lr": Real(1e-5, 1e-1, prior="log-uniform"),
    })
    return SearchSpace({"toy": dims})


def toy_objective(c):
    return (-sum((c[f"x{i}"] - 0.7) ** 2 for i in range(4))
            - ((c["k"] - 13) / 20) ** 2 - 0.1 * (c["c"] != "c")
            - (math.log10(c["lr"]) + 3) ** 2 / 16)


def run(searcher, objective, n_trials, batch=4):
    """Ask/tell loop; returns every config asked and the best score."""
    asked, best = [], -math.inf
    while len(asked) < n_trials:
        configs = searcher.ask(batch)
        scores = [objective(c) for c in configs]
        searcher.tell(configs, scores)
        asked += configs
        best = max([best] + [s for s in scores if not math.isnan(s)])
    return asked, best


def assert_in_space(config, space):
    family = config["family"]
    assert family in space.families
    assert set(config) == {"family", *space.names(family), *space.fixed[family]}
    for name, value in space.fixed[family].items():
        assert config[name] == value
    for name, dim in zip(space.names(family), space.dimensions(family), strict=True):
        value = config[name]
        assert value in dim, (name, value)
        if isinstance(dim, Integer):
            assert type(value) is int, (name, value)
        elif isinstance(dim, Real):
            assert type(value) is float, (name, value)
        else:
            assert type(value) in (int, float, str, bool), (name, value)


def test_children_stay_in_space_with_random_tells():
    space = mixed_space()
    rng = np.random.RandomState(0)
    searcher = EvolutionSearcher(space, random_state=0, population_size=8,
                                 mutation_rate=0.5)

    def noisy(config):
        return math.nan if rng.rand() < 0.2 else float(rng.normal())

    asked, _ = run(searcher, noisy, 100, batch=3)
    assert len(asked) >= 100
    for config in asked:
        assert_in_space(config, space)
    assert {c["family"] for c in asked[8:]} == {"mlp", "resnet"}


def test_first_asks_are_random_samples():
    space = mixed_space()
    evo = EvolutionSearcher(space, random_state=3, population_size=6)
    assert evo.ask(6) == RandomSearcher(space, random_state=3).ask(6)


def test_reproducible_with_seed_and_different_with_another():
    def sequence(seed):
        searcher = EvolutionSearcher(mixed_space(), random_state=seed,
                                     population_size=5)
        asked, _ = run(searcher, lambda c: float(len(json.dumps(c)) % 7), 40)
        return asked

    assert sequence(1) == sequence(1)
    assert sequence(1) != sequence(2)
    # past the random phase too
    assert sequence(1)[5:] != sequence(2)[5:]


def test_beats_random_search_on_a_toy_objective():
    space = toy_space()
    seeds = range(5)
    evo = [run(EvolutionSearcher(space, random_state=s), toy_objective, 80)[1]
           for s in seeds]
    rand = [run(RandomSearcher(space, random_state=s), toy_objective, 80)[1]
            for s in seeds]
    # means on this problem are about -0.06 (evolution) and -0.2 (random)
    assert np.mean(evo) > np.mean(rand) + 0.05
    assert sum(e > r for e, r in zip(evo, rand, strict=True)) >= 4


def test_failed_trials_rank_last():
    space = toy_space()
    searcher = EvolutionSearcher(space, random_state=0, population_size=10,
                                 tournament_size=10, crossover_rate=0.0,
                                 mutation_rate=0.0)
    configs = searcher.ask(10)
    scores = [math.nan] * 10
    scores[4] = -5.0
    searcher.tell(configs, scores)
    population = searcher.population()
    assert population[0] == (configs[4], -5.0)
    assert all(math.isnan(s) for _, s in population[1:])
    # the whole population in each tournament, no crossover, no mutation:
    # every child is a copy of the only config that did not fail
    assert searcher.ask(3) == [configs[4]] * 3


def test_all_failed_still_asks_valid_configs():
    space = mixed_space()
    searcher = EvolutionSearcher(space, random_state=0, population_size=4)
    asked, best = run(searcher, lambda c: math.nan, 30)
    assert best == -math.inf
    for config in asked:
        assert_in_space(config, space)


def test_population_keeps_the_best():
    searcher = EvolutionSearcher(toy_space(), random_state=0, population_size=3)
    configs = searcher.ask(6)
    searcher.tell(configs, [0.1, 0.5, math.nan, 0.9, 0.2, 0.5])
    population = searcher.population()
    assert [s for _, s in population] == [0.9, 0.5, 0.5]
    assert [c for c, _ in population] == [configs[3], configs[1], configs[5]]


def test_crossover_and_mutation_change_children():
    searcher = EvolutionSearcher(toy_space(), random_state=0, population_size=10,
                                 mutation_rate=0.3)
    configs, _ = run(searcher, toy_objective, 60)
    seen = {json.dumps(c, sort_keys=True) for c in configs}
    # children repeat evaluated configs only rarely
    assert len(seen) >= 58


def test_uniform_crossover_mixes_parents_of_one_family():
    space = toy_space()
    low = {"family": "toy", "x0": 0.1, "x1": 0.1, "x2": 0.1, "x3": 0.1, "k": 1,
           "c": "a", "lr": 1e-5}
    high = {"family": "toy", "x0": 0.9, "x1": 0.9, "x2": 0.9, "x3": 0.9, "k": 19,
            "c": "d", "lr": 1e-1}
    searcher = EvolutionSearcher(space, random_state=0, population_size=2,
                                 tournament_size=1, mutation_rate=0.0)
    searcher.ask(2)
    searcher.tell([low, high], [1.0, 0.0])
    children = searcher.ask(20)
    for child in children:
        assert all(child[k] in (low[k], high[k]) for k in low)
    mixed = [c for c in children
             if any(c[k] == low[k] for k in space.names("toy"))
             and any(c[k] == high[k] for k in space.names("toy"))]
    assert len(mixed) >= 15


def test_no_crossover_between_families():
    space = mixed_space()
    mlp, resnet = space.default_config("mlp"), space.default_config("resnet")
    resnet["lr"] = 1e-4  # shared parameter that differs between the parents
    searcher = EvolutionSearcher(space, random_state=0, population_size=2,
                                 tournament_size=1, crossover_rate=1.0,
                                 mutation_rate=0.0)
    searcher.ask(2)
    searcher.tell([mlp, resnet], [1.0, 1.0])
    children = searcher.ask(20)
    assert all(c in (mlp, resnet) for c in children)
    assert mlp in children and resnet in children


def test_children_avoid_repeating_evaluated_configs():
    space = SearchSpace({"toy": {"a": Categorical([0, 1, 2, 3]),
                                 "b": Categorical(["x", "y", "z", "w"])}})
    unique = []
    for seed in range(5):
        searcher = EvolutionSearcher(space, random_state=seed, population_size=4)
        asked, _ = run(searcher, lambda c: c["a"] + (c["b"] == "z"), 12, batch=1)
        unique.append(len({json.dumps(c, sort_keys=True) for c in asked}))
    # 16 configs in all; without the retry about 6 of 12 asks are new
    assert np.mean(unique) >= 9


@pytest.mark.parametrize("mutation_rate", [0.0, 0.5])
def test_family_mutates(mutation_rate):
    space = mixed_space()
    searcher = EvolutionSearcher(space, random_state=0, population_size=1,
                                 mutation_rate=mutation_rate)
    searcher.ask(1)
    parent = space.default_config("mlp")
    searcher.tell([parent], [1.0])
    children = searcher.ask(40)
    families = {c["family"] for c in children}
    assert families == ({"mlp", "resnet"} if mutation_rate else {"mlp"})
    for config in children:
        assert_in_space(config, space)


def test_state_round_trip():
    space = mixed_space()
    kwargs = {"random_state": 7, "population_size": 6}
    searcher = EvolutionSearcher(space, **kwargs)
    configs = searcher.ask(9)
    # two asks still in flight: the number of asks is part of the state
    searcher.tell(configs[:7], [float(i % 4) if i != 2 else math.nan
                                for i in range(7)])
    state = json.loads(json.dumps(searcher.state()))
    resumed = EvolutionSearcher.from_state(state, mixed_space(), **kwargs)
    assert resumed.population_size == 6
    for _ in range(3):
        a, b = searcher.ask(4), resumed.ask(4)
        assert a == b
        scores = [float(len(c)) for c in a]
        searcher.tell(a, scores)
        resumed.tell(b, scores)


@pytest.mark.parametrize("name, value", [
    ("population_size", 0), ("population_size", 2.5), ("population_size", True),
    ("tournament_size", 0), ("tournament_size", "3"),
    ("crossover_rate", -0.1), ("crossover_rate", 1.5), ("crossover_rate", "x"),
    ("mutation_rate", 2), ("mutation_rate", None),
])
def test_invalid_parameters(name, value):
    with pytest.raises(ValueError, match=name):
        EvolutionSearcher(toy_space(), **{name: value})


def test_make_searcher_evolution():
    searcher = make_searcher(SearchSpec("evolution", population_size=4), toy_space(),
                             0)
    assert isinstance(searcher, EvolutionSearcher)
    assert searcher.population_size == 4
    assert searcher.random_state == 0
