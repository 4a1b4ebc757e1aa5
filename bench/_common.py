"""Shared by the benchmarks: start a real server process, summarize latencies, print results."""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table
from sklearn.datasets import make_classification

from hyperdial.server.rpc.convert import study_config_from_proto
from hyperdial.server.space import (
    CategoricalParam,
    FloatParam,
    IntParam,
    ParamValue,
    SearchSpace,
)
from hyperdial.trainers.spaces import MLP_DIGITS
from hyperdial.v1 import hyperdial_pb2 as pb


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    """(Q1, median, Q3), inclusive method; a single value is all three."""
    if len(values) == 1:
        return values[0], values[0], values[0]
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, median, q3


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    model = ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(
                (line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line), ""
            )
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": model, "python": platform.python_version()}


def report(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], result: dict[str, Any]
) -> None:
    """Prints a readable table, then the result as one JSON object on the last line."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(*(f"{cell:.2f}" if isinstance(cell, float) else str(cell) for cell in row))
    Console(width=160).print(table)
    print(json.dumps(result), flush=True)


def mlp_digits_space() -> SearchSpace:
    """The MLP-on-digits space the demo tunes, as the server's suggesters take it."""
    message = pb.StudyConfig(parameters=MLP_DIGITS, objective=pb.Objective(goal=pb.MINIMIZE))
    return study_config_from_proto(message).space


def optuna_params(trial: Any, space: SearchSpace) -> dict[str, ParamValue]:
    """An Optuna trial's parameters, asked in the space's order (floats, ints, categoricals)."""
    params: dict[str, ParamValue] = {}
    for p in space.params:
        if isinstance(p, FloatParam):
            params[p.name] = trial.suggest_float(p.name, p.low, p.high, log=p.log)
        elif isinstance(p, IntParam):
            params[p.name] = trial.suggest_int(p.name, p.low, p.high, log=p.log)
        elif isinstance(p, CategoricalParam):
            params[p.name] = trial.suggest_categorical(p.name, p.choices)
    return params


def noisy_classification(folder: Path) -> Path:
    """A `make_classification` set with 15% flipped labels, saved as .npz for the trainers."""
    x, y = make_classification(
        n_samples=1000,
        n_features=20,
        n_informative=6,
        n_redundant=4,
        flip_y=0.15,
        class_sep=0.8,
        random_state=0,
    )
    path = folder / "noisy.npz"
    np.savez(path, x=x.astype(np.float32), y=y)
    return path
