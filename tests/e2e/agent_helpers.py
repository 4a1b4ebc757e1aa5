"""Running `hyperdial agent` in the end-to-end tests: as its own process, and what it leaves."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hyperdial.server.testing import RunningServer

EXAMPLES = Path(__file__).parents[2] / "examples"


def agent_argv(
    server: RunningServer, study: str, command: list[str], *options: str, log_dir: Path
) -> list[str]:
    return [
        sys.executable, "-m", "hyperdial.client.tools.agent_cli", "--server", server.address,
        "--study", study, "--log-dir", str(log_dir), *options, "--", *command,
    ]  # fmt: skip


def agent(
    server: RunningServer, study: str, command: list[str], *options: str, log_dir: Path
) -> subprocess.CompletedProcess[str]:
    argv = agent_argv(server, study, command, *options, log_dir=log_dir)
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def started_agent(
    server: RunningServer, study: str, script: str, *options: str, log_dir: Path
) -> subprocess.Popen[str]:
    """An agent whose command (`sh -c script`) has printed its first line, "started"."""
    argv = agent_argv(server, study, ["sh", "-c", script], *options, log_dir=log_dir)
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert "started" in process.stdout.readline()
    return process


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def group_members(group: int) -> list[int]:
    """Live processes in process group `group` (a command's group is its shell's pid)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (name)"
        except OSError:  # the process ended while we looked
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members
