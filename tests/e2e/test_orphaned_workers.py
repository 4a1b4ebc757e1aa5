"""A server killed outright leaves no compute worker behind (each holds hundreds of MB)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from hyperdial.client import Client, float_param


def _children(pid: int) -> set[int]:
    """Live processes whose parent is `pid`."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (name)"
        except OSError:  # it ended while we looked
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive


def test_compute_workers_exit_when_their_server_is_killed(sqlite_url, server_process) -> None:
    server = server_process(sqlite_url)
    with Client(server.address, retry_seconds=0) as client:
        study = client.create_study(
            "fitted",
            [float_param("x", 0.0, 1.0), float_param("y", 0.0, 1.0)],
            algorithm="bayes",
            options={"initial_trials": 2},
        )
        for trial in study.suggest(2, worker_id="w"):
            trial.complete(trial.params["x"] + trial.params["y"])
        assert len(study.suggest(1, worker_id="w")) == 1  # fitted in a compute worker
    workers = _children(server.process.pid)
    assert workers, "the server started no compute worker"
    server.stop(signal.SIGKILL)
    deadline = time.monotonic() + 15  # a check a second, and the kernel's teardown
    while _alive(workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _alive(workers) == set()
