"""The recommended trial: the model's best posterior mean, not the luckiest draw."""

from __future__ import annotations

import random
import statistics

import pytest

from hyperdial.server.algorithms.base import History, Observed
from hyperdial.server.algorithms.recommend import recommend
from hyperdial.server.domain import Goal, Measurement, Objective
from hyperdial.server.space import CategoricalParam, FloatParam, SearchSpace

PLANE = SearchSpace((FloatParam("x", 0.0, 1.0), FloatParam("y", 0.0, 1.0)))
SEEDS = range(12)


def true_value(params: dict) -> float:
    return (params["x"] - 0.3) ** 2 + (params["y"] - 0.6) ** 2


def noisy_history(seed: int, noise: float, trials: int = 30) -> History:
    rng = random.Random(seed)
    points = [{"x": rng.random(), "y": rng.random()} for _ in range(trials)]
    observed = tuple(Observed(p, true_value(p) + rng.gauss(0.0, noise)) for p in points)
    return History(trials, observed)


def observed_best(history: History) -> int:
    return min(range(len(history.completed)), key=lambda i: history.completed[i].value)


def test_on_a_noisy_objective_the_recommendation_is_truly_better_than_the_luckiest_draw() -> None:
    ours, luckiest, wins, losses = [], [], 0, 0
    for seed in SEEDS:
        history = noisy_history(seed, noise=0.05)
        found = recommend(PLANE, history, seed=seed)
        assert found is not None
        mine = true_value(history.completed[found.index].params)
        theirs = true_value(history.completed[observed_best(history)].params)
        ours.append(mine)
        luckiest.append(theirs)
        wins, losses = wins + (mine < theirs), losses + (mine > theirs)
    assert wins >= 3, (wins, losses)
    assert losses <= 1, (wins, losses)
    assert statistics.fmean(ours) < 0.8 * statistics.fmean(luckiest)


def test_the_recommendation_carries_the_models_estimate_sd_and_noise() -> None:
    noise_levels = []
    for seed in SEEDS:
        history = noisy_history(seed, noise=0.05)
        found = recommend(PLANE, history, seed=seed)
        assert found is not None
        assert found.modelled == 30
        assert found.sd > 0
        observed = history.completed[found.index].value
        assert abs(found.estimate - observed) < 4 * 0.05
        noise_levels.append(found.noise_sd)
    assert 0.025 < statistics.median(noise_levels) < 0.1  # the true noise sd is 0.05


def test_on_a_deterministic_objective_the_recommendation_is_the_observed_best() -> None:
    for seed in SEEDS:
        history = noisy_history(seed, noise=0.0)
        found = recommend(PLANE, history, seed=seed)
        assert found is not None
        assert found.index == observed_best(history)
        assert found.estimate == pytest.approx(history.completed[found.index].value, abs=1e-3)
        assert found.noise_sd < 1e-2


def test_maximized_objectives_and_categoricals_are_recommended_in_their_own_units() -> None:
    space = SearchSpace((FloatParam("x", 0.0, 1.0), CategoricalParam("kind", ("a", "b"))))
    rng = random.Random(1)
    observed = []
    for _ in range(20):
        params = {"x": rng.random(), "kind": rng.choice(["a", "b"])}
        bonus = 1.0 if params["kind"] == "b" else 0.0
        observed.append(Observed(params, bonus - (params["x"] - 0.5) ** 2))
    found = recommend(space, History(20, tuple(observed), maximize=True), seed=0)
    assert found is not None
    best = max(range(20), key=lambda i: observed[i].value)
    assert found.index == best
    assert found.estimate == pytest.approx(observed[best].value, abs=1e-2)


def test_infeasible_and_constraint_breaking_trials_are_never_recommended() -> None:
    history = noisy_history(3, noise=0.0, trials=12)
    best = observed_best(history)
    breaking = history.completed[best]
    completed = list(history.completed)
    completed[best] = Observed(breaking.params, breaking.value, slacks=(1.0,))
    others = [Observed(o.params, o.value, slacks=(-1.0,)) for o in completed]
    others[best] = completed[best]
    found = recommend(PLANE, History(12, tuple(others), infeasible=({"x": 0.3, "y": 0.6},)))
    assert found is not None
    assert found.index != best


def test_too_few_distinct_values_give_no_recommendation_and_several_objectives_raise() -> None:
    same = tuple(Observed({"x": 0.1 * k, "y": 0.5}, 1.0) for k in range(5))
    assert recommend(PLANE, History(5, same)) is None
    assert recommend(PLANE, History(0)) is None
    objectives = (Objective("a", Goal.MINIMIZE), Objective("b", Goal.MINIMIZE))
    with pytest.raises(ValueError, match="single objective"):
        recommend(PLANE, History(5, same, objectives=objectives))


def test_the_model_overrules_the_best_observation_only_as_sure_as_asked() -> None:
    history = noisy_history(2, noise=0.05)
    luckiest = observed_best(history)
    sure = recommend(PLANE, history, seed=2)
    assert sure is not None
    assert sure.overrules
    assert sure.index != luckiest
    never = recommend(PLANE, history, seed=2, confidence=1.0)
    assert never is not None
    assert never.index == luckiest
    assert not never.overrules
    deterministic = recommend(PLANE, noisy_history(2, noise=0.0), seed=2)
    assert deterministic is not None
    assert not deterministic.overrules


def curve(values: list[float]) -> tuple[Measurement, ...]:
    return tuple(Measurement(step, value) for step, value in enumerate(values, start=1))


def test_a_trial_whose_best_step_is_a_lucky_dip_is_not_recommended_over_a_steady_one() -> None:
    rng = random.Random(4)
    others = [{"x": rng.random(), "y": rng.random()} for _ in range(20)]
    completed = [Observed(p, 0.3 + 0.01 * true_value(p)) for p in others]  # nearly flat
    steady = [0.4, 0.2, 0.12, 0.1, 0.09, 0.091, 0.092, 0.095]
    jagged = [0.5, 0.3, 0.25, 0.06, 0.24, 0.26, 0.25, 0.27]
    completed.append(Observed({"x": 0.9, "y": 0.1}, 0.09, curve=curve(steady)))
    completed.append(Observed({"x": 0.1, "y": 0.9}, 0.06, curve=curve(jagged)))
    history = History(22, tuple(completed))
    found = recommend(PLANE, history, seed=0)
    assert found is not None
    assert found.observed == 21  # the dip is the best observed value
    assert found.index == 20  # the steady curve settles lower
    assert not found.overrules  # settling alone, not the model, moved the pick
    # Without curves the dip is the best observation, and the model cannot overrule it.
    bare = History(22, tuple(Observed(o.params, o.value) for o in completed))
    without = recommend(PLANE, bare, seed=0)
    assert without is not None
    assert without.index == 21
