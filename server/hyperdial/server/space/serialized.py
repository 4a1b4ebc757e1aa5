"""A search space as plain data: the JSON form a study's config is stored in."""

from __future__ import annotations

from typing import Any

from hyperdial.server.space.params import (
    CategoricalParam,
    Condition,
    FloatParam,
    IntParam,
    Param,
    SearchSpace,
)


def space_to_data(space: SearchSpace) -> list[dict[str, Any]]:
    """Each parameter as a dict of JSON values, in declared order."""
    return [_param_to_data(p) for p in space.params]


def space_from_data(data: list[dict[str, Any]]) -> SearchSpace:
    """Inverse of `space_to_data`."""
    return SearchSpace(tuple(_param_from_data(p) for p in data))


def _param_to_data(param: Param) -> dict[str, Any]:
    data: dict[str, Any] = {"name": param.name, "type": type(param).__name__}
    if isinstance(param, CategoricalParam):
        data["choices"] = list(param.choices)
    else:
        data.update(low=param.low, high=param.high, log=param.log)
        data["grid_points"] = param.grid_points
    data["grid_values"] = list(param.grid_values)
    if param.condition is not None:
        cond = param.condition
        data["condition"] = {
            "parent": cond.parent,
            "values": list(cond.values),
            "min": cond.min,
            "max": cond.max,
        }
    return data


def _param_from_data(data: dict[str, Any]) -> Param:
    cond_data = data.get("condition")
    condition = (
        Condition(
            cond_data["parent"], tuple(cond_data["values"]), cond_data["min"], cond_data["max"]
        )
        if cond_data
        else None
    )
    grid_values = tuple(data["grid_values"])
    if data["type"] == "CategoricalParam":
        return CategoricalParam(data["name"], tuple(data["choices"]), condition, grid_values)
    kind = FloatParam if data["type"] == "FloatParam" else IntParam
    return kind(
        data["name"],
        data["low"],
        data["high"],
        data["log"],
        condition,
        grid_values,
        data["grid_points"],
    )
