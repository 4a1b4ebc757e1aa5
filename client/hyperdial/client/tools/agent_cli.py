"""`hyperdial agent … -- COMMAND ARGS…`: tune any program, in any language, without client code.

For each trial the agent runs COMMAND with the trial's parameters in its
arguments (`--lr {learning_rate}`), its environment (`HYPERDIAL_PARAM_…`) and a
JSON file (`HYPERDIAL_PARAMS_FILE`), and sends back the metric lines it prints
(`hyperdial: step=3 val_loss=0.12`) or appends to `HYPERDIAL_METRICS_FILE`.
Exit 0 completes the trial, exit 78 marks it infeasible, anything else fails it;
a run that ends on a NaN or infinite metric (`val_loss=nan`) diverged: infeasible.
See the README's "Tune your own script".

    hyperdial agent --study mlp --count 20 -- python train.py --lr {learning_rate}
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from hyperdial.client.agent.command import CommandTemplate
from hyperdial.client.agent.loop import Agent
from hyperdial.client.agent.trial_run import RunSettings
from hyperdial.client.client import Client
from hyperdial.client.errors import HyperdialError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hyperdial agent",
        usage="hyperdial agent --study NAME [options] -- COMMAND [ARGS…]",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--server", default=os.environ.get("HYPERDIAL_SERVER", "127.0.0.1:50051"))
    parser.add_argument("--study", required=True, help="the study whose trials to run")
    parser.add_argument("--count", type=int, default=0, help="run at most N trials (0: no bound)")
    parser.add_argument(
        "--max-parallel", type=int, default=0, help="commands at once (default 1, or one per GPU)"
    )
    parser.add_argument("--gpus", default="", help="comma-separated GPU ids, one per command")
    parser.add_argument(
        "--grace-seconds", type=float, default=10.0, help="after SIGTERM, before SIGKILL"
    )
    parser.add_argument(
        "--heartbeat-seconds", type=float, default=30.0, help="lease renewal without metric lines"
    )
    parser.add_argument(
        "--log-dir",
        type=Path,
        default=Path("hyperdial-agent-logs"),
        help="per-trial logs, parameter and metrics files",
    )
    parser.add_argument("--tls-ca-file", default=None, help="verify the server with this CA (TLS)")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of `hyperdial agent`."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    split = args_list.index("--") if "--" in args_list else len(args_list)
    parser = _parser()
    args = parser.parse_args(args_list[:split])
    command = args_list[split + 1 :]
    if not command:
        parser.error("give the command after --, e.g. -- python train.py --lr {learning_rate}")
    gpus = [g for g in args.gpus.split(",") if g]
    parallel = args.max_parallel or max(1, len(gpus))
    if parallel < 1 or args.count < 0 or args.grace_seconds < 0 or args.heartbeat_seconds <= 0:
        parser.error(
            "--max-parallel, --count, --grace-seconds and --heartbeat-seconds must be positive"
        )
    logging.basicConfig(level=logging.INFO, format="hyperdial agent: %(message)s")
    try:
        with Client(args.server, tls_ca_file=args.tls_ca_file) as client:
            sys.exit(_run(client, args, command, parallel, gpus))
    except (HyperdialError, ValueError) as error:
        sys.exit(f"hyperdial agent: {error}")


def _run(
    client: Client, args: argparse.Namespace, command: list[str], parallel: int, gpus: list[str]
) -> int:
    """Runs the agent; its exit status (128 + the signal that stopped it, else 0)."""
    study = client.study(args.study).info()
    settings = RunSettings(
        command=CommandTemplate.parse(command, [p.name for p in study.config.parameters]),
        server=client.address,
        log_dir=args.log_dir / args.study,
        grace_seconds=args.grace_seconds,
        heartbeat_seconds=args.heartbeat_seconds,
        base_environment=dict(os.environ),
    )
    agent = Agent(client, study, settings, count=args.count, parallel=parallel, gpus=gpus)
    stopped_by: list[int] = []

    def stop(signum: int, _: FrameType | None) -> None:
        stopped_by.append(signum)
        agent.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    outcomes = agent.run()
    summary = ", ".join(f"{n} {state.lower()}" for state, n in sorted(outcomes.items()))
    print(f"hyperdial agent: {summary or 'no trials'}", file=sys.stderr)
    return 128 + stopped_by[0] if stopped_by else 0


if __name__ == "__main__":
    main()
