"""Learning curves as observations of (configuration, step), for the `bayes` model.

A finished trial's curve says more than its last value: what this
configuration reached after 1, 2, 4, ... epochs. With curves modelled, the GP
takes the step as one more feature, its fidelity, `log(1 + step) / log(1 +
max_steps)` in [0, 1] (early epochs, where curves move most, lie as far apart
as late ones), and each trial adds the best value it had reached at a ladder
of steps (1, 2, 4, ... and its last), so a trial costs the model at most
`log2(max_steps) + 2` points however often it reported. A completed trial's
final value sits at the fidelity of its step budget, 1 unless the algorithm
asked for a shorter one: it trained as far as it was meant to. A
stopped trial's last value sits at the step where it stopped, where the
model reads it as an early value, not a final one; with `stopped_as_final`
its best value sits at fidelity 1 as well, the stopping rule's bet that it
would have ended no better. The acquisition then asks
what a configuration reaches at fidelity 1 (`AcquisitionSearch`'s fixed
column), and the incumbent is the best posterior mean there among the
configurations tried.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from botorch.models.gpytorch import GPyTorchModel

from hyperdial.server.algorithms.base import History, Observed
from hyperdial.server.algorithms.gp import Incumbent, best_mean


@dataclass(frozen=True)
class CurvePoint:
    """One observation the model sees: whose it is, at which fidelity, its signed value."""

    trial: int
    fidelity: float
    value: float


def max_steps(history: History) -> int:
    """The step that is fidelity 1: the study's declared `max_steps`, else the last seen."""
    if history.max_steps:
        return history.max_steps
    observed = (*history.completed, *history.pruned)
    return max((m.step for o in observed for m in o.curve), default=0)


def fidelity(step: int, full: int) -> float:
    """A step's position in [0, 1] on a log scale; steps past `full` count as full."""
    return min(1.0, math.log1p(max(step, 0)) / math.log1p(full))


def ladder(last: int) -> list[int]:
    """The steps a curve is read at: 1, 2, 4, ... below `last`, then `last`."""
    steps, step = [], 1
    while step < last:
        steps.append(step)
        step *= 2
    return [*steps, last]


def curve_points(
    observed: Sequence[Observed],
    completed: int,
    full: int,
    sign: float,
    stopped_as_final: bool = False,
) -> list[CurvePoint]:
    """Every point of `observed`'s curves the model sees (the first `completed` completed).

    `sign` turns values "higher is better". A trial without a curve is one
    point at fidelity 1, as in a model without curves, and so is a stopped
    trial's best value with `stopped_as_final`.
    """
    points: list[CurvePoint] = []
    for index, trial in enumerate(observed):
        # A completed trial ends where its grant ended: in full unless granted fewer steps.
        end = fidelity(trial.step_budget, full) if index < completed and trial.step_budget else 1.0
        by_step = {m.step: sign * m.value for m in trial.curve}
        steps = sorted(by_step)
        best, read = -math.inf, 0
        for mark in ladder(steps[-1]) if steps else ():
            while read < len(steps) and steps[read] <= mark:
                best = max(best, by_step[steps[read]])
                read += 1
            at = fidelity(mark, full)
            if read and not (index < completed and at >= end):
                points.append(CurvePoint(index, at, best))
        if index < completed or not steps or stopped_as_final:
            points.append(CurvePoint(index, end, sign * trial.value))
    return points


def with_curves(
    rows: list[list[float]],
    outcomes: list[list[float]],
    observed: Sequence[Observed],
    completed: int,
    full: int,
    sign: float,
    stopped_as_final: bool = False,
) -> tuple[list[list[float]], list[list[float]]]:
    """Feature rows with a fidelity column, and their outcomes, for `curve_points`.

    `rows` and `outcomes` are the model's data without curves: `observed`'s
    first (the first `completed` completed), then rows without a curve
    (infeasible trials), which stay at fidelity 1. Outcomes are one value,
    turned "higher is better" by `sign`.
    """
    points = curve_points(observed, completed, full, sign, stopped_as_final)
    curve_rows = [[*rows[p.trial], p.fidelity] for p in points]
    curve_outcomes = [[p.value] for p in points]
    rest = range(len(observed), len(rows))
    return (
        curve_rows + [[*rows[i], 1.0] for i in rest],
        curve_outcomes + [outcomes[i] for i in rest],
    )


def full_fidelity_incumbent(model: GPyTorchModel, x: torch.Tensor) -> Incumbent:
    """The configuration tried (of feature rows `x`) with the best posterior mean at fidelity 1."""
    projected = x.clone()
    projected[:, -1] = 1.0
    return best_mean(model, torch.unique(projected, dim=0))
