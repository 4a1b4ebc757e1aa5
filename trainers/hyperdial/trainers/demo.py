"""`hyperdial demo`: a real study end to end on the default SQLite store.

Starts `hyperdial server` on a free loopback port with ./hyperdial.db, runs two
worker processes that minimize the Branin function with random (Sobol) search
and then with grid search, and prints the best trials and their regret.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from hyperdial.client import Client, Study, float_param
from hyperdial.client.local import LocalServer
from hyperdial.trainers.functions import BRANIN_MINIMUM, branin

SPACE = [float_param("x1", -5, 10), float_param("x2", 0, 15)]


def _work(address: str, study_name: str, worker_id: str) -> None:
    """One worker: suggest → evaluate → observe until the study is finished."""
    with Client(address) as client:
        study = client.study(study_name, prefetch=True)
        while (trial := study.next_trial(worker_id)) is not None:
            with trial:
                trial.complete(branin(float(trial.params["x1"]), float(trial.params["x2"])))


def _run_study(client: Client, name: str, workers: int, **config: object) -> tuple[Study, float]:
    study = client.create_study(name, SPACE, goal="minimize", metric="branin", **config)  # type: ignore[arg-type]
    started = time.perf_counter()
    processes = [
        multiprocessing.Process(target=_work, args=(client.address, name, f"demo-worker-{i}"))
        for i in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    return study, time.perf_counter() - started


def main(argv: Sequence[str] | None = None) -> None:
    """Runs the demo; `--database` picks another store."""
    parser = argparse.ArgumentParser(prog="hyperdial demo", description=__doc__)
    parser.add_argument("--database", default="sqlite:///hyperdial.db")
    parser.add_argument("--trials", type=int, default=200, help="random-search budget")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    console = Console()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with LocalServer(args.database) as server, Client(server.address) as client:
        table = Table(title=f"Branin (minimum {BRANIN_MINIMUM:.6f}) on {args.database}")
        table.add_column("search", no_wrap=True)
        for column in ("trials", "seconds", "best x1", "best x2", "best value", "regret"):
            table.add_column(column, justify="right")
        runs = [
            (
                "Sobol random",
                f"branin-random-{stamp}",
                {"options": {"sampler": "sobol"}, "max_trials": args.trials},
            ),
            (
                "grid 15x15",
                f"branin-grid-{stamp}",
                {"algorithm": "grid", "options": {"grid_points": 15}},
            ),
        ]
        for label, name, config in runs:
            console.print(f"running [bold]{name}[/] with {args.workers} workers …")
            study, seconds = _run_study(client, name, args.workers, **config)
            (best,) = study.best_trials(1)
            count = study.info().trial_counts["COMPLETED"]
            assert best.value is not None
            table.add_row(
                label,
                str(count),
                f"{seconds:.1f}",
                f"{best.params['x1']:.4f}",
                f"{best.params['x2']:.4f}",
                f"{best.value:.6f}",
                f"{best.value - BRANIN_MINIMUM:.2e}",
            )
        console.print(table)
        console.print(f"server at {server.address}; studies kept in {args.database}")


if __name__ == "__main__":
    main()
