"""Grid enumeration: the full factorial over each parameter's grid values.

A numeric parameter contributes its explicit `grid_values`, or `grid_points`
evenly spaced values (log-spaced on a log scale; integers rounded and
de-duplicated); a categorical contributes its choices. Conditional parameters
only multiply the branches where they are active, so no point repeats.
Points come in a fixed order, so the n-th point is the same on every server.
`Grid` gives the point at any index without listing the grid when it can.
"""

from __future__ import annotations

import math
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

MAX_GRID_POINTS = 1_000_000_000
MAX_LISTED_POINTS = 100_000
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


class Grid:
    """The grid of a space: its size, and its point at any index.

    Without conditions the grid is a full factorial, so point i is decoded in
    mixed radix (the first parameter varies slowest) and a grid of millions of
    points costs no memory. Conditional branches make the factorial ragged:
    those grids are listed once, up to `MAX_LISTED_POINTS` points.
    """

    def __init__(self, space: SearchSpace, default_points: int) -> None:
        self._names = [param.name for param in space.params]
        self._values: list[tuple[ParamValue, ...]] = []
        for i, param in enumerate(space.params):
            try:
                self._values.append(param_grid(param, default_points))
            except InvalidArgument as error:
                raise error.within(f"parameters[{i}]") from None
        self._listed: tuple[dict[str, ParamValue], ...] | None = None
        if any(param.condition is not None for param in space.params):
            self._listed = _list_points(space, self._values)
            self.size = len(self._listed)
        else:
            self.size = math.prod(len(values) for values in self._values)
            if self.size > MAX_GRID_POINTS:
                raise InvalidArgument(
                    "algorithm.options.grid_points",
                    f"the grid has {self.size} points, more than {MAX_GRID_POINTS}; "
                    "use fewer points or random search",
                )

    def point(self, index: int) -> dict[str, ParamValue]:
        """The grid point at `index` in [0, size)."""
        if self._listed is not None:
            return self._listed[index]
        point: dict[str, ParamValue] = {}
        for name, values in zip(reversed(self._names), reversed(self._values), strict=True):
            index, digit = divmod(index, len(values))
            point[name] = values[digit]
        return {name: point[name] for name in self._names}


def _list_points(
    space: SearchSpace, values: list[tuple[ParamValue, ...]]
) -> tuple[dict[str, ParamValue], ...]:
    points: list[dict[str, ParamValue]] = []
    for point in _expand(space, values, 0, {}):
        points.append(point)
        if len(points) > MAX_LISTED_POINTS:
            raise InvalidArgument(
                "algorithm.options.grid_points",
                f"a grid with conditional parameters may hold at most {MAX_LISTED_POINTS} "
                "points; use fewer points or random search",
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
