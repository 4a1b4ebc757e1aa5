"""Grid enumeration: the full factorial over each parameter's grid values.

A numeric parameter contributes its explicit `grid_values`, or `grid_points`
evenly spaced values (log-spaced on a log scale; integers rounded and
de-duplicated); a categorical contributes its choices. Conditional parameters
only multiply the branches where they are active, so no point repeats.
Points come in a fixed order, so the n-th point is the same on every server.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from hyperdial.server.errors import InvalidArgument
from hyperdial.server.space.params import (
    CategoricalParam,
    FloatParam,
    Param,
    ParamValue,
    SearchSpace,
)

MAX_GRID_POINTS = 100_000
MAX_POINTS_PER_PARAM = 10_000


def param_grid(param: Param, default_points: int) -> tuple[ParamValue, ...]:
    """The values `param` takes on the grid."""
    if param.grid_values:
        return tuple(param.grid_values)
    if isinstance(param, CategoricalParam):
        return param.choices
    points = param.grid_points or default_points
    if not 1 <= points <= MAX_POINTS_PER_PARAM:
        raise InvalidArgument("grid_points", f"must be in 1..{MAX_POINTS_PER_PARAM}, got {points}")
    if points == 1:
        return (param.low,)
    spaced = (
        np.geomspace(param.low, param.high, points)
        if param.log
        else np.linspace(param.low, param.high, points)
    )
    if isinstance(param, FloatParam):
        # Pin the ends exactly: geomspace may miss them by an ulp.
        values = [float(v) for v in spaced]
        values[0], values[-1] = param.low, param.high
        return tuple(values)
    return tuple(dict.fromkeys(round(float(v)) for v in spaced))


def enumerate_grid(space: SearchSpace, default_points: int) -> tuple[dict[str, ParamValue], ...]:
    """All grid points in a fixed order; refuses grids over `MAX_GRID_POINTS`."""
    values: list[tuple[ParamValue, ...]] = []
    for i, param in enumerate(space.params):
        try:
            values.append(param_grid(param, default_points))
        except InvalidArgument as error:
            raise error.within(f"parameters[{i}]") from None
    points: list[dict[str, ParamValue]] = []
    for point in _expand(space, values, 0, {}):
        points.append(point)
        if len(points) > MAX_GRID_POINTS:
            raise InvalidArgument(
                "algorithm.options.grid_points",
                f"the grid has more than {MAX_GRID_POINTS} points; use fewer points or random",
            )
    return tuple(points)


def _expand(
    space: SearchSpace,
    values: list[tuple[ParamValue, ...]],
    index: int,
    partial: dict[str, ParamValue],
) -> Iterator[dict[str, ParamValue]]:
    if index == len(space.params):
        yield dict(partial)
        return
    param = space.params[index]
    if not space.is_active(param, partial):
        yield from _expand(space, values, index + 1, partial)
        return
    for value in values[index]:
        partial[param.name] = value
        yield from _expand(space, values, index + 1, partial)
    del partial[param.name]
