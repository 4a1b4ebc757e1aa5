"""How plots draw a study's parameters: each on [0, 1], with ticks; and how much each matters."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from hyperdial.client.trial import Trial
from hyperdial.v1 import hyperdial_pb2 as pb

# A numeric parameter's range is cut into this many bins to measure its importance.
IMPORTANCE_BINS = 5


@dataclass(frozen=True)
class Axis:
    """How a parameter is drawn: its range, scale and categories."""

    name: str
    low: float = 0.0
    high: float = 1.0
    log: bool = False
    choices: tuple[str, ...] = ()
    integer: bool = False

    @classmethod
    def of(cls, parameter: pb.Parameter) -> Axis:
        """The axis of a study parameter."""
        kind = parameter.WhichOneof("domain")
        if kind == "categorical":
            return cls(parameter.name, choices=tuple(parameter.categorical.choices))
        domain = parameter.float_range if kind == "float_range" else parameter.int_range
        integer = kind == "int_range"
        return cls(parameter.name, float(domain.low), float(domain.high), domain.log, (), integer)

    def unit(self, value: float | int | str) -> float:
        """The value's position on [0, 1]."""
        if self.choices:
            return self.choices.index(str(value)) / max(1, len(self.choices) - 1)
        if self.log:
            low, high = math.log(self.low), math.log(self.high)
            return (math.log(float(value)) - low) / (high - low)
        return (float(value) - self.low) / (self.high - self.low)

    def ticks(self, count: int = 5) -> list[tuple[float, str]]:
        """(position on [0, 1], label) of the axis' ticks: its categories, or `count` values.

        An integer range gets every integer when it has at most `2 * count`, else
        `count` values rounded to integers.
        """
        if self.choices:
            return [(self.unit(c), c) for c in self.choices]
        if self.integer and self.high - self.low < 2 * count:
            integers = range(int(self.low), int(self.high) + 1)
            return [(self.unit(i), str(i)) for i in integers]
        ticks = []
        for k in range(count):
            position = k / (count - 1)
            if self.log:
                value = math.exp(
                    math.log(self.low) + position * (math.log(self.high) - math.log(self.low))
                )
            else:
                value = self.low + position * (self.high - self.low)
            if self.integer:
                ticks.append((self.unit(round(value)), str(round(value))))
            else:
                ticks.append((position, f"{value:.3g}"))
        return ticks


def completed(trials: Sequence[Trial]) -> list[Trial]:
    """The completed trials that have a value (plots of one objective draw those)."""
    return [t for t in trials if t.state == "COMPLETED" and t.value is not None]


def importances(trials: Sequence[Trial], axes_of: Sequence[Axis]) -> dict[str, float]:
    """Each parameter's correlation ratio (variance of group means / total variance)."""
    done = completed(trials)
    values = [t.value for t in done if t.value is not None]
    if len(values) < 2 or statistics.pvariance(values) == 0:
        return {a.name: 0.0 for a in axes_of}
    total, mean = statistics.pvariance(values), statistics.fmean(values)
    shares = {}
    for axis in axes_of:
        groups: dict[int, list[float]] = {}
        for trial in done:
            if axis.name not in trial.params or trial.value is None:
                continue
            position = axis.unit(trial.params[axis.name])
            key = (
                axis.choices.index(str(trial.params[axis.name]))
                if axis.choices
                else min(int(position * IMPORTANCE_BINS), IMPORTANCE_BINS - 1)
            )
            groups.setdefault(key, []).append(trial.value)
        between = sum(len(g) * (statistics.fmean(g) - mean) ** 2 for g in groups.values())
        shares[axis.name] = between / (len(values) * total)
    return shares
