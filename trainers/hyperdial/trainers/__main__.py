"""`hyperdial trainer`: train a study's trials on this machine until the study is finished."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence

from rich.console import Console
from rich.logging import RichHandler

from hyperdial.client import Client, HyperdialError, NotFoundError, default_worker_id
from hyperdial.trainers.data import add_dataset_arguments, load_dataset
from hyperdial.trainers.metrics import TrainerMetrics
from hyperdial.trainers.progress import RichProgress, terminal
from hyperdial.trainers.training import pick_device
from hyperdial.trainers.worker import Worker

STUDY_POLL_SECONDS = 2.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hyperdial trainer", description=__doc__)
    parser.add_argument("--server", default=os.environ.get("HYPERDIAL_SERVER", "127.0.0.1:50051"))
    parser.add_argument("--study", required=True)
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--worker-id", default=None, help="default: host-pid")
    add_dataset_arguments(parser)
    parser.add_argument("--seed", type=int, default=0, help="split and training seed")
    parser.add_argument(
        "--folds",
        type=int,
        default=0,
        help="score each trial by k-fold cross-validation on train + validation (k >= 2); "
        "each fold's best loss is reported as a step",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve Prometheus metrics at http://ADDRESS:PORT/metrics (0 picks a port)",
    )
    parser.add_argument("--metrics-address", default="127.0.0.1")
    parser.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait up to this long for the study to be created (containers that start "
        "before whoever creates it); default: fail at once",
    )
    return parser


def _worker_when_the_study_exists(make: Callable[[], Worker], study: str, wait: float) -> Worker:
    """`make()`, retried while the study does not exist, for up to `wait` seconds."""
    give_up = time.monotonic() + wait
    announced = False
    while True:
        try:
            return make()
        except NotFoundError:
            if time.monotonic() >= give_up:
                raise
            if not announced:
                logging.info("waiting up to %.0f s for study %s to be created", wait, study)
                announced = True
            time.sleep(STUDY_POLL_SECONDS)


def _log_to(console: Console | None) -> None:
    if console is None:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    else:  # log lines print above the progress bars
        logging.basicConfig(
            level=logging.INFO,
            format="%(message)s",
            handlers=[RichHandler(console=console, show_path=False)],
        )


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of `hyperdial trainer` and `python -m hyperdial.trainers`."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.folds == 1 or args.folds < 0:
        parser.error(f"--folds must be 0 (no cross-validation) or at least 2, got {args.folds}")
    console = terminal()
    _log_to(console)
    device = pick_device(args.device)
    try:
        dataset = load_dataset(args.dataset, seed=args.seed, target=args.target, task=args.task)
    except ValueError as error:
        parser.error(str(error))
    metrics = TrainerMetrics(device.type)
    if args.metrics_port is not None:
        _, port = metrics.serve(args.metrics_address, args.metrics_port)
        logging.info("metrics at http://%s:%d/metrics", args.metrics_address, port)
    with Client(args.server) as client:
        try:
            worker = _worker_when_the_study_exists(
                lambda: Worker(
                    client,
                    args.study,
                    args.worker_id or default_worker_id(),
                    dataset,
                    device,
                    seed=args.seed,
                    metrics=metrics,
                    progress=None if console is None else RichProgress(args.study, console),
                    folds=args.folds,
                ),
                args.study,
                args.wait,
            )
        except HyperdialError as error:
            sys.exit(f"hyperdial trainer: {error.message}")
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: worker.stop.set())
        logging.info("training study %s on %s (%s)", args.study, device, args.dataset)
        try:
            summary = worker.run()
        finally:
            if worker.progress is not None:
                worker.progress.close()
    logging.info(
        "done: %d completed, %d failed, %d infeasible, %d pruned",
        summary.completed,
        summary.failed,
        summary.infeasible,
        summary.pruned,
    )


if __name__ == "__main__":
    main()
