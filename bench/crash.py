"""Crash durability: SIGKILL the server under load, restart it, and audit the store.

Each round: 8 worker processes run Suggest → Observe in a loop on one study; the
server is killed with SIGKILL mid-stream and restarted on the same database and
port; the workers ride through on their own (client retries) and keep going.
Then every Observe a worker saw answered OK must be in the store exactly once
with its value, no trial may have been handed to two workers, and every worker
must stop when told.

The workers are spawned, not forked: a fork of a process that has run gRPC
(this one, or a test process) may inherit a lock held by one of its threads
and hang.

    python bench/crash.py [--rounds 20] [--quick]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import signal
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

STUDY = "crash"


def _value(trial_id: int) -> float:
    return trial_id + 0.25


def _worker(address: str, worker_id: str, stop: Any, ready: Any, log_path: str) -> None:
    from hyperdial.client import Client

    with open(log_path, "a") as log, Client(address, timeout=5, retry_seconds=60) as client:
        study = client.study(STUDY)
        while not stop.is_set():
            trial = study.next_trial(worker_id)
            assert trial is not None
            trial.complete(_value(trial.id))
            log.write(f"{trial.id} {time.time()}\n")  # only after Observe answered OK
            log.flush()
            ready.set()


def _stop_workers(processes: list[Any], stop: Any) -> int:
    """Tells the workers to stop and waits for them; returns how many had to be killed."""
    stop.set()
    killed = 0
    for process in processes:
        process.join(timeout=60)
        if process.is_alive():
            process.kill()
            process.join()
            killed += 1
    return killed


@dataclass
class RoundResult:
    acknowledged: int
    lost: int
    wrong_value: int
    acknowledged_twice: int
    recovery_seconds: float
    workers_killed: int


def crash_round(
    database: str,
    logs: Path,
    *,
    workers: int = 8,
    before: float = 1.5,
    down: float = 0.5,
    after: float = 2.0,
    port: int = 0,
) -> tuple[RoundResult, int]:
    """Runs one kill/restart round; returns its audit and the port the server used."""
    from hyperdial.client import Client, float_param
    from hyperdial.client.tools.local import LocalServer

    server = LocalServer(database, port=port)
    with Client(server.address) as client:
        client.create_study(STUDY, [float_param("x", 0, 1)])
    spawn = mp.get_context("spawn")
    stop = spawn.Event()
    readiness = [spawn.Event() for _ in range(workers)]
    paths = [logs / f"worker-{i}.log" for i in range(workers)]
    processes = [
        spawn.Process(target=_worker, args=(server.address, f"worker-{i}", stop, ready, str(path)))
        for i, (ready, path) in enumerate(zip(readiness, paths, strict=True))
    ]
    for process in processes:
        process.start()
    for ready in readiness:  # the kill comes `before` seconds into a steady stream
        ready.wait(timeout=120)
    time.sleep(before)
    server.stop(signal.SIGKILL)
    time.sleep(down)
    server = LocalServer(database, port=server.port)
    restarted = time.time()
    time.sleep(after)
    killed = _stop_workers(processes, stop)
    acked: dict[int, list[float]] = {}
    for path in paths:
        for line in path.read_text().split("\n"):
            if line:
                trial_id, at = line.split()
                acked.setdefault(int(trial_id), []).append(float(at))
    with Client(server.address) as client:
        stored = {t.id: t for t in client.study(STUDY).trials()}
    server.stop()
    after_restart = [at for times in acked.values() for at in times if at > restarted]
    result = RoundResult(
        acknowledged=sum(len(times) for times in acked.values()),
        lost=sum(1 for i in acked if i not in stored or stored[i].state != "COMPLETED"),
        wrong_value=sum(1 for i in acked if i in stored and stored[i].value != _value(i)),
        acknowledged_twice=sum(1 for times in acked.values() if len(times) > 1),
        recovery_seconds=(min(after_restart) - restarted) if after_restart else float("inf"),
        workers_killed=killed,
    )
    return result, server.port


def main() -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from _common import machine, report

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="3 rounds")
    args = parser.parse_args()
    rounds = 3 if args.quick else args.rounds
    results: list[RoundResult] = []
    with tempfile.TemporaryDirectory() as tmp:
        database, port = f"sqlite:///{Path(tmp) / 'crash.db'}", 0
        for number in range(rounds):
            logs = Path(tmp) / f"round-{number}"
            logs.mkdir()
            result, port = crash_round(database, logs, port=port)
            results.append(result)
    totals = {
        "rounds": rounds,
        "acknowledged": sum(r.acknowledged for r in results),
        "lost": sum(r.lost for r in results),
        "wrong_value": sum(r.wrong_value for r in results),
        "acknowledged_twice": sum(r.acknowledged_twice for r in results),
        "max_recovery_seconds": max(r.recovery_seconds for r in results),
        "workers_killed": sum(r.workers_killed for r in results),
    }
    rows = [
        (
            i + 1,
            r.acknowledged,
            r.lost,
            r.wrong_value,
            r.acknowledged_twice,
            r.recovery_seconds,
            r.workers_killed,
        )
        for i, r in enumerate(results)
    ]
    report(
        "SIGKILL under load: acknowledged Observes audited after restart",
        ("round", "acknowledged", "lost", "wrong value", "acked twice", "recovery s", "killed"),
        rows,
        {"totals": totals, "rounds": [asdict(r) for r in results], "machine": machine()},
    )


if __name__ == "__main__":
    main()
