"""Study definitions in YAML or JSON files, with errors that name the line and the field.

    name: mlp-digits
    objective: {metric: val_loss, goal: minimize}
    # or several, with limits on reported metrics:
    #   objectives: [{metric: val_loss, goal: minimize}, {metric: latency_us, goal: minimize}]
    #   constraints: [{metric: param_count, max: 50000}]
    algorithm: {name: bayes, options: {initial_trials: 8}}
    max_trials: 30
    seed: 1
    stopping: {median: {min_trials: 5, warmup_steps: 2}}
    fidelity: {max_steps: 30, total_steps: 600}   # epochs as the budget
    parameters:
      - {name: learning_rate, type: float, low: 1.0e-4, high: 0.1, log: true}
      - {name: hidden_layers, type: int, low: 1, high: 4}
      - {name: optimizer, type: categorical, choices: [adam, sgd]}
      - {name: units_3, type: int, low: 16, high: 256, log: true,
         when: {parent: hidden_layers, min: 3}}

JSON is YAML, so the same reader takes both. `read_configurations` reads the
configurations `hyperdial study enqueue` queues, a list of mappings, the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hyperdial.client.params import (
    ParamValue,
    categorical,
    condition,
    float_param,
    hyperband,
    int_param,
    median_stopping,
    model_stopping,
    outcome_constraint,
    step_budget,
    successive_halving,
)
from hyperdial.v1 import hyperdial_pb2 as pb

_TOP_LEVEL = {
    "name",
    "objective",
    "objectives",
    "constraints",
    "algorithm",
    "max_trials",
    "seed",
    "lease_seconds",
    "max_reissues",
    "max_retries",
    "stopping",
    "fidelity",
    "parameters",
}


class StudyFileError(ValueError):
    """A study file that cannot be used; the message starts with `file:line: field:`."""


@dataclass(frozen=True)
class StudyFile:
    """A parsed study file: what `Client.create_study` takes, and where each field was."""

    path: Path
    name: str
    parameters: list[pb.Parameter]
    create_kwargs: dict[str, Any]
    lines: Mapping[str, int] = field(default_factory=dict)

    def line_of(self, api_field: str) -> int | None:
        """The line of the closest enclosing field to an API field path (`config.` optional)."""
        path = api_field.removeprefix("config.")
        while path:
            if path in self.lines:
                return self.lines[path]
            path = re.sub(r"(\.[^.\[]*|\[\d+\])$", "", path)
        return None


def _lines(node: yaml.Node, path: str, out: dict[str, int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            _lines(value, f"{path}.{key.value}" if path else str(key.value), out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _lines(item, f"{path}[{index}]", out)


class _Reader:
    """Typed access to the parsed document; every error names the file, line and field."""

    def __init__(self, path: Path, lines: Mapping[str, int]) -> None:
        self._path = path
        self._lines = lines

    def fail(self, where: str, message: str) -> StudyFileError:
        line = self._lines.get(where) or self._lines.get(re.sub(r"\.[^.]*$", "", where), 1)
        return StudyFileError(f"{self._path}:{line}: {where}: {message}")

    def get(
        self,
        data: Mapping[str, Any],
        where: str,
        key: str,
        kind: type | tuple[type, ...],
        default: Any = ...,
    ) -> Any:
        spot = f"{where}.{key}" if where else key
        if key not in data:
            if default is ...:
                raise self.fail(spot, "is required")
            return default
        value = data[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float)):
            raise self.fail(spot, f"must be {_kind_name(kind)}, got {value!r}")
        return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "true or false",
    }
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _parameter(reader: _Reader, where: str, item: Any) -> pb.Parameter:
    if not isinstance(item, dict):
        raise reader.fail(where, "must be a mapping with name and type")
    name = reader.get(item, where, "name", str)
    kind = reader.get(item, where, "type", str)
    when = None
    if "when" in item:
        spec = reader.get(item, where, "when", dict)
        spot = f"{where}.when"
        when = condition(
            reader.get(spec, spot, "parent", str),
            values=reader.get(spec, spot, "values", list, []),
            min=reader.get(spec, spot, "min", float, None),
            max=reader.get(spec, spot, "max", float, None),
        )
    known = {"name", "type", "when", "low", "high", "log", "grid", "grid_points", "choices"}
    for key in item:
        if key not in known:
            raise reader.fail(f"{where}.{key}", "unknown field")
    numeric: dict[str, tuple[Callable[..., pb.Parameter], type]] = {
        "float": (float_param, float),
        "int": (int_param, int),
    }
    if kind in numeric:
        build, number = numeric[kind]
        return build(
            name,
            reader.get(item, where, "low", number),
            reader.get(item, where, "high", number),
            log=reader.get(item, where, "log", bool, False),
            when=when,
            grid=reader.get(item, where, "grid", list, []),
            grid_points=reader.get(item, where, "grid_points", int, 0),
        )
    if kind == "categorical":
        choices = reader.get(item, where, "choices", list)
        return categorical(name, [str(c) for c in choices], when=when)
    raise reader.fail(f"{where}.type", f"must be float, int or categorical, got {kind!r}")


_STOPPING: dict[str, Callable[..., pb.StoppingRule]] = {
    "median": median_stopping,
    "successive_halving": successive_halving,
    "hyperband": hyperband,
    "model": model_stopping,
}


def _stopping(reader: _Reader, data: Mapping[str, Any]) -> pb.StoppingRule | None:
    if "stopping" not in data:
        return None
    spec = reader.get(data, "", "stopping", dict)
    if len(spec) != 1 or next(iter(spec)) not in _STOPPING:
        raise reader.fail("stopping", f"must hold one of: {', '.join(_STOPPING)}")
    ((kind, arguments),) = spec.items()
    arguments = arguments or {}
    if not isinstance(arguments, dict):
        raise reader.fail(f"stopping.{kind}", "must be a mapping of its settings")
    try:
        return _STOPPING[kind](**arguments)
    except TypeError as error:
        raise reader.fail(f"stopping.{kind}", str(error)) from None


def _fidelity(reader: _Reader, data: Mapping[str, Any]) -> pb.Fidelity | None:
    if "fidelity" not in data:
        return None
    spec = reader.get(data, "", "fidelity", dict)
    unknown = set(spec) - {"max_steps", "total_steps", "min_steps"}
    if unknown:
        raise reader.fail(
            f"fidelity.{sorted(unknown)[0]}", "unknown; known: max_steps, total_steps, min_steps"
        )
    return step_budget(
        reader.get(spec, "fidelity", "max_steps", int),
        reader.get(spec, "fidelity", "total_steps", int, 0),
        reader.get(spec, "fidelity", "min_steps", int, 0),
    )


def _objectives(reader: _Reader, data: Mapping[str, Any]) -> list[tuple[str, str]]:
    objectives = []
    for i, item in enumerate(reader.get(data, "", "objectives", list, [])):
        where = f"objectives[{i}]"
        if not isinstance(item, dict):
            raise reader.fail(where, "must be a mapping with metric and goal")
        goal = reader.get(item, where, "goal", str, "minimize")
        if goal not in ("minimize", "maximize"):
            raise reader.fail(f"{where}.goal", f"must be minimize or maximize, got {goal!r}")
        objectives.append((reader.get(item, where, "metric", str), goal))
    return objectives


def _constraints(reader: _Reader, data: Mapping[str, Any]) -> list[pb.OutcomeConstraint]:
    constraints = []
    for i, item in enumerate(reader.get(data, "", "constraints", list, [])):
        where = f"constraints[{i}]"
        if not isinstance(item, dict) or not {"max", "min"} & set(item):
            raise reader.fail(where, "must be a mapping with metric and max and/or min")
        constraints.append(
            outcome_constraint(
                reader.get(item, where, "metric", str),
                max=reader.get(item, where, "max", float, None),
                min=reader.get(item, where, "min", float, None),
            )
        )
    return constraints


class Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2's numbers: `1e-4` is a float, not a string.

    PyYAML follows YAML 1.1, where a float needs a dot (`1.0e-4`); JSON and
    every YAML 1.2 reader take `1e-4`, and so do users writing `high: 1e-4`.
    """


Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def load_study_file(path: str | Path) -> StudyFile:
    """Reads and checks a study file; raises StudyFileError naming the line and field."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise StudyFileError(f"{path}: cannot read: {error.strerror}") from None
    try:
        node = yaml.compose(text, Loader=Yaml12Loader)
        data = yaml.load(text, Loader=Yaml12Loader)  # a SafeLoader
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f"{mark.line + 1}:" if mark is not None else ""
        raise StudyFileError(f"{path}:{line} not valid YAML/JSON: {error}") from None
    lines: dict[str, int] = {}
    if node is not None:
        _lines(node, "", lines)
    reader = _Reader(path, lines)
    if not isinstance(data, dict):
        raise reader.fail("", "the file must hold a mapping (name, parameters, …)")
    for key in data:
        if key not in _TOP_LEVEL:
            raise reader.fail(str(key), f"unknown field; known: {', '.join(sorted(_TOP_LEVEL))}")
    items = reader.get(data, "", "parameters", list)
    parameters = [_parameter(reader, f"parameters[{i}]", item) for i, item in enumerate(items)]
    objective = reader.get(data, "", "objective", dict, {})
    algorithm = reader.get(data, "", "algorithm", dict, {})
    kwargs: dict[str, Any] = {
        "metric": reader.get(objective, "objective", "metric", str, "objective"),
        "goal": reader.get(objective, "objective", "goal", str, "minimize"),
        "algorithm": reader.get(algorithm, "algorithm", "name", str, ""),
        "options": reader.get(algorithm, "algorithm", "options", dict, {}),
        "max_trials": reader.get(data, "", "max_trials", int, 0),
        "seed": reader.get(data, "", "seed", int, 0),
        "lease_seconds": reader.get(data, "", "lease_seconds", float, 0.0),
        "max_reissues": reader.get(data, "", "max_reissues", int, 0),
        "max_retries": reader.get(data, "", "max_retries", int, 0),
        "stopping": _stopping(reader, data),
        "fidelity": _fidelity(reader, data),
    }
    if kwargs["goal"] not in ("minimize", "maximize"):
        raise reader.fail(
            "objective.goal", f"must be minimize or maximize, got {kwargs['goal']!r}"
        )
    kwargs["objectives"] = _objectives(reader, data)
    if kwargs["objectives"] and "objective" in data:
        raise reader.fail("objectives", "set objective or objectives, not both")
    kwargs["constraints"] = _constraints(reader, data)
    return StudyFile(path, reader.get(data, "", "name", str), parameters, kwargs, lines)


def read_configurations(texts: Sequence[str], path: Path | None) -> list[dict[str, ParamValue]]:
    """Configurations to queue: JSON objects given inline, then a YAML/JSON file's list of them.

    Raises:
        StudyFileError: a text or the file is not what it should be, named.
    """
    configurations = []
    for i, text in enumerate(texts):
        try:
            configurations.append(_configuration(json.loads(text), f"--params[{i}]"))
        except json.JSONDecodeError as error:
            raise StudyFileError(f"--params[{i}]: not JSON: {error}") from None
    if path is not None:
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=Yaml12Loader)
        except (OSError, yaml.YAMLError) as error:
            raise StudyFileError(f"{path}: {error}") from None
        if not isinstance(data, list):
            raise StudyFileError(f"{path}: expected a list of configurations")
        configurations += [_configuration(item, f"{path}[{i}]") for i, item in enumerate(data)]
    if not configurations:
        raise StudyFileError("give configurations with --params or --file")
    return configurations


def _configuration(data: Any, where: str) -> dict[str, ParamValue]:
    """One configuration: parameter names to numbers or strings."""
    if not isinstance(data, dict):
        raise StudyFileError(f"{where}: expected a mapping of parameter names to values")
    for name, value in data.items():
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise StudyFileError(f"{where}.{name}: expected a number or a string, got {value!r}")
    return {str(name): value for name, value in data.items()}
