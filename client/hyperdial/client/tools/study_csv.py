"""Trials as CSV: `hyperdial study export` writes it, `hyperdial study import` reads it back."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hyperdial.client.params import ParamValue
from hyperdial.client.trial import Trial
from hyperdial.v1 import hyperdial_pb2 as pb


def trial_rows(
    trials: Sequence[Trial], parameters: Sequence[str]
) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of a trial table.

    Columns: number, state, value, worker, the study's `parameters` in their
    order, then every reported metric that is not also a parameter's name, by
    name: the same columns in the same order on every run.
    """
    metrics = sorted({m for t in trials for m in t.metrics} - set(parameters))
    header = ["trial", "state", "value", "worker", *parameters, *metrics, "reason"]
    rows = [
        [
            t.id,
            t.state + (" (violates constraints)" if t.violates_constraints else ""),
            t.value,
            t.worker_id,
            *(t.params.get(n) for n in parameters),
            *(t.metrics.get(m) for m in metrics),
            t.reason,
        ]
        for t in trials
    ]
    return header, rows


def write_csv(
    trials: Sequence[Trial], parameters: Sequence[str], out: io.TextIOBase | Any
) -> None:
    """Trials as CSV (empty cells for missing values)."""
    header, rows = trial_rows(trials, parameters)
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([["" if cell is None else cell for cell in row] for row in rows])


def _parse(parameter: pb.Parameter, cell: str) -> ParamValue:
    kind = parameter.WhichOneof("domain")
    if kind == "int_range":
        return int(float(cell))
    if kind == "float_range":
        return float(cell)
    return cell


def read_completed(
    path: Path, config: pb.StudyConfig
) -> list[tuple[dict[str, ParamValue], float | None, dict[str, float]]]:
    """COMPLETED rows of an exported CSV, in this study's terms.

    Each row gives this study's parameters and the metrics its objectives and
    constraints need; a study with several objectives takes no value.
    """
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    needed = [o.metric for o in config.objectives] + [c.metric for c in config.constraints]
    completed = []
    for row in rows:
        if not row.get("state", "").startswith("COMPLETED") or not row.get("value"):
            continue
        params = {
            p.name: _parse(p, row[p.name]) for p in config.parameters if row.get(p.name, "") != ""
        }
        metrics = {name: float(row[name]) for name in needed if row.get(name, "") != ""}
        value = None if config.objectives else float(row["value"])
        completed.append((params, value, metrics))
    return completed
