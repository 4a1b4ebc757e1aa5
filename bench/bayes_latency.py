"""Bayes latency: seconds per suggestion by study size, and Suggest as trainers see it.

Part 1 calls the bayes suggester directly on a 6-D space with 20, 50, 100, 200
and 1,000 random observations of Hartmann6 (fit + acquisition; median of
`--repeats`), beside a plain BoTorch loop (SingleTaskGP fitted on every
observation + qLogNEI, 8 restarts, 512 raw samples) and Optuna's GPSampler
asking with the same observations.

Part 2 is the sequential loop as a client sees it: a study with N imported
observations, then `--rounds` Suggest + Observe round trips through a real
server (median), beside Optuna's GPSampler doing ask + tell on a study with
the same N trials (one sampler for all rounds, as a study keeps it).

Part 3 runs a real server and 1, 8, 32 or 128 trainer threads whose
"training" sleeps `--train-seconds`: the latency of each Suggest after the
Sobol phase (p50, p95, max), the share of the workers' time spent waiting for
Suggest, the wall time against the ideal (trials x training / workers), how
many configurations were handed out twice (Hartmann6 is deterministic), and the
best regret the study reached.

Part 4 runs three one-worker studies with the same seed, one after the other,
on deterministic Hartmann6 (`--sequential-trials` each): how many of them got
exactly the first one's suggestions, and how many configurations a run was
handed again after finishing them.

    python bench/bayes_latency.py [--sizes 20,50,100,200,1000] [--round-trip-sizes 20,50,100,1000]
        [--sequential-trials 96]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import optuna
import torch
from botorch.acquisition.logei import qLogNoisyExpectedImprovement
from botorch.fit import fit_gpytorch_mll
from botorch.models.gp_regression import SingleTaskGP
from botorch.optim.optimize import optimize_acqf
from gpytorch.mlls import ExactMarginalLogLikelihood

from _bayes_trainers import (
    DIMS,
    HARTMANN,
    TRAINER_CASES,
    bayes_study,
    hartmann,
    sequential_runs,
    trainer_view,
)
from _common import machine, report
from hyperdial.client import Client
from hyperdial.client.tools.local import LocalServer
from hyperdial.server.algorithms.base import History, Observed, make_suggester
from hyperdial.server.domain import AlgorithmConfig
from hyperdial.server.service.compute import default_workers, threads_per_worker
from hyperdial.server.space import FloatParam, SearchSpace

SPACE = SearchSpace(tuple(FloatParam(f"x{i}", 0.0, 1.0) for i in range(DIMS)))
OPTUNA_SPACE: dict[str, optuna.distributions.BaseDistribution] = {
    f"x{i}": optuna.distributions.FloatDistribution(0, 1) for i in range(DIMS)
}


def _observations(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(n, DIMS, generator=generator, dtype=torch.float64)
    return x, HARTMANN(x).unsqueeze(-1)


def _timed(work: Any, repeats: int) -> float:
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def ours(n: int, repeats: int) -> tuple[float, float]:
    """Seconds per suggestion and the process's peak RSS in MiB (run in a fresh process).

    With the torch threads of one of the server's compute workers.
    """
    torch.set_num_threads(threads_per_worker(default_workers()))
    x, y = _observations(n, n)
    completed = tuple(
        Observed({f"x{i}": float(v) for i, v in enumerate(row)}, float(value))
        for row, value in zip(x.tolist(), y.squeeze(-1).tolist(), strict=True)
    )
    suggester = make_suggester(SPACE, AlgorithmConfig("bayes", {}))
    history = History(draws=n, completed=completed)
    seconds = _timed(lambda: suggester.suggest(SPACE, history, 1, 0), repeats)
    return seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def plain_botorch(n: int, repeats: int) -> float:
    x, y = _observations(n, n)

    def step() -> None:
        model = SingleTaskGP(x, -y)
        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
        acquisition = qLogNoisyExpectedImprovement(model, x, prune_baseline=True)
        bounds = torch.stack([torch.zeros(DIMS), torch.ones(DIMS)]).double()
        optimize_acqf(acquisition, bounds, q=1, num_restarts=8, raw_samples=512)

    return _timed(step, repeats)


def _optuna_trials(n: int) -> list[optuna.trial.FrozenTrial]:
    x, y = _observations(n, n)
    return [
        optuna.trial.create_trial(
            params={f"x{i}": v for i, v in enumerate(row)},
            distributions=OPTUNA_SPACE,
            value=value,
        )
        for row, value in zip(x.tolist(), y.squeeze(-1).tolist(), strict=True)
    ]


def optuna_gp(n: int, repeats: int) -> float:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trials = _optuna_trials(n)

    def ask() -> None:
        study = optuna.create_study(sampler=optuna.samplers.GPSampler(seed=0))
        study.add_trials(trials)
        trial = study.ask()
        for name in OPTUNA_SPACE:
            trial.suggest_float(name, 0, 1)

    return _timed(ask, repeats)


def round_trip(client: Client, n: int, rounds: int) -> float:
    """Median seconds of a Suggest + Observe round trip on a study with `n` observations."""
    study = bayes_study(client, f"round-trip-{n}")
    x, y = _observations(n, n)
    study.import_trials(
        [
            ({f"x{i}": float(v) for i, v in enumerate(row)}, float(value))
            for row, value in zip(x.tolist(), y.squeeze(-1).tolist(), strict=True)
        ]
    )
    seconds = []
    for _ in range(rounds):
        started = time.perf_counter()
        (trial,) = study.suggest(1, worker_id="trainer")
        trial.complete(hartmann(trial.params))
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def optuna_ask_tell(n: int, rounds: int) -> float:
    """Median seconds of GPSampler's ask + tell on a study with `n` trials."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.GPSampler(seed=0))
    study.add_trials(_optuna_trials(n))
    seconds = []
    for _ in range(rounds):
        started = time.perf_counter()
        trial = study.ask(OPTUNA_SPACE)
        study.tell(trial, hartmann(trial.params))
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="20,50,100,200,1000")
    parser.add_argument("--round-trip-sizes", default="20,50,100,1000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5, help="round trips per size (part 2)")
    parser.add_argument("--train-seconds", type=float, default=2.0)
    parser.add_argument("--workers", default="1,8,32,128", help="trainer cases to run (part 3)")
    parser.add_argument(
        "--sequential-trials",
        type=int,
        default=96,
        help="trials of each of the three one-worker runs on deterministic Hartmann6",
    )
    args = parser.parse_args()
    rows: list[tuple[Any, ...]] = []
    result: dict[str, Any] = {
        "seconds_per_suggestion": suggester_costs(_numbers(args.sizes), args, rows),
        "round_trip": round_trips(_numbers(args.round_trip_sizes), args, rows),
        "trainer_suggest": trainer_cases(set(_numbers(args.workers)), args, rows),
    }
    runs, repeats = sequential_runs(3, args.sequential_trials)
    identical = sum(run == runs[0] for run in runs)
    rows.append(
        (
            f"{len(runs)} sequential runs, seed 11, {args.sequential_trials} trials: "
            "identical to the first / repeated configurations",
            f"{identical} of {len(runs)} / {repeats}",
            "",
            "",
            "",
        )
    )
    result["sequential"] = {
        "identical_runs": identical,
        "runs": len(runs),
        "repeated_configurations": repeats,
    }
    result["machine"] = machine()
    report(
        f"Bayes: seconds per suggestion, {DIMS}-D; trainer training {args.train_seconds} s",
        ("case", "hyperdial bayes", "its peak RSS (MiB)", "plain BoTorch (s)", "Optuna GPSampler"),
        rows,
        result,
    )


def _numbers(text: str) -> list[int]:
    return [int(item) for item in text.split(",")]


def suggester_costs(
    sizes: list[int], args: argparse.Namespace, rows: list[tuple[Any, ...]]
) -> dict[int, dict[str, float]]:
    """Part 1: the suggester called directly, by study size."""
    per_size = {}
    for n in sizes:
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as fresh:
            seconds, peak_mib = fresh.submit(ours, n, args.repeats).result()
        timing = {
            "hyperdial_bayes": seconds,
            "hyperdial_bayes_peak_rss_mib": peak_mib,
            "plain_botorch": plain_botorch(n, 1),
            "optuna_gp": optuna_gp(n, 1),
        }
        per_size[n] = timing
        rows.append(
            (
                f"suggester alone, {n} observations (s)",
                timing["hyperdial_bayes"],
                f"{peak_mib:.0f}",
                timing["plain_botorch"],
                timing["optuna_gp"],
            )
        )
    return per_size


def round_trips(
    sizes: list[int], args: argparse.Namespace, rows: list[tuple[Any, ...]]
) -> dict[int, dict[str, float]]:
    """Part 2: Suggest + Observe through a server against GPSampler's ask + tell."""
    timings = {}
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalServer(f"sqlite:///{Path(tmp) / 'b.db'}") as server,
        Client(server.address, timeout=300) as client,
    ):
        for n in sizes:
            ours_seconds = round_trip(client, n, args.rounds)
            theirs = optuna_ask_tell(n, args.rounds)
            timings[n] = {"hyperdial": ours_seconds, "optuna_gp": theirs}
            rows.append(
                (
                    f"Suggest+Observe vs ask+tell, {n} observations (s; ratio)",
                    f"{ours_seconds:.3f} ({ours_seconds / theirs:.2f}x)",
                    "",
                    "",
                    f"{theirs:.3f}",
                )
            )
    return timings


def trainer_cases(
    workers: set[int], args: argparse.Namespace, rows: list[tuple[Any, ...]]
) -> dict[str, dict[str, float]]:
    """Part 3: Suggest as trainer threads see it."""
    seen = {}
    for case in (c for c in TRAINER_CASES if c.workers in workers):
        view = seen[case.key] = trainer_view(case, args.train_seconds)
        rows.append(
            (
                f"{case.workers} trainer(s), {case.trials} trials, "
                f"{'precompute' if case.precompute else 'no precompute'}: wait p50 / p95 / max "
                "ms; waiting share; wall / ideal; repeats; best regret",
                f"{view['p50_ms']:.1f} / {view['p95_ms']:.1f} / {view['max_ms']:.0f}; "
                f"{view['waiting_share']:.1%}; {view['wall_over_ideal']:.2f}x; "
                f"{view['repeated_configurations']}; {view['best_regret']:.3g}",
                "",
                "",
                "",
            )
        )
    return seen


if __name__ == "__main__":
    main()
