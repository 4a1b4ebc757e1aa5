"""Bayes latency: seconds per suggestion by study size, and Suggest as a trainer sees it.

Part 1 calls the bayes suggester directly on a 6-D space with 20, 50, 100, 200
and 1,000 random observations of Hartmann6 (fit + acquisition; median of
`--repeats`), beside a plain BoTorch loop (SingleTaskGP fitted on every
observation + qLogNEI, 8 restarts, 512 raw samples) and Optuna's GPSampler
asking with the same observations.

Part 2 runs a real server and 1 or 8 trainer threads whose "training" sleeps
`--train-seconds`: the latency of each Suggest after the Sobol phase, with
precomputation on (the default) and off.

Part 3 runs three one-worker studies with the same seed, one after the other,
on deterministic Hartmann6 (`--sequential-trials` each): how many of them got
exactly the first one's suggestions, and how many configurations a run was
handed again after finishing them.

    python bench/bayes_latency.py [--sizes 20,50,100,200,1000] [--trials 12]
        [--sequential-trials 96]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import statistics
import tempfile
import threading
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
from botorch.test_functions import Hartmann
from gpytorch.mlls import ExactMarginalLogLikelihood

from _common import machine, percentile, report
from hyperdial.client import Client, float_param
from hyperdial.client.tools.local import LocalServer
from hyperdial.server.algorithms.base import History, Observed, make_suggester
from hyperdial.server.domain import AlgorithmConfig
from hyperdial.server.service.compute import default_workers, threads_per_worker
from hyperdial.server.space import FloatParam, SearchSpace

DIMS = 6
INITIAL = 5
SPACE = SearchSpace(tuple(FloatParam(f"x{i}", 0.0, 1.0) for i in range(DIMS)))
HARTMANN = Hartmann(dim=DIMS)


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


def optuna_gp(n: int, repeats: int) -> float:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    x, y = _observations(n, n)
    distributions = {f"x{i}": optuna.distributions.FloatDistribution(0, 1) for i in range(DIMS)}
    trials = [
        optuna.trial.create_trial(
            params={f"x{i}": v for i, v in enumerate(row)},
            distributions=distributions,
            value=value,
        )
        for row, value in zip(x.tolist(), y.squeeze(-1).tolist(), strict=True)
    ]

    def ask() -> None:
        study = optuna.create_study(sampler=optuna.samplers.GPSampler(seed=0))
        study.add_trials(trials)
        trial = study.ask()
        for name in distributions:
            trial.suggest_float(name, 0, 1)

    return _timed(ask, repeats)


def _hartmann(params: dict[str, Any]) -> float:
    point = torch.tensor([[params[f"x{i}"] for i in range(DIMS)]], dtype=torch.float64)
    return float(HARTMANN(point))


def _bayes_study(client: Client, name: str, precompute: bool = True, seed: int = 0) -> Any:
    return client.create_study(
        name,
        [float_param(f"x{i}", 0.0, 1.0) for i in range(DIMS)],
        algorithm="bayes",
        options={"initial_trials": INITIAL, "precompute": precompute},
        seed=seed,
    )


def trainer_view(trials: int, train_seconds: float, precompute: bool, workers: int) -> list[float]:
    """Suggest latencies (s) seen by `workers` trainer threads once the Sobol phase is over."""
    latencies: list[float] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalServer(f"sqlite:///{Path(tmp) / 'b.db'}") as server,
        Client(server.address, timeout=300) as client,
    ):
        study = _bayes_study(client, "latency", precompute)
        budget = INITIAL + trials

        def work(worker: str) -> None:
            while True:
                started = time.perf_counter()
                handed = study.suggest(1, worker_id=worker)
                waited = time.perf_counter() - started
                if not handed or handed[0].id > budget:
                    return
                trial = handed[0]
                if trial.id > INITIAL:
                    latencies.append(waited)
                    time.sleep(train_seconds)
                trial.complete(_hartmann(trial.params))

        threads = [threading.Thread(target=work, args=(f"w{k}",)) for k in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return latencies


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
            study = _bayes_study(client, f"run-{run}", seed=11)
            seen: list[tuple[float, ...]] = []
            for _ in range(trials):
                (trial,) = study.suggest(1, worker_id="trainer")
                point = tuple(float(trial.params[f"x{i}"]) for i in range(DIMS))
                repeats += point in seen
                seen.append(point)
                trial.complete(_hartmann(trial.params))
            suggestions.append(seen)
    return suggestions, repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="20,50,100,200,1000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--trials", type=int, default=12, help="trainer trials after Sobol")
    parser.add_argument("--train-seconds", type=float, default=2.0)
    parser.add_argument(
        "--sequential-trials",
        type=int,
        default=96,
        help="trials of each of the three one-worker runs on deterministic Hartmann6",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows, per_size = [], {}
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
                f"{n} observations",
                timing["hyperdial_bayes"],
                f"{timing['hyperdial_bayes_peak_rss_mib']:.0f}",
                timing["plain_botorch"],
                timing["optuna_gp"],
            )
        )
    seen = {}
    for workers in (1, 8):
        for precompute in (True, False):
            latencies = trainer_view(args.trials, args.train_seconds, precompute, workers)
            key = f"{workers}_workers_" + ("precompute" if precompute else "no_precompute")
            seen[key] = {
                "p50_ms": 1000 * percentile(latencies, 0.5),
                "p95_ms": 1000 * percentile(latencies, 0.95),
            }
            rows.append(
                (
                    f"Suggest seen by {workers} trainer(s), {key} (p50 / p95 ms)",
                    f"{seen[key]['p50_ms']:.1f} / {seen[key]['p95_ms']:.1f}",
                    "",
                    "",
                    "",
                )
            )
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
    checks = {"identical_runs": identical, "runs": len(runs), "repeated_configurations": repeats}
    report(
        f"Bayes: seconds per suggestion, {DIMS}-D; trainer training {args.train_seconds} s",
        (
            "case",
            "hyperdial bayes (s)",
            "its peak RSS (MiB)",
            "plain BoTorch (s)",
            "Optuna GPSampler (s)",
        ),
        rows,
        {
            "seconds_per_suggestion": per_size,
            "trainer_suggest": seen,
            "sequential": checks,
            "machine": machine(),
        },
    )


if __name__ == "__main__":
    main()
