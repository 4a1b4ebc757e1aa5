"""Search-space model: parameters, conditions, unit-cube decoding and grids."""

from __future__ import annotations

from hyperdial.server.space.params import (
    CategoricalParam,
    Condition,
    FloatParam,
    IntParam,
    Param,
    ParamValue,
    SearchSpace,
)

__all__ = [
    "CategoricalParam",
    "Condition",
    "FloatParam",
    "IntParam",
    "Param",
    "ParamValue",
    "SearchSpace",
]
