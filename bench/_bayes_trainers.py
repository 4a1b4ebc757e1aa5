"""Bayes through a real server on deterministic Hartmann6: trainer threads and repeat runs.

Parts 3 and 4 of `bayes_latency.py`: what 1 to 128 trainer threads see of
Suggest, and whether sequential one-worker runs with one seed repeat exactly.
"""

from __future__ import annotations

import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from botorch.test_functions import Hartmann

from _common import percentile
from hyperdial.client import Client, float_param
from hyperdial.client.tools.local import LocalServer

DIMS = 6
INITIAL = 5
HARTMANN = Hartmann(dim=DIMS)


def hartmann(params: dict[str, Any]) -> float:
    point = torch.tensor([[params[f"x{i}"] for i in range(DIMS)]], dtype=torch.float64)
    return float(HARTMANN(point))


def bayes_study(client: Client, name: str, precompute: bool = True, seed: int = 0) -> Any:
    return client.create_study(
        name,
        [float_param(f"x{i}", 0.0, 1.0) for i in range(DIMS)],
        algorithm="bayes",
        options={"initial_trials": INITIAL, "precompute": precompute},
        seed=seed,
    )


@dataclass(frozen=True)
class TrainerCase:
    """`workers` trainer threads sharing one study of `trials` trials (Sobol ones included)."""

    workers: int
    trials: int
    precompute: bool = True

    @property
    def key(self) -> str:
        return f"{self.workers}_workers_{'precompute' if self.precompute else 'no_precompute'}"


TRAINER_CASES = (
    TrainerCase(1, INITIAL + 12),
    TrainerCase(1, INITIAL + 12, precompute=False),
    TrainerCase(8, 64),
    TrainerCase(8, 64, precompute=False),
    TrainerCase(32, 128),
    TrainerCase(128, 128),
)


def trainer_view(case: TrainerCase, train_seconds: float) -> dict[str, float]:
    """What `case.workers` trainer threads saw: Suggest waits, time share, wall time, repeats."""
    waits: list[float] = []
    handed: list[tuple[float, ...]] = []
    values: list[float] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalServer(f"sqlite:///{Path(tmp) / 'b.db'}") as server,
        Client(server.address, timeout=300) as client,
    ):
        study = bayes_study(client, "latency", case.precompute)

        def work(worker: str) -> None:
            while True:
                started = time.perf_counter()
                trials = study.suggest(1, worker_id=worker)
                waited = time.perf_counter() - started
                if not trials or trials[0].id > case.trials:
                    return
                trial = trials[0]
                handed.append(tuple(float(trial.params[f"x{i}"]) for i in range(DIMS)))
                if trial.id > INITIAL:
                    waits.append(waited)
                time.sleep(train_seconds)
                values.append(hartmann(trial.params))
                trial.complete(values[-1])

        threads = [threading.Thread(target=work, args=(f"w{k}",)) for k in range(case.workers)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
    ideal = case.trials * train_seconds / case.workers
    trained = (case.trials - INITIAL) * train_seconds
    return {
        "p50_ms": 1000 * percentile(waits, 0.5),
        "p95_ms": 1000 * percentile(waits, 0.95),
        "max_ms": 1000 * max(waits),
        "waiting_share": sum(waits) / (sum(waits) + trained),
        "wall_over_ideal": wall / max(ideal, train_seconds),
        "repeated_configurations": len(handed) - len(set(handed)),
        "best_regret": min(values) - HARTMANN.optimal_value,
    }


def sequential_runs(runs: int, trials: int) -> tuple[list[list[tuple[float, ...]]], int]:
    """`runs` one-worker studies with one seed on one server: their suggestions, and repeats.

    Repeats: configurations a run was handed after it had finished them (the
    objective is deterministic).
    """
    suggestions = []
    repeats = 0
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalServer(f"sqlite:///{Path(tmp) / 'b.db'}") as server,
        Client(server.address, timeout=300) as client,
    ):
        for run in range(runs):
            study = bayes_study(client, f"run-{run}", seed=11)
            seen: list[tuple[float, ...]] = []
            for _ in range(trials):
                (trial,) = study.suggest(1, worker_id="trainer")
                point = tuple(float(trial.params[f"x{i}"]) for i in range(DIMS))
                repeats += point in seen
                seen.append(point)
                trial.complete(hartmann(trial.params))
            suggestions.append(seen)
    return suggestions, repeats
