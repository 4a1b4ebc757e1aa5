"""Maps points of the unit cube to parameter values (cf. Optuna's `_transform.py`).

Random and quasi-random search draw one coordinate per parameter in [0, 1) and
decode it here: log scales are uniform in log space, integers are rounded so
each integer gets an equal share, categoricals split the interval evenly.
Inactive parameters consume their coordinate but take no value, so a draw's
meaning does not depend on which branches are active.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from hyperdial.server.space.params import (
    CategoricalParam,
    FloatParam,
    IntParam,
    Param,
    ParamValue,
    SearchSpace,
)


def decode_coordinate(param: Param, u: float) -> ParamValue:
    """Returns the value of `param` at unit coordinate `u` in [0, 1]."""
    u = min(max(u, 0.0), 1.0)
    if isinstance(param, CategoricalParam):
        return param.choices[min(int(u * len(param.choices)), len(param.choices) - 1)]
    if isinstance(param, FloatParam):
        if param.log:
            low, high = math.log(param.low), math.log(param.high)
            return min(max(math.exp(low + u * (high - low)), param.low), param.high)
        # Rounding may step past an end by an ulp: a value handed out is always in range.
        return min(max(param.low + u * (param.high - param.low), param.low), param.high)
    return _decode_int(param, u)


def _decode_int(param: IntParam, u: float) -> int:
    # Widen by half a step on each side so the end values are as likely as the rest.
    if param.log:
        low, high = math.log(param.low - 0.5), math.log(param.high + 0.5)
        value = round(math.exp(low + u * (high - low)))
    else:
        value = math.floor(param.low + u * (param.high - param.low + 1))
    return min(max(value, param.low), param.high)


def decode(space: SearchSpace, point: Sequence[float]) -> dict[str, ParamValue]:
    """Decodes one point of the unit cube (one coordinate per parameter)."""
    if len(point) != len(space.params):
        raise ValueError(f"point has {len(point)} coordinates, space has {len(space.params)}")
    values: dict[str, ParamValue] = {}
    for param, u in zip(space.params, point, strict=True):
        if space.is_active(param, values):
            values[param.name] = decode_coordinate(param, float(u))
    return values
