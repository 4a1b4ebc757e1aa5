"""A trial's settled value: its reported best step without the luck of that step."""

from __future__ import annotations

import statistics

import pytest

from hyperdial.server.algorithms.base import Observed
from hyperdial.server.algorithms.settling import SCATTER_WEIGHT, settled_value
from hyperdial.server.domain import Measurement


def observed(value: float, curve: list[float]) -> Observed:
    return Observed({}, value, curve=tuple(Measurement(k + 1, v) for k, v in enumerate(curve)))


def window(values: list[float], sign: float) -> float:
    """A window's worth as the settled value counts it: its mean, worsened by its scatter."""
    return statistics.fmean(values) - sign * SCATTER_WEIGHT * statistics.pstdev(values)


def test_a_lucky_dip_of_a_jagged_curve_settles_above_the_curves_level() -> None:
    jagged = [0.9, 0.5, 0.35, 0.30, 0.34, 0.12, 0.33, 0.31, 0.36]
    settled = settled_value(observed(0.12, jagged), maximize=False)
    assert settled == pytest.approx(window([0.30, 0.34, 0.12, 0.33, 0.31], sign=-1))
    assert settled > statistics.fmean([0.30, 0.34, 0.12, 0.33, 0.31])


def test_of_two_curves_at_one_level_the_steady_one_settles_better() -> None:
    steady = [0.9, 0.5, 0.31, 0.30, 0.29, 0.30, 0.31]
    jagged = [0.9, 0.5, 0.20, 0.40, 0.19, 0.42, 0.29]
    assert statistics.fmean(steady[2:]) == pytest.approx(statistics.fmean(jagged[2:]), abs=0.01)
    assert settled_value(observed(0.29, steady), maximize=False) < settled_value(
        observed(0.19, jagged), maximize=False
    )


def test_a_smooth_curve_settles_close_to_its_best_step() -> None:
    smooth = [0.5, 0.3, 0.2, 0.15, 0.13, 0.12, 0.118, 0.117, 0.119, 0.121]
    settled = settled_value(observed(0.117, smooth), maximize=False)
    assert 0.117 < settled < 0.12


def test_a_maximized_objective_settles_below_its_best_step() -> None:
    accuracy = [0.5, 0.8, 0.85, 0.97, 0.84, 0.86, 0.85, 0.84, 0.83]
    settled = settled_value(observed(0.97, accuracy), maximize=True)
    assert settled == pytest.approx(window([0.85, 0.97, 0.84, 0.86, 0.85], sign=1))


@pytest.mark.parametrize(
    ("value", "curve"),
    [
        (0.4, [0.5, 0.3, 0.2, 0.35]),  # the last step's value, or a metric of its own
        (0.2, []),  # no curve
        (0.2, [0.2]),  # one step: nothing to average
        (0.2, [0.5, float("nan"), 0.2]),  # a curve with a broken step
    ],
)
def test_a_value_that_is_not_a_curves_best_step_stands_as_reported(
    value: float, curve: list[float]
) -> None:
    assert settled_value(observed(value, curve), maximize=False) == value
