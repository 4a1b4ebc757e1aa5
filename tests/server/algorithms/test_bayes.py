"""The bayes algorithm on its own (no server): it learns, respects pending points, stays valid."""

from __future__ import annotations

import random

import pytest
import torch
from botorch.test_functions.multi_objective import BraninCurrin

from hyperdial.server.algorithms.base import History, Observed, make_suggester
from hyperdial.server.domain import AlgorithmConfig, Goal, Objective
from hyperdial.server.errors import InvalidArgument
from hyperdial.server.pareto import hypervolume, non_dominated
from hyperdial.server.space import CategoricalParam, FloatParam, IntParam, SearchSpace
from hyperdial.server.space.features import canonical

PLANE = SearchSpace((FloatParam("x", -3.0, 3.0), FloatParam("y", -3.0, 3.0)))
OPTIMUM = (1.0, -0.5)
MIXED = SearchSpace(
    (
        FloatParam("lr", 1e-4, 1e-1, log=True),
        FloatParam("dropout", 0.0, 0.5),
        FloatParam("decay", 1e-6, 1e-2, log=True),
        IntParam("layers", 1, 4),
        IntParam("units", 16, 256, log=True),
        CategoricalParam("optimizer", ("adam", "adamw", "sgd")),
    )
)


def quadratic(params: dict) -> float:
    return (params["x"] - OPTIMUM[0]) ** 2 + (params["y"] - OPTIMUM[1]) ** 2


FAST = {"restarts": 2, "raw_samples": 128}


def bayes(space: SearchSpace, **options: object):
    """A bayes suggester with a light acquisition search (the tests check behaviour, not speed)."""
    return make_suggester(space, AlgorithmConfig("bayes", {**FAST, **options}))  # type: ignore[arg-type]


def run(algorithm: str, trials: int, seed: int) -> float:
    options = {"restarts": 4, "raw_samples": 256} if algorithm == "bayes" else {}
    suggester = make_suggester(PLANE, AlgorithmConfig(algorithm, options))  # type: ignore[arg-type]
    observed: list[Observed] = []
    for draw in range(trials):
        history = History(draws=draw, completed=tuple(observed))
        params = dict(suggester.suggest(PLANE, history, 1, seed).suggestions[0].params)
        observed.append(Observed(params, quadratic(params)))
    return min(o.value for o in observed)


def test_bayes_finds_a_quadratic_optimum_in_25_trials_where_random_does_not() -> None:
    assert run("bayes", 25, seed=3) < 1e-3
    assert run("random", 25, seed=3) > 1e-2


def history_of(space: SearchSpace, count: int, seed: int, **kwargs: object) -> History:
    rng = random.Random(seed)
    suggester = make_suggester(space, AlgorithmConfig("random", {}))
    points = [
        dict(s.params) for s in suggester.suggest(space, History(draws=0), count, seed).suggestions
    ]
    completed = tuple(Observed(p, rng.random()) for p in points)
    return History(draws=count, completed=completed, **kwargs)  # type: ignore[arg-type]


def test_pending_points_are_avoided_and_a_batch_is_spread() -> None:
    suggester = bayes(PLANE, initial_trials=5)
    history = history_of(PLANE, 8, seed=1)
    first = suggester.suggest(PLANE, history, 1, seed=1).suggestions[0].params
    again = suggester.suggest(PLANE, history, 1, seed=1).suggestions[0].params
    assert again == first  # same seed and observations: same suggestion
    with_pending = History(history.draws, history.completed, pending=(first,))
    other = suggester.suggest(PLANE, with_pending, 1, seed=1).suggestions[0].params
    distance = ((other["x"] - first["x"]) ** 2 + (other["y"] - first["y"]) ** 2) ** 0.5
    assert distance > 0.05
    batch = [s.params for s in suggester.suggest(PLANE, history, 4, seed=1).suggestions]
    assert len({(p["x"], p["y"]) for p in batch}) == 4


def test_mixed_spaces_yield_valid_values_and_never_a_pending_duplicate() -> None:
    suggester = bayes(MIXED, initial_trials=6)
    history = history_of(MIXED, 12, seed=2)
    batch = suggester.suggest(MIXED, history, 5, seed=2).suggestions
    assert len(batch) == 5
    params = MIXED.by_name()
    for suggestion in batch:
        for name, value in suggestion.params.items():
            assert params[name].contains(value), (name, value)
        assert isinstance(suggestion.params["layers"], int)
        assert suggestion.params["optimizer"] in ("adam", "adamw", "sgd")
    keys = [canonical(MIXED, s.params) for s in batch]
    assert len(set(keys)) == 5


