"""Faults: PostgreSQL backends terminated and replicas SIGKILLed under load, then an audit.

Two server replicas on one PostgreSQL database serve three studies: 8 worker
processes run Suggest → ReportProgress → Observe on a random and a grid study,
and 2 real `hyperdial trainer` processes tune the MLP on digits with bayes and
the median rule. For the whole run, the server's database sessions are
terminated at random (one backend or all of them, every 0.5-2 s) and a random
replica is SIGKILLed and restarted every 40-80 s. A monitor asks each replica
for its health and makes a canary write (Heartbeat) twice a second.

Then every Observe a worker saw answered OK must be stored once with its value,
and the run counts INTERNAL answers (seen by workers, logged by replicas),
FAILED trials whose reason is an error of the service, and the time a replica
said SERVING while its canary writes kept failing (episodes longer than the
health probe's detection time, 10 s).

    python bench/faults.py [--minutes 10] [--quick]
    (PostgreSQL: $HYPERDIAL_BENCH_POSTGRES, default postgresql://postgres@127.0.0.1:5432/test)
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import machine, report
from hyperdial.client.tools.local import LocalServer
from replicas import POSTGRES, _postgres_schema

STUDIES = ("random-study", "grid-study")
TRAINER_STUDY = "mlp-digits"
REPLICAS = 2
WORKERS = 8
TRAINERS = 2
# The health probe writes every 2 s and gives up after 5 s: a replica that cannot write
# says so within about 7 s, so only longer episodes count as "SERVING while unable".
DETECTION_SECONDS = 10.0


def _value(study: str, trial_id: int) -> float:
    return trial_id + (0.25 if study == STUDIES[0] else 0.5)


def _worker(address: str, worker_id: str, stop: Any, logs: Path) -> None:
    """Runs trials of the two synthetic studies in turn; logs what was acknowledged."""
    from hyperdial.client import Client, HyperdialError

    acked, errors = logs / f"{worker_id}.acked", logs / f"{worker_id}.errors"
    with (
        acked.open("a") as acked_log,
        errors.open("a") as error_log,
        Client(address, timeout=10, retry_seconds=120) as client,
    ):
        studies = [client.study(name) for name in STUDIES]
        turn = 0
        while not stop.is_set():
            study = studies[turn % len(studies)]
            turn += 1
            try:
                trial = study.next_trial(worker_id)
                assert trial is not None
                for step in range(2):
                    trial.report(step, float(step))
                trial.complete(_value(study.name, trial.id))
            except HyperdialError as error:
                error_log.write(f"{error.code.name} {error.message}\n")
                error_log.flush()
                continue
            acked_log.write(f"{study.name} {trial.id}\n")  # only after Observe answered OK
            acked_log.flush()


@dataclass
class Sample:
    at: float
    serving: bool
    writes: bool


def _monitor(address: str, stop: threading.Event, samples: list[Sample]) -> None:
    """Twice a second: is the replica SERVING, and does a canary write commit?

    A restarted replica comes back on the same port; the channel reconnects.
    """
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from hyperdial.v1 import hyperdial_pb2 as pb
    from hyperdial.v1 import hyperdial_pb2_grpc as pb_grpc

    channel = grpc.insecure_channel(address)
    while not stop.wait(0.5):
        try:
            status = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=1
            )
            serving = status.status == health_pb2.HealthCheckResponse.SERVING
        except grpc.RpcError:
            serving = False
        try:
            request = pb.HeartbeatRequest(study="canary", worker_id="canary")
            pb_grpc.HyperdialServiceStub(channel).Heartbeat(request, timeout=2)
            writes = True
        except grpc.RpcError:
            writes = False
        samples.append(Sample(time.monotonic(), serving, writes))


@dataclass
class Faults:
    terminations: int = 0
    backends_terminated: int = 0
    replica_kills: int = 0
    log: list[str] = field(default_factory=list)


def _inject(
    replicas: list[LocalServer],
    restart: Callable[[int, int], LocalServer],
    tag: str,
    seconds: float,
    faults: Faults,
) -> None:
    """Terminates server backends every 0.5-2 s and SIGKILLs a replica every 40-80 s.

    `restart(index, port)` starts replica `index` again on its port.
    """
    import psycopg

    rng = random.Random(0)
    ends = time.monotonic() + seconds
    next_kill = time.monotonic() + rng.uniform(40, 80)
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        while time.monotonic() < ends:
            time.sleep(rng.uniform(0.5, 2.0))
            pids = [
                pid
                for (pid,) in admin.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (tag,)
                )
            ]
            chosen = pids if rng.random() < 0.3 else rng.sample(pids, min(1, len(pids)))
            for pid in chosen:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            faults.terminations += 1
            faults.backends_terminated += len(chosen)
            if time.monotonic() >= next_kill:
                index = rng.randrange(len(replicas))
                victim = replicas[index]
                victim.stop(signal.SIGKILL)
                time.sleep(rng.uniform(0.5, 3.0))
                replicas[index] = restart(index, victim.port)
                faults.replica_kills += 1
                faults.log.append(f"killed and restarted {victim.address}")
                next_kill = time.monotonic() + rng.uniform(40, 80)


def _blind_minutes(samples: list[Sample]) -> tuple[float, float, float]:
    """(minutes in long episodes, longest episode s, all s) SERVING while canary writes failed."""
    episodes: list[float] = []
    start: float | None = None
    last = 0.0
    for sample in samples:
        blind = sample.serving and not sample.writes
        if blind and start is None:
            start = sample.at
        if not blind and start is not None:
            episodes.append(last - start + 0.5)
            start = None
        last = sample.at
    if start is not None:
        episodes.append(last - start + 0.5)
    long = [e for e in episodes if e > DETECTION_SECONDS]
    return sum(long) / 60, max(episodes, default=0.0), sum(episodes)


def _service_errors() -> tuple[str, ...]:
    """Reasons a trainer gives when the service, not training, failed a trial."""
    from hyperdial.client import errors

    return tuple(
        f"{name}:"
        for name, kind in vars(errors).items()
        if isinstance(kind, type) and issubclass(kind, errors.HyperdialError)
    )


def _create_studies(client: Any) -> None:
    from hyperdial.client import float_param, int_param, median_stopping
    from hyperdial.trainers.demo import SPACE

    client.create_study(STUDIES[0], [float_param("x", 0, 1), float_param("y", 1e-3, 1, log=True)])
    grid = [int_param(name, 1, 100, grid_points=100) for name in ("a", "b", "c")]
    client.create_study(STUDIES[1], grid, algorithm="grid")  # a million points
    client.create_study(
        TRAINER_STUDY,
        SPACE,
        metric="val_loss",
        algorithm="bayes",
        options={"initial_trials": 8},
        max_trials=100_000,
        stopping=median_stopping(min_trials=5, warmup_steps=2),
    )
    client.create_study("canary", [float_param("x", 0, 1)])


def _replica(url: str, tmp: Path, index: int, port: int = 0) -> LocalServer:
    """Replica `index`; its log is kept in `tmp` across restarts (on the same port)."""
    return LocalServer(url, port=port, log=tmp / f"replica-{index}.log")


def _trainer(address: str, index: int, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "hyperdial.trainers", "--server", address]
    command += ["--study", TRAINER_STUDY, "--worker-id", f"trainer-{index}"]
    with log.open("w") as stderr:
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)


def run(minutes: float, tmp: Path) -> dict[str, Any]:
    from hyperdial.client import Client

    seconds = minutes * 60
    with _postgres_schema() as base_url:
        tag = f"hd-bench-{uuid.uuid4().hex[:8]}"
        url = f"{base_url}&application_name={tag}"
        replicas = [_replica(url, tmp, i) for i in range(REPLICAS)]
        with Client(replicas[0].address) as client:
            _create_studies(client)
        logs = tmp / "workers"
        logs.mkdir()
        stop = mp.Event()
        addresses = [replicas[i % REPLICAS].address for i in range(WORKERS)]
        workers = [
            mp.Process(target=_worker, args=(address, f"worker-{i}", stop, logs))
            for i, address in enumerate(addresses)
        ]
        trainers = [
            _trainer(replicas[i % REPLICAS].address, i, tmp / f"trainer-{i}.log")
            for i in range(TRAINERS)
        ]
        for process in workers:
            process.start()
        watching = threading.Event()
        samples: list[list[Sample]] = [[] for _ in replicas]
        monitors = [
            threading.Thread(target=_monitor, args=(replica.address, watching, samples[i]))
            for i, replica in enumerate(replicas)
        ]
        for monitor in monitors:
            monitor.start()
        faults = Faults()
        started = time.monotonic()
        _inject(
            replicas, lambda index, port: _replica(url, tmp, index, port), tag, seconds, faults
        )
        elapsed = time.monotonic() - started
        time.sleep(DETECTION_SECONDS)  # the monitors see the last faults through
        watching.set()
        stop.set()
        for trainer in trainers:
            trainer.send_signal(signal.SIGTERM)
        for process in workers:
            process.join(timeout=180)
        for trainer in trainers:
            trainer.wait(timeout=180)
        for monitor in monitors:
            monitor.join()
        with Client(replicas[0].address) as client:
            stored = {
                (name, trial.id): trial
                for name in (*STUDIES, TRAINER_STUDY)
                for trial in client.study(name).trials(page_size=1000)
            }
        for replica in replicas:
            replica.stop()
    return _audit(tmp, logs, stored, samples, faults, elapsed)


def _audit(
    tmp: Path,
    logs: Path,
    stored: dict[tuple[str, int], Any],
    samples: list[list[Sample]],
    faults: Faults,
    elapsed: float,
) -> dict[str, Any]:
    """What the run lost, changed, answered INTERNAL, failed, or hid behind SERVING."""
    acked = [
        (name, int(number))
        for path in logs.glob("*.acked")
        for name, number in (line.split() for line in path.read_text().splitlines())
    ]
    errors = [line for path in logs.glob("*.errors") for line in path.read_text().splitlines()]
    codes = sorted({line.split()[0] for line in errors})
    replica_logs = "".join(path.read_text() for path in tmp.glob("replica-*.log"))
    failed = [t for t in stored.values() if t.state == "FAILED"]
    blind = [_blind_minutes(s) for s in samples]
    kept = [stored.get(key) for key in acked]
    return {
        "minutes": elapsed / 60,
        "acknowledged": len(acked),
        "lost": sum(t is None or t.state != "COMPLETED" for t in kept),
        "changed": sum(
            t is not None and t.value != _value(name, number)
            for t, (name, number) in zip(kept, acked, strict=True)
        ),
        "internal_seen_by_workers": sum(line.startswith("INTERNAL") for line in errors),
        "internal_logged_by_replicas": replica_logs.count("internal error"),
        "failed_by_service": sum(t.reason.startswith(_service_errors()) for t in failed),
        "failed_trials": len(failed),
        "failed_reasons": sorted({t.reason[:120] for t in failed}),
        "blind_minutes": sum(b[0] for b in blind),
        "longest_blind_seconds": max(b[1] for b in blind),
        "all_blind_seconds": sum(b[2] for b in blind),
        "worker_errors_by_code": {code: sum(e.startswith(code) for e in errors) for code in codes},
        "trainer_trials": {
            state: sum(
                t.state == state for (name, _), t in stored.items() if name == TRAINER_STUDY
            )
            for state in ("COMPLETED", "PRUNED", "FAILED", "PENDING", "STALE")
        },
        "terminations": faults.terminations,
        "backends_terminated": faults.backends_terminated,
        "replica_kills": faults.replica_kills,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--quick", action="store_true", help="2 minutes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = run(2.0 if args.quick else args.minutes, Path(tmp))
    shown = ("minutes", "acknowledged", "lost", "changed", "internal_seen_by_workers")
    shown += ("internal_logged_by_replicas", "failed_by_service", "blind_minutes")
    shown += ("longest_blind_seconds", "terminations", "backends_terminated", "replica_kills")
    rows = [(key, result[key]) for key in shown]
    report(
        "PostgreSQL, 2 replicas, 3 studies: backend terminations and replica SIGKILLs",
        ("measure", "value"),
        rows,
        {**result, "machine": machine()},
    )


if __name__ == "__main__":
    main()
