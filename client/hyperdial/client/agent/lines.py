"""The metric lines a trial's command prints (or appends to `HYPERDIAL_METRICS_FILE`).

Two forms, one meaning; any other line is the command's own output and is
left alone:

    hyperdial: step=3 val_loss=0.123 val_accuracy=0.96
    hyperdial: final val_loss=0.101 val_accuracy=0.97
    hyperdial: infeasible the batch does not fit in memory
    {"hyperdial": {"step": 3, "val_loss": 0.123, "val_accuracy": 0.96}}
    {"hyperdial": {"final": true, "val_loss": 0.101}}
    {"hyperdial": {"infeasible": "the batch does not fit in memory"}}

Text lines start with `hyperdial:` at the first column, then tokens separated
by whitespace: `name=value` pairs, the bare word `final` (these are the trial's
final metrics), or `infeasible` followed by a reason in words (the configuration
cannot be evaluated). `step` is a non-negative integer; every other value is a
number, where NaN or an infinity (`loss=nan`, `{"loss": NaN}`) says the run
diverged (`trial_run` never sends such a value, and a trial that ends on one
is infeasible, as `hyperdial trainer` ends a diverged run). Names start with
a letter or an underscore and go on with letters, digits, `_`, `.`, `-` or
`/`. JSON lines are one object whose only key is `hyperdial`, holding the
same names. A line that starts like a metric line but breaks these rules
raises `MetricLineError`, which names what is wrong.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

TEXT_PREFIX = "hyperdial:"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]*")
_STEP = re.compile(r"[0-9]+")
_JSON_START = re.compile(r'\s*\{\s*"hyperdial"\s*:')
_RESERVED = ("step", "final", "infeasible")


class MetricLineError(ValueError):
    """A line meant as a metric line that is not one; the message says why."""


@dataclass(frozen=True)
class MetricLine:
    """What one metric line says."""

    metrics: dict[str, float] = field(default_factory=dict)
    step: int | None = None
    final: bool = False
    # Set when the line declares the configuration infeasible: the reason, maybe empty.
    infeasible: str | None = None


def parse_line(line: str) -> MetricLine | None:
    """The metric line in `line`, or None where it is the command's own output."""
    text = line.rstrip("\r\n")
    if text.startswith(TEXT_PREFIX):
        return _parse_text(text[len(TEXT_PREFIX) :])
    if _JSON_START.match(text):
        return _parse_json(text)
    return None


def _parse_text(body: str) -> MetricLine:
    tokens = body.split()
    if tokens[:1] == ["infeasible"]:
        return MetricLine(infeasible=" ".join(tokens[1:]))
    final = False
    fields: dict[str, str] = {}
    for token in tokens:
        if token == "final":
            final = True
            continue
        name, equals, value = token.partition("=")
        if not equals:
            raise MetricLineError(f"{token!r} is not name=value (nor the word 'final')")
        if name in fields:
            raise MetricLineError(f"{name!r} appears twice")
        fields[name] = value
    return _line(fields, final)


def _parse_json(text: str) -> MetricLine:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise MetricLineError(f"not valid JSON: {error.msg} at column {error.colno}") from None
    if not isinstance(document, dict) or list(document) != ["hyperdial"]:
        raise MetricLineError('a JSON metric line is one object whose only key is "hyperdial"')
    body = document["hyperdial"]
    if not isinstance(body, dict):
        raise MetricLineError('"hyperdial" must hold an object of metrics')
    if "infeasible" in body:
        reason = body["infeasible"]
        if not isinstance(reason, str):
            raise MetricLineError('"infeasible" must be a reason in words (a string)')
        return MetricLine(infeasible=reason)
    final = body.pop("final", False)
    if not isinstance(final, bool):
        raise MetricLineError('"final" must be true or false')
    fields = {}
    for name, value in body.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise MetricLineError(f"{name!r} must be a number, not {json.dumps(value)}")
        fields[name] = repr(value)
    return _line(fields, final)


def _line(fields: dict[str, str], final: bool) -> MetricLine:
    step = None
    metrics: dict[str, float] = {}
    for name, text in fields.items():
        if name == "step":
            if not _STEP.fullmatch(text):
                raise MetricLineError(f"step must be a non-negative integer, not {text!r}")
            step = int(text)
            continue
        if name in _RESERVED or not _NAME.fullmatch(name):
            raise MetricLineError(f"{name!r} is not a metric name")
        try:
            value = float(text)
        except ValueError:
            raise MetricLineError(f"{name}={text!r} is not a number") from None
        metrics[name] = value
    if not metrics:
        raise MetricLineError("the line names no metric")
    return MetricLine(metrics=metrics, step=step, final=final)
