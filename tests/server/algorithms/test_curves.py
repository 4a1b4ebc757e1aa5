"""Learning curves in the bayes model: which points enter, and what they change."""

from __future__ import annotations

import math

import pytest

from hyperdial.server.algorithms.base import History, Observed, make_suggester
from hyperdial.server.algorithms.curves import curve_points, fidelity, ladder
from hyperdial.server.domain import AlgorithmConfig, Measurement
from hyperdial.server.space import FloatParam, SearchSpace

LINE = SearchSpace((FloatParam("x", 0.0, 1.0),))
FAST = {"restarts": 2, "raw_samples": 128}


def _falling(final: float, steps: int) -> tuple[Measurement, ...]:
    """A loss curve falling from final + 1 at step 1 to about `final` at `steps`."""
    return tuple(Measurement(step, final + 1.0 / step) for step in range(1, steps + 1))


def test_a_trial_is_read_at_a_ladder_of_steps_with_its_best_value_so_far() -> None:
    assert ladder(20) == [1, 2, 4, 8, 16, 20]
    assert ladder(1) == [1]
    bumpy = (Measurement(1, 0.9), Measurement(2, 0.5), Measurement(3, 0.7), Measurement(4, 0.8))
    completed = Observed({"x": 0.1}, 0.45, curve=bumpy)
    stopped = Observed({"x": 0.2}, 0.6, curve=(Measurement(1, 0.8), Measurement(2, 0.6)))
    points = curve_points((completed, stopped), completed=1, full=8, sign=-1.0)
    mine = [(p.fidelity, -p.value) for p in points if p.trial == 0]
    # Best so far at steps 1, 2, 4 (0.5, not 0.8), then the final value at fidelity 1.
    assert mine == [
        (fidelity(1, 8), 0.9),
        (fidelity(2, 8), 0.5),
        (fidelity(4, 8), 0.5),
        (1.0, 0.45),
    ]
    # A stopped trial ends where it stopped, not at fidelity 1.
    assert [(p.fidelity, -p.value) for p in points if p.trial == 1] == [
        (fidelity(1, 8), 0.8),
        (fidelity(2, 8), 0.6),
    ]
    # Read as final too (`stopped_as_final`), its best value also sits at fidelity 1.
    as_final = curve_points((completed, stopped), 1, 8, -1.0, stopped_as_final=True)
    assert [(p.fidelity, -p.value) for p in as_final if p.trial == 1] == [
        (fidelity(1, 8), 0.8),
        (fidelity(2, 8), 0.6),
        (1.0, 0.6),
    ]
    assert fidelity(8, 8) == fidelity(16, 8) == 1.0
    assert 0 < fidelity(1, 8) < 0.5


def test_many_reported_steps_cost_the_model_a_few_points_a_trial() -> None:
    trials = [Observed({"x": k / 100}, 0.5, curve=_falling(0.5, 1000)) for k in range(100)]
    points = curve_points(trials, completed=50, full=1000, sign=-1.0)
    assert len(points) <= 100 * (math.log2(1000) + 2)
    suggester = make_suggester(LINE, AlgorithmConfig("bayes", {**FAST, "max_fit_points": 40}))
    history = History(draws=100, completed=tuple(trials[:50]), pruned=tuple(trials[50:]))
    data = suggester._training_data(LINE, history, seed=0)  # the rows the GP is given
    assert data.x.shape == (40, 2)  # x and its fidelity, capped at max_fit_points


