"""Replicas: 16 worker processes against 1, 2 and 3 server replicas on one PostgreSQL database.

Random search, the worker loop on the Work stream (one request per trial), the
clients spread evenly over the replicas; the same work on the SQLite store with
one replica for reference. On 2 cores the point is correctness (every trial
stored once) and no collapse, not linear scaling.

    python bench/replicas.py [--trials 4000] [--quick]
    (PostgreSQL: $HYPERDIAL_BENCH_POSTGRES, default postgresql://postgres@127.0.0.1:5432/test)
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _common import machine, percentile, report
from overhead import _hyperdial_worker

POSTGRES = os.environ.get("HYPERDIAL_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
CLIENTS = 16


@contextlib.contextmanager
def _postgres_schema() -> Iterator[str]:
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            url = POSTGRES.replace("postgresql://", "postgresql+psycopg://", 1)
            yield f"{url}?options=-csearch_path%3D{schema}"
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


def run(database: str, replicas: int, trials: int) -> dict[str, Any]:
    from hyperdial.client import Client, float_param
    from hyperdial.client.tools.local import LocalServer

    servers = [LocalServer(database) for _ in range(replicas)]
    try:
        with Client(servers[0].address) as client:
            client.create_study(
                "overhead",
                [float_param("x", -5, 5), float_param("y", 1e-3, 1, log=True)],
                max_trials=trials,
            )
        start, out = mp.Event(), mp.Queue()
        workers = [
            mp.Process(
                target=_hyperdial_worker,
                args=(servers[i % replicas].address, "overhead", f"w{i}", "stream", start, out),
            )
            for i in range(CLIENTS)
        ]
        for worker in workers:
            worker.start()
        time.sleep(0.5)
        start.set()
        samples = [s for _ in workers for s in out.get()]
        for worker in workers:
            worker.join()
        with Client(servers[-1].address) as client:
            stored = list(client.study("overhead").trials(page_size=1000))
    finally:
        for server in servers:
            server.stop()
    finished = sorted(s[1] for s in samples)
    latencies = [s[2] for s in samples]
    ids = [s[0] for s in samples]
    return {
        "store": database.split(":", 1)[0],
        "replicas": replicas,
        "clients": CLIENTS,
        "trials": len(samples),
        "stored_completed": sum(t.state == "COMPLETED" for t in stored),
        "duplicate_ids": len(ids) - len(set(ids)),
        "p50_ms": percentile(latencies, 0.5) * 1e3,
        "p95_ms": percentile(latencies, 0.95) * 1e3,
        "trials_per_s": (len(finished) - 1) / (finished[-1] - finished[0]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=4000)
    parser.add_argument("--quick", action="store_true", help="1,000 trials per run")
    args = parser.parse_args()
    trials = 1000 if args.quick else args.trials
    runs = []
    for replicas in (1, 2, 3):
        with _postgres_schema() as url:
            runs.append(run(url, replicas, trials))
    with tempfile.TemporaryDirectory() as tmp:
        runs.append(run(f"sqlite:///{Path(tmp) / 'replicas.db'}", 1, trials))
    report(
        f"{CLIENTS} clients, random search, Work stream",
        ("store", "replicas", "trials", "stored", "duplicates", "p50 ms", "p95 ms", "trials/s"),
        [
            (
                r["store"],
                r["replicas"],
                r["trials"],
                r["stored_completed"],
                r["duplicate_ids"],
                r["p50_ms"],
                r["p95_ms"],
                r["trials_per_s"],
            )
            for r in runs
        ],
        {"runs": runs, "machine": machine()},
    )


if __name__ == "__main__":
    main()
