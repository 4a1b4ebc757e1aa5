"""Maps configurations to a model's feature vectors and back (one column per parameter).

A surrogate model needs each parameter where its structure shows: a float is
a coordinate in [0, 1] (log scales in log space); an integer is the same
coordinate restricted to the integers' images, so an optimizer can step from
one integer to the next instead of seeing a staircase; a categorical is its
choice index, for a kernel that compares choices for equality only, never by
order. A parameter inactive under its condition takes a fixed filler (the
middle of the range, or an extra "absent" category), so points differing only
in parameters they do not use look alike to the model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hyperdial.server.space.params import (
    CategoricalParam,
    FloatParam,
    IntParam,
    Param,
    ParamValue,
    SearchSpace,
)

INACTIVE_NUMERIC = 0.5


@dataclass(frozen=True)
class FeatureLayout:
    """Which columns are continuous, integer-valued or categorical.

    Attributes:
        discrete: column -> the allowed feature values of an integer parameter.
        categorical: column -> the choice indices of a categorical parameter.
    """

    width: int
    discrete: Mapping[int, tuple[float, ...]]
    categorical: Mapping[int, tuple[int, ...]]


def _scale(param: FloatParam | IntParam, value: float) -> float:
    if param.log:
        low, high = math.log(param.low), math.log(param.high)
        return (math.log(value) - low) / (high - low)
    return (value - param.low) / (param.high - param.low)


def _unscale(param: FloatParam | IntParam, u: float) -> float:
    u = min(max(u, 0.0), 1.0)
    if param.log:
        low, high = math.log(param.low), math.log(param.high)
        return math.exp(low + u * (high - low))
    return param.low + u * (param.high - param.low)


def layout(space: SearchSpace, max_discrete_values: int = 1_000_000) -> FeatureLayout:
    """The space's columns; integer ranges wider than `max_discrete_values` stay continuous."""
    discrete: dict[int, tuple[float, ...]] = {}
    categorical: dict[int, tuple[int, ...]] = {}
    for column, param in enumerate(space.params):
        if isinstance(param, CategoricalParam):
            categorical[column] = tuple(range(len(param.choices)))
        elif isinstance(param, IntParam) and param.high - param.low < max_discrete_values:
            discrete[column] = tuple(
                _scale(param, value) for value in range(param.low, param.high + 1)
            )
    return FeatureLayout(len(space.params), discrete, categorical)


def _feature(param: Param, value: ParamValue | None) -> float:
    if isinstance(param, CategoricalParam):
        return float(len(param.choices) if value is None else param.choices.index(str(value)))
    if value is None:
        return INACTIVE_NUMERIC
    return _scale(param, float(value))


def to_features(space: SearchSpace, params: Mapping[str, ParamValue]) -> list[float]:
    """The feature vector of a configuration (inactive parameters take their filler)."""
    return [_feature(param, params.get(param.name)) for param in space.params]


def _value(param: Param, feature: float) -> ParamValue:
    if isinstance(param, CategoricalParam):
        return param.choices[min(max(round(feature), 0), len(param.choices) - 1)]
    number = _unscale(param, feature)
    if isinstance(param, IntParam):
        return min(max(round(number), param.low), param.high)
    return min(max(number, param.low), param.high)


def from_features(space: SearchSpace, row: Sequence[float]) -> dict[str, ParamValue]:
    """The configuration at a feature vector; parameters inactive there are left out."""
    values: dict[str, ParamValue] = {}
    for param, feature in zip(space.params, row, strict=True):
        if space.is_active(param, values):
            values[param.name] = _value(param, float(feature))
    return values


def canonical(space: SearchSpace, params: Mapping[str, ParamValue]) -> tuple[ParamValue, ...]:
    """A hashable key equal for equal configurations (to refuse duplicates)."""
    return tuple(params.get(param.name, "") for param in space.params)
