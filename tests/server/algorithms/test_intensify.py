"""Re-evaluations: bayes hands its recommendation out again where the objective is noisy."""

from __future__ import annotations

import random

import pytest

from hyperdial.server.algorithms.base import History, Observed, make_suggester
from hyperdial.server.algorithms.intensify import noise_is_material, repeat_due
from hyperdial.server.domain import AlgorithmConfig
from hyperdial.server.errors import InvalidArgument
from hyperdial.server.space import FloatParam, SearchSpace
from hyperdial.server.space.features import canonical

PLANE = SearchSpace((FloatParam("x", 0.0, 1.0), FloatParam("y", 0.0, 1.0)))
FAST = {"restarts": 2, "raw_samples": 128, "initial_trials": 6}
REPEATS = {**FAST, "repeat_every": 3}


def bowl(params: dict) -> float:
    return (params["x"] - 0.3) ** 2 + (params["y"] - 0.6) ** 2


def study(noise: float, trials: int, options: dict = REPEATS) -> list[tuple[Observed, bool]]:
    """A sequential bayes study of the noisy bowl: each trial, and whether it was a repeat."""
    suggester = make_suggester(PLANE, AlgorithmConfig("bayes", options))
    rng = random.Random(7)
    observed: list[Observed] = []
    repeats: list[bool] = []
    for draw in range(trials):
        suggestion = suggester.suggest(PLANE, History(draw, tuple(observed)), 1, seed=3)
        params = dict(suggestion.suggestions[0].params)
        observed.append(Observed(params, bowl(params) + rng.gauss(0.0, noise)))
        repeats.append(suggestion.suggestions[0].repeat)
    return list(zip(observed, repeats, strict=True))


def test_the_schedule_starts_before_the_initial_design_ends_and_repeats_every_nth_draw() -> None:
    due = [draw for draw in range(30) if repeat_due(draw, 1, initial_trials=15, every=3)]
    assert due == [12, 15, 18, 21, 24, 27]
    assert [d for d in range(12) if repeat_due(d, 1, initial_trials=5, every=3)] == [6, 9]
    assert repeat_due(10, 3, initial_trials=15, every=3)  # a batch covering draw 12
    assert not any(repeat_due(d, 4, initial_trials=15, every=0) for d in range(30))


def test_scatter_is_material_only_where_repeated_values_differ() -> None:
    spread = [Observed({"x": k / 10, "y": 0.0}, float(k)) for k in range(10)]
    assert noise_is_material(PLANE, spread) is None  # nothing was evaluated twice
    exact = [*spread, Observed({"x": 0.0, "y": 0.0}, 0.0)]
    assert noise_is_material(PLANE, exact) is False
    scattered = [*spread, Observed({"x": 0.0, "y": 0.0}, 0.3)]
    assert noise_is_material(PLANE, scattered) is True
    maximized = [*spread, Observed({"x": 0.9, "y": 0.0}, 8.7)]
    assert noise_is_material(PLANE, maximized, maximize=True) is True


def test_a_noisy_objective_gets_its_recommendation_evaluated_up_to_three_times() -> None:
    trials = study(noise=0.02, trials=24)
    repeated = [draw for draw, (_, repeat) in enumerate(trials) if repeat]
    assert set(repeated) <= {6, 9, 12, 15, 18, 21}
    assert len(repeated) >= 3
    evaluations: dict[tuple, int] = {}
    for observed, repeat in trials:
        key = canonical(PLANE, observed.params)
        assert repeat == (key in evaluations)  # a repeat is of a finished configuration
        evaluations[key] = evaluations.get(key, 0) + 1
    assert max(evaluations.values()) <= 3


def test_a_deterministic_objective_costs_one_probe_and_no_more() -> None:
    trials = study(noise=0.0, trials=20)
    assert [draw for draw, (_, repeat) in enumerate(trials) if repeat] == [6]
    keys = [canonical(PLANE, o.params) for o, _ in trials]
    assert len(set(keys)) == len(keys) - 1


@pytest.mark.parametrize("options", [FAST, {**FAST, "repeat_every": 0}])
def test_bayes_repeats_only_where_a_study_asks(options: dict) -> None:
    trials = study(noise=0.02, trials=16, options=options)
    assert not any(repeat for _, repeat in trials)
    assert len({canonical(PLANE, o.params) for o, _ in trials}) == 16


def test_a_probe_under_way_is_not_handed_out_twice() -> None:
    suggester = make_suggester(PLANE, AlgorithmConfig("bayes", REPEATS))  # type: ignore[arg-type]
    rng = random.Random(1)
    points = [{"x": rng.random(), "y": rng.random()} for _ in range(8)]
    completed = tuple(Observed(p, bowl(p)) for p in points)
    first = suggester.suggest(PLANE, History(9, completed), 1, seed=0).suggestions[0]
    assert first.repeat
    running = History(12, completed, pending=(dict(first.params),))
    assert not suggester.suggest(PLANE, running, 1, seed=0).suggestions[0].repeat


def test_a_trial_granted_fewer_steps_than_the_fidelity_is_never_repeated() -> None:
    suggester = make_suggester(PLANE, AlgorithmConfig("bayes", REPEATS))  # type: ignore[arg-type]
    rng = random.Random(2)
    points = [{"x": rng.random(), "y": rng.random()} for _ in range(8)]
    completed = [Observed(p, bowl(p) + 0.5, step_budget=10) for p in points]
    short = Observed({"x": 0.3, "y": 0.6}, -1.0, step_budget=3)  # best, but ended early
    history = History(9, (*completed, short), max_steps=10)
    repeat = suggester.suggest(PLANE, history, 1, seed=0).suggestions[0]
    assert repeat.repeat
    assert repeat.params != short.params


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"repeat_every": -1}, "algorithm.options.repeat_every"),
        ({"max_evaluations": 0}, "algorithm.options.max_evaluations"),
        ({"max_evaluations": 2.5}, "algorithm.options.max_evaluations"),
    ],
)
def test_bad_repeat_options_name_their_field(options: dict, field: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        make_suggester(PLANE, AlgorithmConfig("bayes", options))
    assert raised.value.field == field