@pytest.mark.parametrize(
    ("options", "held_against"),
    [
        ({}, False),
        ({"model_curves": False}, True),
        ({"stopped_as_final": True}, True),
    ],
)
def test_a_slow_starter_stopped_early_is_held_against_its_region_only_when_read_as_final(
    options: dict[str, bool], held_against: bool
) -> None:
    """Every curve starts a full 1.0 above where it ends; the best finals lie toward x = 0.

    Two trials near x = 0.1 were stopped at step 1 with the value every good
    trial had there. Read as a curve, that value promises the best final of all;
    read as a final value (without curves, or `stopped_as_final`), it is the worst seen.
    """
    completed = tuple(
        Observed({"x": x}, x, curve=_falling(x, 8)) for x in (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    )
    stopped = tuple(
        Observed({"x": x}, x + 1.0, curve=(Measurement(1, x + 1.0),)) for x in (0.1, 0.15)
    )
    suggester = make_suggester(LINE, AlgorithmConfig("bayes", {"initial_trials": 2, **options}))
    history = History(draws=10, completed=completed, pruned=stopped, max_steps=8)
    chosen = [
        suggester.suggest(LINE, history, 1, seed=seed).suggestions[0].params["x"]
        for seed in range(3)
    ]
    if held_against:
        assert all(x > 0.3 for x in chosen), chosen
    else:
        assert all(x < 0.3 for x in chosen), chosen


def test_trials_stopped_with_bad_curves_keep_the_model_out_of_their_region() -> None:
    completed = tuple(
        Observed({"x": x}, x, curve=_falling(x, 8)) for x in (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    )
    stopped = tuple(
        Observed({"x": x}, 3.0, curve=(Measurement(1, 3.2), Measurement(2, 3.0)))
        for x in (0.02, 0.1, 0.18, 0.26)
    )
    suggester = make_suggester(LINE, AlgorithmConfig("bayes", {"initial_trials": 2}))
    history = History(draws=10, completed=completed, pruned=stopped, max_steps=8)
    chosen = [
        suggester.suggest(LINE, history, 1, seed=seed).suggestions[0].params["x"]
        for seed in range(3)
    ]
    assert all(x > 0.3 for x in chosen), chosen


def test_a_study_without_curves_is_modelled_as_without_the_option() -> None:
    completed = tuple(Observed({"x": x}, (x - 0.3) ** 2) for x in (0.0, 0.2, 0.5, 0.7, 1.0))
    history = History(draws=5, completed=completed, max_steps=8)
    chosen = [
        make_suggester(
            LINE, AlgorithmConfig("bayes", {"initial_trials": 2, "model_curves": on})
        ).suggest(LINE, history, 2, seed=4)
        for on in (True, False)
    ]
    assert chosen[0].suggestions == chosen[1].suggestions


@pytest.mark.parametrize(("settle", "drawn_to_jagged"), [(True, False), (False, True)])
def test_a_jagged_curves_lucky_dip_draws_the_search_only_without_settling(
    settle: bool, drawn_to_jagged: bool
) -> None:
    """Curves near x = 0.2 hover at 0.5 with one dip to 0.1; those near 0.8 settle at 0.2.

    By best steps the jagged region is ahead (0.1 against 0.2); settled, as the
    recommendation ranks trials, it is far behind, and the search goes where the
    steady curves are.
    """
    jagged = (0.6, 0.5, 0.55, 0.1, 0.5, 0.55, 0.5, 0.5)
    steady = (0.6, 0.4, 0.3, 0.25, 0.22, 0.21, 0.2, 0.2)

    def trial(x: float, curve: tuple[float, ...]) -> Observed:
        steps = tuple(Measurement(k + 1, v) for k, v in enumerate(curve))
        return Observed({"x": x}, min(curve), curve=steps)

    completed = tuple(trial(x, jagged) for x in (0.1, 0.2, 0.3)) + tuple(
        trial(x, steady) for x in (0.7, 0.8, 0.9)
    )
    options = {"initial_trials": 2, "settle": settle}
    suggester = make_suggester(LINE, AlgorithmConfig("bayes", options))
    history = History(draws=6, completed=completed, max_steps=8)
    chosen = [
        suggester.suggest(LINE, history, 1, seed=seed).suggestions[0].params["x"]
        for seed in range(3)
    ]
    assert all((x < 0.5) == drawn_to_jagged for x in chosen), chosen
