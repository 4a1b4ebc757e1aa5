"""Load: 64 concurrent clients for 60 s against one server on loopback.

8 processes x 8 threads, each thread its own client and worker id, running a
worker loop (Suggest, two ReportProgress, Observe) on one of four studies, with
a GetStudy and a ListTrials page every 20 trials. Reports errors, request
latency p50/p99, throughput, and the server's resident memory before and after.

    python bench/load.py [--seconds 60] [--clients 64] [--quick]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, percentile, report

STUDIES = ("load-random-a", "load-random-b", "load-sobol", "load-grid")


def _client_loop(address: str, worker: str, seconds: float, out: list[Any]) -> None:
    from hyperdial.client import Client, HyperdialError

    latencies: list[float] = []
    errors: list[str] = []
    trials = 0

    def timed(call: Any) -> Any:
        began = time.perf_counter()
        try:
            return call()
        finally:
            latencies.append(time.perf_counter() - began)

    with Client(address, timeout=30, retry_seconds=0) as client:
        study = client.study(STUDIES[hash(worker) % len(STUDIES)])
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                trial = timed(lambda: study.next_trial(worker))
                if trial is None:
                    break
                timed(lambda t=trial: t.report(0, 1.0))
                timed(lambda t=trial: t.report(1, 0.5))
                timed(lambda t=trial: t.complete(0.25))
                trials += 1
                if trials % 20 == 0:
                    timed(study.info)
                    timed(lambda: next(iter(study.trials(page_size=50)), None))
            except HyperdialError as error:
                errors.append(f"{error.code.name}: {error.message}")
    out.append((latencies, errors, trials))


def _process(
    address: str, index: int, threads: int, seconds: float, start: Any, queue: Any
) -> None:
    results: list[Any] = []
    start.wait()
    workers = [
        threading.Thread(target=_client_loop, args=(address, f"p{index}-t{t}", seconds, results))
        for t in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    queue.put(results)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def main() -> None:
    from hyperdial.client import Client, categorical, float_param, int_param
    from hyperdial.client.tools.local import LocalServer

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="10 s")
    args = parser.parse_args()
    seconds = 10 if args.quick else args.seconds
    processes = 8
    threads = max(1, args.clients // processes)
    space = [
        float_param("lr", 1e-4, 1e-1, log=True),
        int_param("layers", 1, 4),
        categorical("opt", ["adam", "sgd"]),
    ]
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalServer(f"sqlite:///{Path(tmp) / 'load.db'}") as server,
    ):
        with Client(server.address) as client:
            client.create_study(STUDIES[0], space)
            client.create_study(STUDIES[1], space, seed=1)
            client.create_study(STUDIES[2], space, options={"sampler": "sobol"})
            grid = [
                int_param("a", 1, 1000, grid_points=1000),
                int_param("b", 1, 100, grid_points=100),
            ]
            client.create_study(STUDIES[3], grid, algorithm="grid")
        rss_start = _rss_mb(server.process.pid)
        start, queue = mp.Event(), mp.Queue()
        children = [
            mp.Process(target=_process, args=(server.address, i, threads, seconds, start, queue))
            for i in range(processes)
        ]
        for child in children:
            child.start()
        time.sleep(1.0)
        began = time.perf_counter()
        start.set()
        results = [r for _ in children for r in queue.get()]
        elapsed = time.perf_counter() - began
        for child in children:
            child.join()
        rss_end = _rss_mb(server.process.pid)
    latencies = [v for lat, _, _ in results for v in lat]
    errors = [e for _, errs, _ in results for e in errs]
    trials = sum(t for _, _, t in results)
    result = {
        "clients": processes * threads,
        "seconds": seconds,
        "requests": len(latencies),
        "errors": len(errors),
        "error_samples": errors[:5],
        "trials": trials,
        "requests_per_s": len(latencies) / elapsed,
        "trials_per_s": trials / elapsed,
        "p50_ms": percentile(latencies, 0.5) * 1e3,
        "p99_ms": percentile(latencies, 0.99) * 1e3,
        "server_rss_start_mb": rss_start,
        "server_rss_end_mb": rss_end,
        "server_rss_growth_mb": rss_end - rss_start,
        "machine": machine(),
    }
    report(
        f"{processes * threads} clients for {seconds:.0f} s (unary worker loop, SQLite, loopback)",
        (
            "requests",
            "errors",
            "req/s",
            "trials/s",
            "p50 ms",
            "p99 ms",
            "RSS start MB",
            "RSS end MB",
        ),
        [
            (
                result["requests"],
                result["errors"],
                result["requests_per_s"],
                result["trials_per_s"],
                result["p50_ms"],
                result["p99_ms"],
                rss_start,
                rss_end,
            )
        ],
        result,
    )


if __name__ == "__main__":
    main()
