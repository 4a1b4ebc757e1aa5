"""Validated parameter definitions and the search space they form.

Every constructor checks its own fields and raises `InvalidArgument` naming the
field as the API spells it (`float_range.low`), so a bad space is refused at
CreateStudy with a message the user can act on. `SearchSpace` adds the
checks across parameters (unique names, conditions on earlier parameters) and
prefixes each field with `parameters[i]`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TypeAlias

from hyperdial.server.errors import InvalidArgument, shown

ParamValue: TypeAlias = float | int | str

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,127}$")
# Integers beyond 2**53 lose their last digits as doubles, which the unit-cube encoding,
# grids and the models all use; no hyperparameter comes near it.
MAX_INT_MAGNITUDE = 2**53
MAX_CHOICES = 10_000
MAX_CHOICE_LENGTH = 1024


@dataclass(frozen=True)
class Condition:
    """Activates a parameter only for some values of an earlier `parent` parameter.

    `values` lists exact parent values; `min`/`max` bound a numeric parent. All
    given tests must pass.
    """

    parent: str
    values: tuple[ParamValue, ...] = ()
    min: float | None = None
    max: float | None = None

    def __post_init__(self) -> None:
        if not self.parent:
            raise InvalidArgument("condition.parent", "must name an earlier parameter")
        if not self.values and self.min is None and self.max is None:
            raise InvalidArgument("condition", "needs values, min or max")
        for bound_name, bound in (("min", self.min), ("max", self.max)):
            if bound is not None and not math.isfinite(bound):
                raise InvalidArgument(f"condition.{bound_name}", f"must be finite, got {bound}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise InvalidArgument("condition.min", f"must be <= max, got {self.min} > {self.max}")

    def holds(self, parent_value: ParamValue) -> bool:
        """Whether the condition is met for this parent value."""
        if self.values and parent_value not in self.values:
            return False
        if isinstance(parent_value, str):
            return self.min is None and self.max is None
        if self.min is not None and parent_value < self.min:
            return False
        return self.max is None or parent_value <= self.max


def _check_grid_values(
    param: FloatParam | IntParam | CategoricalParam, values: Sequence[ParamValue]
) -> None:
    if len(set(values)) != len(values):
        raise InvalidArgument("grid_values", "must not repeat a value")
    for i, value in enumerate(values):
        if not param.contains(value):
            raise InvalidArgument(f"grid_values[{i}]", f"{shown(value)} is outside the domain")


@dataclass(frozen=True)
class FloatParam:
    """A real parameter in [low, high], uniform on a linear or a log scale."""

    name: str
    low: float
    high: float
    log: bool = False
    condition: Condition | None = None
    grid_values: tuple[float, ...] = ()
    grid_points: int = 0

    def __post_init__(self) -> None:
        for end in ("low", "high"):
            if not math.isfinite(getattr(self, end)):
                raise InvalidArgument(f"float_range.{end}", "must be finite")
        if not self.low < self.high:
            raise InvalidArgument(
                "float_range.low", f"low < high must hold, got low={self.low}, high={self.high}"
            )
        if self.log and self.low <= 0:
            raise InvalidArgument("float_range.low", f"log scale needs low > 0, got {self.low}")
        if not math.isfinite(self.high - self.low):
            raise InvalidArgument(
                "float_range.high",
                f"the range is too wide: high - low overflows, got low={self.low}, "
                f"high={self.high}",
            )
        _check_grid_values(self, self.grid_values)

    def contains(self, value: ParamValue) -> bool:
        """Whether `value` is a number inside the range."""
        return (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and self.low <= value <= self.high
        )


@dataclass(frozen=True)
class IntParam:
    """An integer parameter in [low, high], uniform on a linear or a log scale."""

    name: str
    low: int
    high: int
    log: bool = False
    condition: Condition | None = None
    grid_values: tuple[int, ...] = ()
    grid_points: int = 0

    def __post_init__(self) -> None:
        for end in ("low", "high"):
            if abs(getattr(self, end)) > MAX_INT_MAGNITUDE:
                raise InvalidArgument(
                    f"int_range.{end}",
                    f"must be within ±2**53 ({MAX_INT_MAGNITUDE}), got {getattr(self, end)}",
                )
        if not self.low < self.high:
            raise InvalidArgument(
                "int_range.low", f"low < high must hold, got low={self.low}, high={self.high}"
            )
        if self.log and self.low <= 0:
            raise InvalidArgument("int_range.low", f"log scale needs low > 0, got {self.low}")
        _check_grid_values(self, self.grid_values)

    def contains(self, value: ParamValue) -> bool:
        """Whether `value` is an integer inside the range."""
        return (
            isinstance(value, int)
            and not isinstance(value, bool)
            and (self.low <= value <= self.high)
        )


@dataclass(frozen=True)
class CategoricalParam:
    """An unordered choice among strings."""

    name: str
    choices: tuple[str, ...]
    condition: Condition | None = None
    grid_values: tuple[str, ...] = ()
    grid_points: int = field(default=0, repr=False)

    def __post_init__(self) -> None:
        if not self.choices:
            raise InvalidArgument("categorical.choices", "must hold at least one choice")
        if len(self.choices) > MAX_CHOICES:
            raise InvalidArgument(
                "categorical.choices", f"at most {MAX_CHOICES} choices, got {len(self.choices)}"
            )
        for j, choice in enumerate(self.choices):
            if len(choice) > MAX_CHOICE_LENGTH:
                raise InvalidArgument(
                    f"categorical.choices[{j}]",
                    f"must be at most {MAX_CHOICE_LENGTH} characters, got {len(choice)}",
                )
        if len(set(self.choices)) != len(self.choices):
            raise InvalidArgument("categorical.choices", "must not repeat a choice")
        _check_grid_values(self, self.grid_values)

    def contains(self, value: ParamValue) -> bool:
        """Whether `value` is one of the choices."""
        return isinstance(value, str) and value in self.choices


Param: TypeAlias = FloatParam | IntParam | CategoricalParam


@dataclass(frozen=True)
class SearchSpace:
    """Parameters in declaration order; a condition may only look backwards."""

    params: tuple[Param, ...]

    def __post_init__(self) -> None:
        if not self.params:
            raise InvalidArgument("parameters", "must declare at least one parameter")
        seen: dict[str, Param] = {}
        for i, param in enumerate(self.params):
            where = f"parameters[{i}]"
            if not _NAME.match(param.name):
                raise InvalidArgument(
                    f"{where}.name",
                    f"{shown(param.name)} must start with a letter or '_' and hold at most 128 "
                    "letters, digits, '_', '.', '-'",
                )
            if param.name in seen:
                raise InvalidArgument(f"{where}.name", f"duplicate parameter {shown(param.name)}")
            if param.condition is not None:
                _check_condition(param.condition, seen, where)
            seen[param.name] = param

    @cached_property
    def max_assignment_bytes(self) -> int:
        """A bound on the size of one configuration in an answer: to size Suggest's answers.

        Computed once per space (every Suggest asks; a categorical may hold 10,000 choices).
        """
        total = 0
        for param in self.params:
            if isinstance(param, CategoricalParam):
                value = max(len(choice.encode()) for choice in param.choices)
            else:
                value = 10  # a varint or a double, with its tag
            total += len(param.name.encode()) + value + 16
        return total

    def by_name(self) -> dict[str, Param]:
        """Parameters keyed by name."""
        return {param.name: param for param in self.params}

    def check_assignment(self, params: Mapping[str, ParamValue]) -> dict[str, ParamValue]:
        """A complete configuration of this space, or InvalidArgument naming the parameter.

        Every active parameter must have a value in its domain (ints may come
        as integral floats), and no other name may appear.
        """
        checked: dict[str, ParamValue] = {}
        for param in self.params:
            value = params.get(param.name)
            if not self.is_active(param, checked):
                if value is not None:
                    raise InvalidArgument(param.name, "is inactive under its condition here")
                continue
            if value is None:
                raise InvalidArgument(param.name, "is missing")
            if isinstance(param, IntParam) and isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(param, FloatParam) and isinstance(value, int):
                value = float(value)
            if not param.contains(value):
                raise InvalidArgument(param.name, f"{shown(value)} is outside the domain")
            checked[param.name] = value
        unknown = sorted(set(params) - set(checked) - {p.name for p in self.params})
        if unknown:
            name = shown(unknown[0], quote=False)
            raise InvalidArgument(name, "is not a parameter of this study")
        return checked

    def is_active(self, param: Param, assignment: Mapping[str, ParamValue]) -> bool:
        """Whether `param` takes a value given the (earlier) values in `assignment`."""
        condition = param.condition
        if condition is None:
            return True
        parent_value = assignment.get(condition.parent)
        return parent_value is not None and condition.holds(parent_value)


def _check_condition(condition: Condition, earlier: Mapping[str, Param], where: str) -> None:
    parent = earlier.get(condition.parent)
    if parent is None:
        raise InvalidArgument(
            f"{where}.condition.parent",
            f"{shown(condition.parent)} is not a parameter declared before this one",
        )
    for j, value in enumerate(condition.values):
        if not parent.contains(value):
            raise InvalidArgument(
                f"{where}.condition.values[{j}]",
                f"{shown(value)} is not a value of parent {parent.name!r}",
            )
    if isinstance(parent, CategoricalParam) and (
        condition.min is not None or condition.max is not None
    ):
        raise InvalidArgument(
            f"{where}.condition.min", f"categorical parent {parent.name!r} has no order"
        )
