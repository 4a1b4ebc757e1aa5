"""Parallel workers: Hartmann6, 50 trials, 8 asynchronous workers against 1.

A discrete-event simulation: each worker takes a suggestion (with every running
trial passed as pending), "trains" for a time drawn at random (exponential,
mean 1), reports, and asks again; the bayes suggester sees exactly what the
server would give it at that moment. Reports the median simple regret over the
seeds for 1 and 8 workers, their ratio, and how many suggestions repeated a
configuration that was running or done.

    python bench/parallel.py [--seeds 10] [--trials 50] [--workers 8]
"""

from __future__ import annotations

import argparse
import heapq
import os
import random
import statistics
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import torch
from botorch.test_functions import Hartmann

from _common import machine, report
from hyperdial.server.algorithms.base import History, Observed, make_suggester
from hyperdial.server.domain import AlgorithmConfig
from hyperdial.server.space import FloatParam, ParamValue, SearchSpace
from hyperdial.server.space.features import canonical

SPACE = SearchSpace(tuple(FloatParam(f"x{i}", 0.0, 1.0) for i in range(6)))
OPTIMUM = -3.32237


def simulate(workers: int, seed: int, trials: int) -> dict[str, Any]:
    """One study: `workers` asynchronous workers until `trials` results are in."""
    torch.set_num_threads(1)
    hartmann = Hartmann(dim=6)
    suggester = make_suggester(SPACE, AlgorithmConfig("bayes", {}))
    durations = random.Random(seed)
    running: list[tuple[float, int, dict[str, ParamValue]]] = []  # (finish time, id, params)
    observed: list[Observed] = []
    seen: set[tuple[ParamValue, ...]] = set()
    duplicates = draws = 0
    now = 0.0
    state = None  # the model state the server would pass on (warm-started fits)
    while len(observed) < trials:
        while len(running) < workers and draws < trials:
            pending = tuple(p for _, _, p in running)
            history = History(draws, tuple(observed), pending=pending, model_state=state)
            batch = suggester.suggest(SPACE, history, 1, seed)
            state = batch.model_state or state
            params = dict(batch.suggestions[0].params)
            key = canonical(SPACE, params)
            duplicates += key in seen
            seen.add(key)
            heapq.heappush(running, (now + durations.expovariate(1.0), draws, params))
            draws += 1
        now, _, params = heapq.heappop(running)
        point = torch.tensor([[params[f"x{i}"] for i in range(6)]], dtype=torch.float64)
        observed.append(Observed(params, float(hartmann(point))))
    best = min(o.value for o in observed)
    return {"workers": workers, "seed": seed, "regret": best - OPTIMUM, "duplicates": duplicates}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    jobs = [(w, s, args.trials) for w in (1, args.workers) for s in range(args.seeds)]
    with ProcessPoolExecutor(args.processes) as pool:
        runs = list(pool.map(simulate, *zip(*jobs, strict=True)))
    summary: dict[str, Any] = {}
    for workers in (1, args.workers):
        mine = [r for r in runs if r["workers"] == workers]
        summary[str(workers)] = {
            "median_regret": statistics.median(r["regret"] for r in mine),
            "duplicates": sum(r["duplicates"] for r in mine),
        }
    ratio = summary[str(args.workers)]["median_regret"] / summary["1"]["median_regret"]
    report(
        f"Hartmann6, {args.trials} trials, {args.seeds} seeds: asynchronous workers",
        ("workers", "median regret", "duplicates"),
        [(w, s["median_regret"], s["duplicates"]) for w, s in summary.items()],
        {"summary": summary, "ratio": ratio, "runs": runs, "machine": machine()},
    )


if __name__ == "__main__":
    main()