def test_a_small_discrete_space_never_repeats_a_pending_configuration() -> None:
    space = SearchSpace((IntParam("a", 1, 3), CategoricalParam("b", ("x", "y"))))
    suggester = bayes(space, initial_trials=2)
    history = History(
        draws=4,
        completed=(Observed({"a": 1, "b": "x"}, 1.0), Observed({"a": 3, "b": "y"}, 2.0)),
        pending=({"a": 2, "b": "x"}, {"a": 2, "b": "y"}),
    )
    batch = suggester.suggest(space, history, 3, seed=0).suggestions
    keys = [canonical(space, s.params) for s in batch]
    assert len(set(keys)) == len(keys)
    assert not {(2, "x"), (2, "y")} & set(keys)


def test_a_deterministic_objective_never_gets_a_finished_configuration_again() -> None:
    space = SearchSpace((IntParam("a", 1, 3), CategoricalParam("b", ("x", "y"))))
    values = {(1, "x"): 1.0, (2, "x"): 0.5, (3, "x"): 2.0, (1, "y"): 1.5, (2, "y"): 0.2}
    completed = tuple(Observed({"a": a, "b": b}, v) for (a, b), v in values.items())
    batch = bayes(space, initial_trials=2).suggest(space, History(5, completed), 1, seed=0)
    assert [canonical(space, s.params) for s in batch.suggestions] == [(3, "y")]
    everything = (*completed, Observed({"a": 3, "b": "y"}, 0.7))
    spent = bayes(space, initial_trials=2).suggest(space, History(6, everything), 1, seed=0)
    assert spent.suggestions == ()


def test_a_noisy_objective_may_measure_a_finished_configuration_again() -> None:
    space = SearchSpace((IntParam("a", 1, 2),))
    noise = random.Random(0)
    completed = tuple(
        Observed({"a": a}, a + noise.gauss(0.0, 1.0)) for a in (1, 2) for _ in range(4)
    )
    batch = bayes(space, initial_trials=2).suggest(space, History(8, completed), 1, seed=0)
    assert len(batch.suggestions) == 1


@pytest.mark.parametrize(
    "completed",
    [
        (),
        tuple(Observed({"x": 0.1 * i, "y": 0.0}, 1.0) for i in range(10)),  # constant
        tuple(Observed({"x": 0.5, "y": 0.5}, float(i % 2)) for i in range(10)),  # one point
    ],
    ids=["nothing", "constant", "duplicates"],
)
def test_degenerate_observations_never_crash_the_suggester(completed: tuple) -> None:
    suggester = bayes(PLANE, initial_trials=2)
    batch = suggester.suggest(PLANE, History(draws=10, completed=completed), 2, seed=0)
    assert len(batch.suggestions) == 2
    for suggestion in batch.suggestions:
        assert -3.0 <= suggestion.params["x"] <= 3.0


def test_infeasible_trials_steer_the_model_away() -> None:
    suggester = bayes(PLANE, initial_trials=2)
    completed = (Observed({"x": -2.0, "y": -2.0}, 5.0), Observed({"x": 2.0, "y": 2.0}, 4.0))
    bad = tuple(
        {"x": 1.0 + 0.1 * i, "y": -0.5 + 0.1 * j} for i in range(-2, 3) for j in range(-2, 3)
    )
    history = History(draws=27, completed=completed, infeasible=bad)
    chosen = suggester.suggest(PLANE, history, 1, seed=0).suggestions[0].params
    assert abs(chosen["x"] - 1.0) > 0.2 or abs(chosen["y"] + 0.5) > 0.2


LINE = SearchSpace((FloatParam("x", 0.0, 1.0),))


@pytest.mark.parametrize("model_pruned", [True, False])
def test_pruned_trials_steer_the_model_away_from_where_they_were_stopped(
    model_pruned: bool,
) -> None:
    """Completed trials improve toward x = 0, but every trial below 0.3 was stopped early."""
    completed = tuple(Observed({"x": x}, x) for x in (0.5, 0.6, 0.7, 0.8, 0.9, 1.0))
    pruned = tuple(Observed({"x": x}, 2.0) for x in (0.02, 0.1, 0.18, 0.26))
    options = {"initial_trials": 2, "model_pruned": model_pruned, "stopped_radius": 0.0}
    suggester = make_suggester(LINE, AlgorithmConfig("bayes", options))
    history = History(draws=10, completed=completed, pruned=pruned)
    chosen = [
        suggester.suggest(LINE, history, 1, seed=seed).suggestions[0].params["x"]
        for seed in range(3)
    ]
    if model_pruned:
        assert all(x > 0.3 for x in chosen), chosen
    else:  # blind to them, the model follows the trend into the stopped region
        assert all(x < 0.3 for x in chosen), chosen


