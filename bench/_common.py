"""Shared by the benchmarks: start a real server process, summarize latencies, print results."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table


def start_server(database: str, *extra: str) -> tuple[subprocess.Popen[str], str]:
    """`hyperdial server` on a free loopback port; returns the process and its address."""
    command = [sys.executable, "-m", "hyperdial.server", "--address", "127.0.0.1:0"]
    command += ["--database", database, "--log-level", "WARNING", *extra]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    match = re.search(r"listening on (\S+)", server.stdout.readline())
    if match is None:
        server.kill()
        raise RuntimeError("the server did not start")
    return server, match.group(1)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    model = ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(
                (line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line), ""
            )
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": model, "python": platform.python_version()}


def report(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], result: dict[str, Any]
) -> None:
    """Prints a readable table, then the result as one JSON object on the last line."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(*(f"{cell:.2f}" if isinstance(cell, float) else str(cell) for cell in row))
    Console(width=160).print(table)
    print(json.dumps(result), flush=True)
