"""Scoring multi-fidelity runs: what each method ships at a checkpoint, and how methods compare.

A run is its trials in the order they finished (`Finished`). At each
checkpoint (a fraction of the epoch budget) a run is read for its best
validation loss and for the trial it would ship, retrained and scored on the
test split; runs then meet as medians per method and paired by seed.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from itertools import count
from typing import Any

import numpy as np
import torch

from _common import mlp_digits_space
from hyperdial.server.algorithms.base import History, Observed
from hyperdial.server.algorithms.recommend import recommend
from hyperdial.server.domain import Measurement
from hyperdial.server.space.features import to_features
from hyperdial.trainers.data import Dataset
from hyperdial.trainers.final import train_and_test

CHECKPOINTS = (0.25, 0.4, 0.5, 1.0)
NEAR = 0.05
# The target: within 2% of the reference's final median validation loss...
WITHIN = 1.02
# ...read on a finer grid of budget shares than the checkpoints (5% steps).
SHARES = tuple(k / 20 for k in range(1, 21))
CPU = torch.device("cpu")


@dataclass(frozen=True)
class Finished:
    """A trial as the benchmark reads it, in the order trials finished."""

    params: dict[str, Any]
    curve: list[float]  # validation loss per epoch
    final: bool  # completed on a full grant of epochs: its value is a final one


def finals_by(finished: list[Finished], epochs: float) -> list[Finished]:
    """The trials with final values among those finished within `epochs`."""
    spent, finals = 0, []
    for trial in finished:
        spent += len(trial.curve)
        if spent > epochs:
            break
        if trial.final:
            finals.append(trial)
    return finals


def shipped(finals: list[Finished], seed: int, recommended: bool) -> Finished:
    """What a method ships: the service's `recommended` trial, or (Optuna) the best trial."""
    best = min(finals, key=lambda t: min(t.curve))
    if not recommended:
        return best
    history = History(
        len(finals),
        tuple(
            Observed(t.params, min(t.curve), curve=tuple(map(Measurement, count(1), t.curve)))
            for t in finals
        ),
    )
    found = recommend(mlp_digits_space(), history, seed=seed)
    return best if found is None else finals[found.index]


def near_duplicates(finished: list[Finished], initial: int) -> int:
    """Model-proposed trials (after the `initial` ones) within NEAR of an earlier trial."""
    space = mlp_digits_space()
    points = [np.array(to_features(space, t.params)) for t in finished]
    return sum(
        1
        for k in range(initial, len(points))
        if min(np.linalg.norm(points[k] - p) for p in points[:k]) < NEAR
    )


def score(
    method: str,
    name: str,
    seed: int,
    finished: list[Finished],
    dataset: Dataset,
    budget: int,
    retrains: int,
    *,
    ours: bool,
    initial: int,
) -> dict[str, Any]:
    """A run's row: best validation and retrained test loss at each checkpoint, duplicates.

    The test loss is the mean of `retrains` retrains with different seeds: on a small
    test split one retrain's log loss swings with a single confident mistake. `ours`:
    the method ships the service's recommendation; `initial`: trials before its model.
    """
    row: dict[str, Any] = {"method": method, "dataset": name, "seed": seed}
    row["epochs"] = sum(len(t.curve) for t in finished)
    row["trials"] = len(finished)
    row["near_duplicates"] = near_duplicates(finished, initial)
    row["model_proposed"] = max(0, len(finished) - initial)
    for fraction in CHECKPOINTS:
        finals = finals_by(finished, fraction * budget)
        key = f"{round(fraction * 100)}%"
        if not finals:
            row[f"val@{key}"] = row[f"test@{key}"] = math.nan
            continue
        row[f"val@{key}"] = min(min(t.curve) for t in finals)
        pick = shipped(finals, seed, recommended=ours)
        epochs = int(np.argmin(pick.curve)) + 1
        retrain_seeds = [100_000 + seed + 1000 * k for k in range(retrains)]
        row[f"test@{key}"] = statistics.mean(
            train_and_test(dataset, pick.params, epochs, s, CPU)[0].test_loss
            for s in retrain_seeds
        )
    # Every trial, so that another rule can be scored from the output alone.
    row["finished"] = [[t.params, t.curve, t.final] for t in finished]
    return row


def summarize(
    rows: list[dict[str, Any]], datasets: list[str], methods: list[str]
) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for name in datasets:
        for method in methods:
            mine = [r for r in rows if r["dataset"] == name and r["method"] == method]
            entry: dict[str, Any] = {
                "epochs": statistics.median(r["epochs"] for r in mine),
                "near_duplicates": sum(r["near_duplicates"] for r in mine),
                "model_proposed": sum(r["model_proposed"] for r in mine),
            }
            for fraction in CHECKPOINTS:
                key = f"{round(fraction * 100)}%"
                for kind in ("val", "test"):
                    values = [
                        r[f"{kind}@{key}"] for r in mine if not math.isnan(r[f"{kind}@{key}"])
                    ]
                    entry[f"{kind}@{key}"] = statistics.median(values) if values else math.nan
            summary[f"{name}/{method}"] = entry
    return summary


def share_to_reach(
    rows: list[dict[str, Any]], name: str, method: str, reference: str, budget: int
) -> float:
    """The least share of the budget at which `method`'s median best validation loss is
    within 2% of `reference`'s final median on dataset `name` (nan: never).

    Read from every run's trials, without retraining: the medians at 5% steps.
    """
    mine = [r["finished"] for r in rows if r["dataset"] == name and r["method"] == method]
    final = [r["val@100%"] for r in rows if r["dataset"] == name and r["method"] == reference]
    bound = WITHIN * statistics.median(final)
    for share in SHARES:
        values = [_best_by(runs, share * budget) for runs in mine]
        if statistics.median(values) <= bound:
            return share
    return math.nan


def _best_by(trials: list[list[Any]], epochs: float) -> float:
    """A run's best validation loss among its final trials finished within `epochs`."""
    finals = finals_by([Finished(*t) for t in trials], epochs)
    return min((min(t.curve) for t in finals), default=math.inf)


def paired_row(columns: list[str], key: str, pair: dict[str, Any]) -> list[str]:
    """A paired comparison at half the budget (`_paired.compare`) as a row of the table.

    Seeds won under `near dup.`, the median per-seed gap under test @50%, the
    difference of the medians and its interval in the last column.
    """
    row = [""] * len(columns)
    row[0] = f"{key}: test @50%, ours ≤ anchor"
    row[2] = f"{pair['wins']}/{pair['seeds']} seeds"
    low, high = pair["interval"]
    row[columns.index("test @50%")] = f"median gap {pair['median_gap']:+.4f}"
    row[-1] = f"medians {pair['median_difference']:+.4f} [{low:+.4f}, {high:+.4f}]"
    return row