@pytest.mark.parametrize("count", [1, 3])
def test_no_suggestion_lies_within_the_stopped_radius_of_a_stopped_trial(count: int) -> None:
    """The model is blind to the stopped trials and wants x = 0, where they were stopped."""
    completed = tuple(Observed({"x": x}, x) for x in (0.5, 0.6, 0.7, 0.8, 0.9, 1.0))
    stopped = (0.0, 0.04, 0.1)
    pruned = tuple(Observed({"x": x}, 2.0) for x in stopped)
    options = {"initial_trials": 2, "model_pruned": False, "stopped_radius": 0.05}
    suggester = make_suggester(LINE, AlgorithmConfig("bayes", options))
    history = History(draws=10, completed=completed, pruned=pruned)
    for seed in range(3):
        batch = suggester.suggest(LINE, history, count, seed=seed).suggestions
        chosen = [s.params["x"] for s in batch]
        assert len(chosen) == count
        assert all(min(abs(x - s) for s in stopped) >= 0.05 for x in chosen), chosen
        assert min(chosen) < 0.3, chosen  # still the trend's end, just outside the radius


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"acquisition": "pi"}, "algorithm.options.acquisition"),
        ({"initial_trials": 0}, "algorithm.options.initial_trials"),
        ({"restart": 3}, "algorithm.options.restart"),
        ({"incumbent": "best"}, "algorithm.options.incumbent"),
    ],
)
def test_bad_options_name_their_field(options: dict, field: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        bayes(PLANE, **options)
    assert raised.value.field == field


TWO_GOALS = (Objective("f0", Goal.MINIMIZE), Objective("f1", Goal.MINIMIZE))
UNIT = SearchSpace((FloatParam("x0", 0.0, 1.0), FloatParam("x1", 0.0, 1.0)))


def branin_currin(params: dict) -> tuple[float, float]:
    point = torch.tensor([[params["x0"], params["x1"]]], dtype=torch.float64)
    return tuple(BraninCurrin()(point)[0].tolist())  # type: ignore[return-value]


def front_hypervolume(algorithm: str, trials: int) -> float:
    options = {**FAST, "initial_trials": 6} if algorithm == "bayes" else {}
    suggester = make_suggester(UNIT, AlgorithmConfig(algorithm, options))  # type: ignore[arg-type]
    observed: list[Observed] = []
    for draw in range(trials):
        history = History(draw, tuple(observed), objectives=TWO_GOALS)
        params = dict(suggester.suggest(UNIT, history, 1, seed=1).suggestions[0].params)
        values = branin_currin(params)
        observed.append(Observed(params, values[0], values))
    points = [o.values for o in observed]
    return hypervolume([points[i] for i in non_dominated(points)], (18.0, 6.0))


@pytest.mark.slow
def test_two_objectives_reach_a_larger_hypervolume_than_random() -> None:
    assert front_hypervolume("bayes", 16) > 1.1 * front_hypervolume("random", 16)


def test_a_multi_objective_batch_is_spread_and_avoids_pending_points() -> None:
    suggester = bayes(UNIT, initial_trials=4)
    observed = []
    for i in range(6):
        params = {"x0": i / 5, "x1": (i * 3 % 5) / 5}
        values = branin_currin(params)
        observed.append(Observed(params, values[0], values))
    pending = ({"x0": 0.5, "x1": 0.5},)
    history = History(6, tuple(observed), pending, objectives=TWO_GOALS)
    batch = [s.params for s in suggester.suggest(UNIT, history, 3, seed=0).suggestions]
    keys = {canonical(UNIT, p) for p in batch}
    assert len(keys) == 3
    assert canonical(UNIT, pending[0]) not in keys


@pytest.mark.slow
def test_an_outcome_constraint_keeps_suggestions_feasible() -> None:
    """Minimize x subject to x >= 0.6: the optimum sits on the constraint's boundary."""
    line = SearchSpace((FloatParam("x", 0.0, 1.0), FloatParam("noise", 0.0, 1.0)))
    suggester = bayes(line, initial_trials=5)
    observed: list[Observed] = []
    for draw in range(15):
        history = History(draw, tuple(observed))
        params = dict(suggester.suggest(line, history, 1, seed=2).suggestions[0].params)
        x = float(params["x"])
        observed.append(Observed(params, x + 0.01 * float(params["noise"]), slacks=(0.6 - x,)))
    modelled = [float(o.params["x"]) for o in observed[5:]]
    assert all(x > 0.55 for x in modelled)  # never where the unconstrained optimum lies
    assert min(x for x in modelled if x >= 0.6) < 0.62  # refines the boundary


def test_the_initial_design_and_a_history_of_one_value_need_no_model() -> None:
    suggester = make_suggester(PLANE, AlgorithmConfig("bayes", {"initial_trials": 3}))
    assert not suggester.needs_model(History(draws=2))
    flat = tuple(Observed({"x": 0.5 * k, "y": 0.0}, 1.0) for k in range(4))
    assert not suggester.needs_model(History(draws=4, completed=flat))
    varied = tuple(Observed({"x": 0.5 * k, "y": 0.0}, float(k)) for k in range(4))
    assert suggester.needs_model(History(draws=4, completed=varied))
