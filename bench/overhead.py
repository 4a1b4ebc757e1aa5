"""Service overhead: Suggest + Observe round trips over loopback gRPC on the SQLite store.

Random search, one study per run; each run goes to `--trials` (10,000) trials and
reports the first 1,000 trials and the last 1,000 separately, so growth with the
study's size shows directly. Two ways to run the worker loop:

* unary:    Suggest, then Observe: two unary RPCs per trial (any client);
* prefetch: Observe(next_count=1) hands out the next trial in the same call: one
            unary RPC per trial (Python client: `client.study(name, prefetch=True)`);
* stream:   the same single request per trial, on the worker's Work stream
            (`client.study(name, prefetch=True, stream=True)`).

The same run times Optuna (ask/tell, RandomSampler, SQLite RDB storage) with 1
and 4 worker processes for the ratios. `--quick` runs a reduced version.

    python bench/overhead.py [--quick]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import machine, percentile, report

WINDOW = 1000


MODES = {"unary": {}, "prefetch": {"prefetch": True}, "stream": {"prefetch": True, "stream": True}}


def _hyperdial_worker(
    address: str, study_name: str, worker_id: str, mode: str, start: Any, out: Any
) -> None:
    from hyperdial.client import Client

    samples: list[tuple[int, float, float]] = []  # (trial id, finished at, latency)
    with Client(address) as client:
        study = client.study(study_name, **MODES[mode])
        start.wait()
        while True:
            began = time.perf_counter()
            trial = study.next_trial(worker_id)
            if trial is None:
                break
            trial.complete(float(trial.params["x"]) ** 2 + float(trial.params["y"]))
            done = time.perf_counter()
            samples.append((trial.id, done, done - began))
        study.close()
    out.put(samples)


def run_hyperdial(clients: int, trials: int, durability: str, mode: str) -> list[dict[str, Any]]:
    from hyperdial.client import Client, float_param
    from hyperdial.client.tools.local import LocalServer

    with tempfile.TemporaryDirectory() as tmp:
        database = f"sqlite:///{Path(tmp) / 'bench.db'}"
        with LocalServer(database, args=["--durability", durability]) as server:
            address = server.address
            with Client(address) as client:
                client.create_study(
                    "overhead",
                    [float_param("x", -5, 5), float_param("y", 1e-3, 1, log=True)],
                    max_trials=trials,
                )
            start, out = mp.Event(), mp.Queue()
            workers = [
                mp.Process(
                    target=_hyperdial_worker, args=(address, "overhead", f"w{i}", mode, start, out)
                )
                for i in range(clients)
            ]
            for worker in workers:
                worker.start()
            time.sleep(0.5)
            start.set()
            samples = sorted(s for _ in workers for s in out.get())
            for worker in workers:
                worker.join()
    assert len(samples) == trials, f"{len(samples)} trials observed of {trials}"
    windows = [(f"first {WINDOW}", samples[:WINDOW])]
    if trials > WINDOW:
        windows.append((f"last {WINDOW} of {trials}", samples[-WINDOW:]))
    cases = []
    for label, window in windows:
        latencies = [s[2] for s in window]
        finished = sorted(s[1] for s in window)
        span = finished[-1] - finished[0]
        cases.append(
            {
                "clients": clients,
                "trials": WINDOW if label.startswith("first") else trials,
                "window": label,
                "durability": durability,
                "mode": mode,
                "requests_per_trial": 2 if mode == "unary" else 1,
                "p50_ms": percentile(latencies, 0.5) * 1e3,
                "p95_ms": percentile(latencies, 0.95) * 1e3,
                "trials_per_s": (len(window) - 1) / span,
            }
        )
    return cases


def _health_worker(address: str, seconds: float, start: Any, out: Any) -> None:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        request = health_pb2.HealthCheckRequest()
        stub.Check(request)
        start.wait()
        latencies = []
        end = time.perf_counter() + seconds
        while (began := time.perf_counter()) < end:
            stub.Check(request)
            latencies.append(time.perf_counter() - began)
    out.put(latencies)


def run_floor(clients: int, seconds: float = 4.0) -> dict[str, Any]:
    """The cost of gRPC itself here: empty health-check round trips against the same server."""
    from hyperdial.client.tools.local import LocalServer

    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalServer(f"sqlite:///{Path(tmp) / 'f.db'}") as server,
    ):
        start, out = mp.Event(), mp.Queue()
        workers = [
            mp.Process(target=_health_worker, args=(server.address, seconds, start, out))
            for _ in range(clients)
        ]
        for worker in workers:
            worker.start()
        time.sleep(0.5)
        start.set()
        latencies = [v for _ in workers for v in out.get()]
        for worker in workers:
            worker.join()
    return {
        "clients": clients,
        "p50_ms": percentile(latencies, 0.5) * 1e3,
        "rpcs_per_s": len(latencies) / seconds,
    }


def _optuna_worker(url: str, trials: int, start: Any, out: Any) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(
        study_name="overhead", storage=url, sampler=optuna.samplers.RandomSampler()
    )
    latencies, finished = [], []
    start.wait()
    for _ in range(trials):
        began = time.perf_counter()
        trial = study.ask()
        x = trial.suggest_float("x", -5, 5)
        y = trial.suggest_float("y", 1e-3, 1, log=True)
        study.tell(trial, x**2 + y)
        done = time.perf_counter()
        latencies.append(done - began)
        finished.append(done)
    out.put((latencies, finished))


def run_optuna(workers: int, trials: int) -> dict[str, Any]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'optuna.db'}"
        optuna.create_study(study_name="overhead", storage=url)
        start, out = mp.Event(), mp.Queue()
        processes = [
            mp.Process(target=_optuna_worker, args=(url, trials // workers, start, out))
            for _ in range(workers)
        ]
        for process in processes:
            process.start()
        time.sleep(1.0)
        start.set()
        results = [out.get() for _ in processes]
        for process in processes:
            process.join()
    latencies = [v for lat, _ in results for v in lat]
    finished = sorted(v for _, fin in results for v in fin)
    return {
        "workers": workers,
        "trials": len(latencies),
        "p50_ms": statistics.median(latencies) * 1e3,
        "p95_ms": percentile(latencies, 0.95) * 1e3,
        "trials_per_s": (len(finished) - 1) / (finished[-1] - finished[0]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="1,000 trials per run, 200 for Optuna"
    )
    args = parser.parse_args()
    trials = WINDOW if args.quick else 10 * WINDOW
    optuna_trials = 200 if args.quick else 1000
    cases: list[dict[str, Any]] = []
    for clients, durability in [(1, "full"), (1, "process"), (16, "full")]:
        for mode in MODES:
            cases += run_hyperdial(clients, trials, durability, mode)
    optuna_runs = [run_optuna(1, optuna_trials), run_optuna(4, optuna_trials)]
    floor = [run_floor(1), run_floor(16)]

    def pick(clients: int, durability: str, mode: str) -> list[dict[str, Any]]:
        return [
            c
            for c in cases
            if (c["clients"], c["durability"], c["mode"]) == (clients, durability, mode)
        ]

    def ratio(clients: int, mode: str, optuna_run: dict[str, Any]) -> float:
        return float(pick(clients, "full", mode)[0]["trials_per_s"] / optuna_run["trials_per_s"])

    def growth(clients: int, mode: str) -> float | None:
        windows = pick(clients, "full", mode)
        return windows[1]["p50_ms"] / windows[0]["p50_ms"] if len(windows) == 2 else None

    result = {
        "cases": cases,
        "optuna": optuna_runs,
        "ratio_single": ratio(1, "stream", optuna_runs[0]),
        "ratio_16": ratio(16, "stream", optuna_runs[1]),
        "ratios_by_mode": {
            mode: {"single": ratio(1, mode, optuna_runs[0]), "16": ratio(16, mode, optuna_runs[1])}
            for mode in MODES
        },
        "p50_growth_10k_vs_1k": {
            mode: {"1": growth(1, mode), "16": growth(16, mode)} for mode in MODES
        },
        "empty_rpc_floor": floor,
        "machine": machine(),
    }
    rows = [
        (
            "hyperdial",
            c["clients"],
            c["window"],
            c["durability"],
            c["mode"],
            c["p50_ms"],
            c["p95_ms"],
            c["trials_per_s"],
        )
        for c in cases
    ]
    rows += [
        (
            "optuna",
            o["workers"],
            f"{o['trials']} trials",
            "-",
            "ask/tell",
            o["p50_ms"],
            o["p95_ms"],
            o["trials_per_s"],
        )
        for o in optuna_runs
    ]
    rows += [
        (
            "empty RPC",
            f["clients"],
            "4 s",
            "-",
            "health",
            f["p50_ms"],
            "-",
            f"{f['rpcs_per_s']:.0f} RPC/s",
        )
        for f in floor
    ]
    report(
        "Suggest+Observe overhead (random search, SQLite, loopback)",
        ("system", "clients", "window", "durability", "mode", "p50 ms", "p95 ms", "trials/s"),
        rows,
        result,
    )


if __name__ == "__main__":
    main()
