"""The trials table: sorted, filtered by state and parameter ranges, a page at a time.

The query string says it all (`?state=COMPLETED&range=lr:0.001:0.01&sort=value&offset=50`),
so a table view is a link that can be shared.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import QueryParams

from hyperdial.v1 import hyperdial_pb2 as pb

MAX_PAGE = 500


@dataclass(frozen=True)
class Range:
    """A parameter's allowed values: low..high for numbers, a set of choices for categories."""

    name: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()

    def admits(self, value: float | int | str | None) -> bool:
        """Whether `value` passes (an inactive parameter, None, never does)."""
        if value is None:
            return False
        if self.choices:
            return str(value) in self.choices
        if isinstance(value, str):
            return False
        return (self.low is None or value >= self.low) and (
            self.high is None or value <= self.high
        )


@dataclass(frozen=True)
class TableQuery:
    """What one table request asks for."""

    offset: int = 0
    limit: int = 50
    sort: str = "id"
    descending: bool = False
    states: tuple[str, ...] = ()
    ranges: tuple[Range, ...] = field(default_factory=tuple)

    @classmethod
    def parse(cls, query: QueryParams) -> TableQuery:
        """From a query string. Raises ValueError naming the bad part.

        `range=NAME:LOW:HIGH` (either end may be empty), or `range=NAME:=a|b`
        for categories; `state` and `range` may repeat.
        """
        states = tuple(query.getlist("state"))
        for state in states:
            if state not in pb.TrialState.keys():  # noqa: SIM118 - protobuf's enum wrapper
                raise ValueError(f"state: unknown trial state {state!r}")
        ranges = tuple(_range(text) for text in query.getlist("range"))
        limit = int(query.get("limit", 50))
        if not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"limit: must be in 1..{MAX_PAGE}, got {limit}")
        return cls(
            offset=max(0, int(query.get("offset", 0))),
            limit=limit,
            sort=query.get("sort", "id"),
            descending=query.get("order", "asc") == "desc",
            states=states,
            ranges=ranges,
        )


def _range(text: str) -> Range:
    name, _, rest = text.partition(":")
    if not name or not rest:
        raise ValueError(f"range: expected NAME:LOW:HIGH or NAME:=a|b, got {text!r}")
    if rest.startswith("="):
        return Range(name, choices=tuple(rest[1:].split("|")))
    low, _, high = rest.partition(":")
    return Range(name, float(low) if low else None, float(high) if high else None)


def _sort_key(column: str, trial: pb.Trial, values: dict[str, Any]) -> tuple[int, Any]:
    """Missing values last, numbers before text, whatever the direction."""
    if column == "id":
        return (0, trial.id)
    if column == "state":
        return (0, pb.TrialState.Name(trial.state))
    if column == "worker":
        return (0, trial.worker_id)
    if column == "value":
        found: Any = trial.value if trial.HasField("value") else None
    else:
        found = values.get(column, trial.metrics.get(column))
    if found is None:
        return (2, 0)
    return (0, found) if not isinstance(found, str) else (1, found)


def page_of(
    trials: Sequence[pb.Trial],
    values: Mapping[int, dict[str, Any]],
    query: TableQuery,
    shown: Callable[[pb.Trial], dict[str, Any]],
) -> dict[str, Any]:
    """The rows `query` asks for, shaped by `shown`, with the number that match.

    `values` are the trials' parameters by trial id, as `charts.params` gives them.
    """
    wanted = {pb.TrialState.Value(s) for s in query.states}
    matching = []
    for trial in trials:
        if wanted and trial.state not in wanted:
            continue
        these = values[trial.id]
        if all(r.admits(these.get(r.name)) for r in query.ranges):
            matching.append((trial, these))
    keyed = [(_sort_key(query.sort, trial, these), trial) for trial, these in matching]
    present = [item for item in keyed if item[0][0] < 2]
    missing = [trial for key, trial in keyed if key[0] == 2]
    present.sort(key=lambda item: item[0], reverse=query.descending)
    ordered = [trial for _, trial in present] + missing
    page = ordered[query.offset : query.offset + query.limit]
    return {
        "total": len(matching),
        "offset": query.offset,
        "rows": [shown(trial) for trial in page],
    }
