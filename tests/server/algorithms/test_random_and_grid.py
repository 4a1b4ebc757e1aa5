import math

import pytest

from hyperdial.server.algorithms.base import History, make_suggester
from hyperdial.server.domain import AlgorithmConfig
from hyperdial.server.errors import InvalidArgument
from hyperdial.server.space import CategoricalParam, Condition, FloatParam, IntParam, SearchSpace

SPACE = SearchSpace(
    (
        FloatParam("lr", 1e-4, 1e-1, log=True),
        IntParam("layers", 1, 4),
        IntParam("units_3", 16, 256, log=True, condition=Condition("layers", min=3)),
        CategoricalParam("opt", ("adam", "sgd")),
    )
)


def draw(sampler: str, seed: int, start: int, count: int) -> list[dict]:
    suggester = make_suggester(SPACE, AlgorithmConfig("random", {"sampler": sampler}))
    batch = suggester.suggest(SPACE, History(draws=start), count, seed)
    assert not batch.finished
    return [dict(s.params) for s in batch.suggestions]


@pytest.mark.parametrize("sampler", ["uniform", "sobol"])
def test_random_is_reproducible_and_continues_its_sequence(sampler: str) -> None:
    whole = draw(sampler, seed=7, start=0, count=20)
    assert draw(sampler, seed=7, start=0, count=20) == whole
    # Drawing in pieces (as one Suggest after another) gives the same sequence.
    assert draw(sampler, 7, 0, 8) + draw(sampler, 7, 8, 12) == whole
    assert draw(sampler, seed=8, start=0, count=20) != whole


@pytest.mark.parametrize("sampler", ["uniform", "sobol"])
def test_random_values_respect_domains_and_conditions(sampler: str) -> None:
    for params in draw(sampler, seed=1, start=0, count=256):
        assert 1e-4 <= params["lr"] <= 1e-1
        assert params["opt"] in ("adam", "sgd")
        assert ("units_3" in params) == (params["layers"] >= 3)
        if "units_3" in params:
            assert isinstance(params["units_3"], int)
            assert 16 <= params["units_3"] <= 256


def test_log_scale_spreads_over_decades() -> None:
    decades = [0, 0, 0]
    for params in draw("uniform", seed=3, start=0, count=3000):
        decades[min(int(-math.log10(params["lr"])) - 1, 2)] += 1
    assert all(800 < count < 1200 for count in decades), decades


def test_sobol_covers_a_categorical_evenly() -> None:
    opts = [p["opt"] for p in draw("sobol", seed=5, start=0, count=64)]
    assert opts.count("adam") == 32


def test_unknown_algorithm_and_options_are_refused() -> None:
    with pytest.raises(InvalidArgument) as caught:
        make_suggester(SPACE, AlgorithmConfig("annealing", {}))
    assert caught.value.field == "algorithm.name"
    with pytest.raises(InvalidArgument) as caught:
        make_suggester(SPACE, AlgorithmConfig("random", {"smapler": "sobol"}))
    assert caught.value.field == "algorithm.options.smapler"
    with pytest.raises(InvalidArgument) as caught:
        make_suggester(SPACE, AlgorithmConfig("grid", {"grid_points": "five"}))
    assert caught.value.field == "algorithm.options.grid_points"


def test_grid_hands_out_every_point_once_then_finishes() -> None:
    space = SearchSpace((IntParam("a", 1, 3), CategoricalParam("b", ("x", "y"))))
    grid = make_suggester(space, AlgorithmConfig("grid", {}))
    first = grid.suggest(space, History(0), 4, seed=0)
    rest = grid.suggest(space, History(4), 10, seed=0)
    assert not first.finished
    assert rest.finished
    points = [dict(s.params) for s in first.suggestions + rest.suggestions]
    assert len(points) == 6
    assert {(p["a"], p["b"]) for p in points} == {(a, b) for a in (1, 2, 3) for b in "xy"}
    assert [s.grid_index for s in first.suggestions + rest.suggestions] == list(range(6))
    assert grid.suggest(space, History(6), 1, seed=0).suggestions == ()


def test_shuffled_grid_is_a_seeded_permutation() -> None:
    space = SearchSpace((IntParam("a", 0, 9, grid_points=10),))
    grid = make_suggester(space, AlgorithmConfig("grid", {"shuffle": True}))
    order = [s.params["a"] for s in grid.suggest(space, History(0), 10, seed=1).suggestions]
    assert sorted(order) == list(range(10))
    assert order != list(range(10))
    again = [s.params["a"] for s in grid.suggest(space, History(0), 10, seed=1).suggestions]
    assert again == order


def test_shuffling_a_huge_grid_is_refused_plain_order_is_not() -> None:
    space = SearchSpace(tuple(IntParam(f"p{i}", 0, 99, grid_points=100) for i in range(4)))
    with pytest.raises(InvalidArgument) as caught:
        make_suggester(space, AlgorithmConfig("grid", {"shuffle": True}))
    assert caught.value.field == "algorithm.options.shuffle"
    grid = make_suggester(space, AlgorithmConfig("grid", {}))
    batch = grid.suggest(space, History(10**8 - 1), 5, seed=0)
    assert batch.finished
    assert [dict(s.params) for s in batch.suggestions] == [{f"p{i}": 99 for i in range(4)}]
