"""`hyperdial agent` overhead: per trial beyond the command's own run time, per metric line.

A real server (SQLite file, durable writes) and a random study; the agent
runs as users run it, in its own process.

- Per trial: the agent runs `--trials` and then twice as many trials of a
  command that prints one final metric line (`sh -c 'echo …'`); the
  difference over `--trials` is the cost of one trial with the agent's start
  taken out. The same command run directly as often gives its own run time,
  which is subtracted.
- Per metric line: the same, for a command that prints `--lines` progress
  lines (each a ReportProgress) against one that prints none; the direct run
  of both commands gives their own run times.

    python bench/agent.py [--trials 30] [--lines 2000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import machine, report
from hyperdial.client import Client, float_param
from hyperdial.client.tools.local import LocalServer

FINAL = "echo 'hyperdial: final objective=1'"


def _progress(lines: int) -> str:
    """A command printing `lines` progress lines, then the final one."""
    return (
        f'i=0; while [ $i -lt {lines} ]; do echo "hyperdial: step=$i objective=1.$i"; '
        f"i=$((i+1)); done; {FINAL}"
    )


def _agent_seconds(client: Client, address: str, script: str, trials: int, folder: Path) -> float:
    """Wall seconds of one agent process running `trials` trials of `sh -c script`."""
    name = f"s{time.monotonic_ns()}"
    client.create_study(name, [float_param("x", 0, 1)], algorithm="random", max_trials=trials)
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "hyperdial.client.tools.agent_cli",
            "--server",
            address,
            "--study",
            name,
            "--log-dir",
            str(folder),
            "--",
            "sh",
            "-c",
            script,
        ],
        check=True,
        capture_output=True,
    )
    seconds = time.perf_counter() - started
    states = {t.state for t in client.study(name).trials()}
    assert states == {"COMPLETED"}, states
    return seconds


def _direct_seconds(script: str, runs: int) -> float:
    """Wall seconds of running `sh -c script` `runs` times, its output read."""
    started = time.perf_counter()
    for _ in range(runs):
        subprocess.run(["sh", "-c", script], check=True, capture_output=True)
    return time.perf_counter() - started


def _marginal(client: Client, address: str, script: str, trials: int, folder: Path) -> float:
    """Seconds per trial of the agent, its start-up taken out: 2N trials less N, over N."""
    return (
        _agent_seconds(client, address, script, 2 * trials, folder)
        - _agent_seconds(client, address, script, trials, folder)
    ) / trials


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    per_trial, per_line = [], []
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalServer(f"sqlite:///{Path(tmp) / 'agent.db'}") as server,
        Client(server.address) as client,
    ):
        folder = Path(tmp) / "logs"
        chatty, quiet = _progress(args.lines), _progress(0)
        for _ in range(args.repeats):
            agent = _marginal(client, server.address, FINAL, args.trials, folder)
            per_trial.append(agent - _direct_seconds(FINAL, args.trials) / args.trials)
            lines_agent = _agent_seconds(client, server.address, chatty, 5, folder)
            lines_agent -= _agent_seconds(client, server.address, quiet, 5, folder)
            lines_own = _direct_seconds(chatty, 5) - _direct_seconds(quiet, 5)
            per_line.append((lines_agent - lines_own) / (5 * args.lines))
    trial_ms, line_ms = statistics.median(per_trial) * 1e3, statistics.median(per_line) * 1e3
    result: dict[str, Any] = {
        "overhead_per_trial_ms": trial_ms,
        "overhead_per_metric_line_ms": line_ms,
        "runs_per_trial_ms": [s * 1e3 for s in per_trial],
        "runs_per_line_ms": [s * 1e3 for s in per_line],
        "targets_met": {"per_trial <= 50 ms": trial_ms <= 50, "per_line <= 1 ms": line_ms <= 1},
        "machine": machine(),
        "args": vars(args),
    }
    report(
        "hyperdial agent: overhead beyond the command's own run time (median of repeats)",
        ("case", "overhead (ms)", "target (ms)", "met"),
        [
            ("per trial (spawn, parse, Suggest + Observe)", trial_ms, 50.0, trial_ms <= 50),
            ("per metric line (parse + ReportProgress)", line_ms, 1.0, line_ms <= 1),
        ],
        result,
    )


if __name__ == "__main__":
    main()
