import pytest

from hyperdial.server.errors import InvalidArgument
from hyperdial.server.space import CategoricalParam, Condition, FloatParam, IntParam, SearchSpace
from hyperdial.server.space.grid import Grid, param_grid


def test_numeric_ranges_are_evenly_spaced() -> None:
    assert param_grid(FloatParam("x", 0, 1), 5) == (0.0, 0.25, 0.5, 0.75, 1.0)
    log_points = param_grid(FloatParam("lr", 1e-4, 1e-1, log=True), 4)
    assert log_points == pytest.approx((1e-4, 1e-3, 1e-2, 1e-1))
    assert log_points[0] == 1e-4
    assert log_points[-1] == 1e-1


def test_integer_grids_round_and_never_repeat() -> None:
    assert param_grid(IntParam("n", 1, 3), 10) == (1, 2, 3)
    assert param_grid(IntParam("units", 16, 256, log=True), 5) == (16, 32, 64, 128, 256)


def test_explicit_values_win_over_points() -> None:
    assert param_grid(FloatParam("x", 0, 1, grid_values=(0.1, 0.7)), 5) == (0.1, 0.7)
    assert param_grid(CategoricalParam("o", ("a", "b", "c")), 2) == ("a", "b", "c")


def test_full_factorial_with_conditions_has_no_duplicates() -> None:
    space = SearchSpace(
        (
            IntParam("layers", 1, 3),
            IntParam("units_2", 8, 16, grid_values=(8, 16), condition=Condition("layers", min=2)),
            CategoricalParam("opt", ("adam", "sgd")),
        )
    )
    grid = Grid(space, 5)
    points = [grid.point(i) for i in range(grid.size)]
    # layers=1: 2 points (opt); layers=2,3: 2 units x 2 opt each.
    assert len(points) == 2 + 4 + 4
    assert len({tuple(sorted(p.items())) for p in points}) == len(points)
    assert all(("units_2" in p) == (p["layers"] >= 2) for p in points)


def test_factorial_grids_are_indexed_without_listing() -> None:
    space = SearchSpace(tuple(IntParam(f"p{i}", 0, 99, grid_points=100) for i in range(4)))
    grid = Grid(space, 5)
    assert grid.size == 100**4
    assert grid.point(0) == {"p0": 0, "p1": 0, "p2": 0, "p3": 0}
    assert grid.point(1) == {"p0": 0, "p1": 0, "p2": 0, "p3": 1}
    assert grid.point(1_02_03_04) == {"p0": 1, "p1": 2, "p2": 3, "p3": 4}
    assert grid.point(grid.size - 1) == {"p0": 99, "p1": 99, "p2": 99, "p3": 99}


def test_too_large_grids_are_refused() -> None:
    space = SearchSpace(tuple(IntParam(f"p{i}", 0, 100) for i in range(5)))
    with pytest.raises(InvalidArgument, match="more than 1000000000"):
        Grid(space, 100)
    conditional = SearchSpace(
        (
            IntParam("a", 0, 999, grid_points=1000),
            IntParam("b", 0, 999, condition=Condition("a", min=1)),
        )
    )
    with pytest.raises(InvalidArgument, match="conditional parameters may hold at most 100000"):
        Grid(conditional, 1000)


def test_bad_point_count_names_the_parameter() -> None:
    space = SearchSpace((FloatParam("x", 0, 1), FloatParam("y", 0, 1, grid_points=20_000)))
    with pytest.raises(InvalidArgument) as caught:
        Grid(space, 5)
    assert caught.value.field == "parameters[1].grid_points"
