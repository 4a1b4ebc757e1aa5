"""What stored learning curves cost a bayes suggestion: 2,000 progress points, 6-D.

A bayes study over the demo's 6-D MLP space, on a real server with a SQLite
file, is given `--trials` finished trials (Sobol points, its initial design)
with `--steps` ReportProgress values each, every other one stopped early
(PRUNED, so the model takes it at its best reported value); then one worker
runs `--rounds` more trials as a trainer does (Suggest, a value per step,
Observe). Prints the seconds of each model-based Suggest as the client sees
them: the first (the server's compute worker starts and fits from scratch)
and the median, p95 and max of all; then the seconds of the study's
recommendation (GetBestTrials), which reads the completed trials' curves to
settle their values and fits its model: computed (the first call after a trial
finished) and cached (the next).

    python bench/curve_cost.py [--trials 100] [--steps 20] [--rounds 20]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import tempfile
import time
from pathlib import Path

from _common import machine, percentile, report
from hyperdial.client import Client, Trial
from hyperdial.client.tools.local import LocalServer
from hyperdial.trainers.spaces import MLP_DIGITS

# The table's timing columns: header -> key of the JSON result.
TIMINGS = {
    "first s": "first_s",
    "median s": "median_s",
    "p95 s": "p95_s",
    "max s": "max_s",
    "recommendation s": "recommendation_s",
    "cached s": "recommendation_cached_s",
}


def _curve_value(trial: Trial, step: int, noise: random.Random) -> float:
    """A falling learning curve whose floor depends on the configuration (log learning rate)."""
    floor = 0.1 + abs(math.log10(float(trial.params["learning_rate"])) + 2.5) / 4
    return floor + 2.0 / (1 + step) + noise.gauss(0, 0.01)


def _run(trial: Trial, steps: int, noise: random.Random, *, prune: bool) -> None:
    values = [_curve_value(trial, step, noise) for step in range(steps)]
    for step, value in enumerate(values):
        trial.report(step, value)
    if prune:
        trial.prune()
    else:
        trial.complete(min(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    noise = random.Random(0)
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalServer(f"sqlite:///{Path(tmp) / 'curves.db'}") as server,
        Client(server.address, timeout=120) as client,
    ):
        study = client.create_study(
            "curves",
            list(MLP_DIGITS),
            algorithm="bayes",
            options={"initial_trials": args.trials},
            seed=1,
        )
        for k, trial in enumerate(study.suggest(args.trials, worker_id="w", force_new=True)):
            _run(trial, args.steps, noise, prune=k % 2 == 1)
        seconds = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            (trial,) = study.suggest(1, worker_id="w")
            seconds.append(time.perf_counter() - started)
            _run(trial, args.steps, noise, prune=False)
        points = study.info().steps_reported
        recommendation = []
        for _ in range(2):  # computed, then cached until another trial finishes
            started = time.perf_counter()
            study.recommended()
            recommendation.append(time.perf_counter() - started)
    result = {
        "progress_points_before": args.trials * args.steps,
        "progress_points_after": points,
        "first_s": seconds[0],  # a cold start: the compute worker and a fit from scratch
        "median_s": statistics.median(seconds),
        "p95_s": percentile(seconds, 0.95),
        "max_s": max(seconds),
        "recommendation_s": recommendation[0],
        "recommendation_cached_s": recommendation[1],
        "machine": machine(),
    }
    report(
        f"bayes Suggest with {args.trials * args.steps:,} progress points stored, 6-D",
        ("progress points", *TIMINGS),
        [
            (
                result["progress_points_before"],
                *(f"{result[key]:.3f}" for key in TIMINGS.values()),
            )
        ],
        result,
    )


if __name__ == "__main__":
    main()
