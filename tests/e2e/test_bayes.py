"""Bayes studies over gRPC: concurrent workers, no duplicate pending points, and no blocking."""

from __future__ import annotations

import threading
import time

import pytest

from hyperdial.client import Client, categorical, float_param, int_param
from hyperdial.server.testing import serve

SPACE = [
    float_param("x", -2.0, 2.0),
    int_param("n", 1, 8),
    categorical("kind", ["a", "b", "c"]),
]


FAST = {"restarts": 2, "raw_samples": 128}


def _objective(params: dict) -> float:
    return (
        (params["x"] - 0.5) ** 2 + abs(params["n"] - 3) + (0.0 if params["kind"] == "b" else 1.0)
    )


@pytest.mark.slow
def test_a_bayes_study_with_two_concurrent_workers_completes_its_budget(sqlite_url: str) -> None:
    with serve(sqlite_url) as server, Client(server.address, timeout=60) as client:
        study = client.create_study(
            "bayes", SPACE, algorithm="bayes", options={"initial_trials": 4, **FAST}, max_trials=14
        )
        pending_seen: list[tuple] = []
        errors: list[BaseException] = []
        lock = threading.Lock()

        def work(worker: str) -> None:
            try:
                handle = client.study("bayes")
                while (trial := handle.next_trial(worker)) is not None:
                    with lock:
                        pending_seen.append(tuple(sorted(trial.params.items())))
                    trial.complete(_objective(trial.params))
            except BaseException as error:  # reported by the main thread
                errors.append(error)

        workers = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=300)
        assert not errors
        info = study.info()
        assert info.trial_counts["COMPLETED"] == 14
        assert len(pending_seen) == 14
        for params in pending_seen:
            values = dict(params)
            assert -2.0 <= values["x"] <= 2.0
            assert isinstance(values["n"], int)
            assert 1 <= values["n"] <= 8
            assert values["kind"] in ("a", "b", "c")
        best = study.best_trials(1)[0]
        assert best.value < min(_objective(dict(p)) for p in pending_seen[:4]) + 1e-9


def test_a_batch_holds_distinct_configurations(sqlite_url: str) -> None:
    with serve(sqlite_url) as server, Client(server.address, timeout=60) as client:
        study = client.create_study(
            "batch", SPACE, algorithm="bayes", options={"initial_trials": 3, **FAST}, seed=7
        )
        for trial in study.suggest(3, worker_id="seed"):
            trial.complete(_objective(trial.params))
        batch = study.suggest(6, worker_id="many")
        keys = {tuple(sorted(t.params.items())) for t in batch}
        assert len(batch) == 6
        assert len(keys) == 6


@pytest.mark.slow
def test_a_random_study_answers_while_a_bayes_study_computes(sqlite_url: str) -> None:
    with serve(sqlite_url) as server, Client(server.address, timeout=60) as client:
        heavy = client.create_study(
            "heavy",
            [float_param(f"x{i}", 0.0, 1.0) for i in range(6)],
            algorithm="bayes",
            options={
                "initial_trials": 2,
                "restarts": 64,
                "raw_samples": 8192,
                "precompute": False,
            },
        )
        for trial in heavy.suggest(40, worker_id="seed"):
            trial.complete(sum((v - 0.3) ** 2 for v in trial.params.values()))
        light = client.create_study("light", [float_param("x", 0.0, 1.0)])
        light.suggest(1, worker_id="warm")[0].complete(0.0)

        computing = threading.Thread(target=lambda: heavy.suggest(8, worker_id="slow"))
        started = time.perf_counter()
        computing.start()
        time.sleep(0.2)
        latencies = []
        while computing.is_alive() and len(latencies) < 50:
            begin = time.perf_counter()
            trial = light.suggest(1, worker_id="fast", force_new=True)[0]
            trial.complete(0.5)
            latencies.append(time.perf_counter() - begin)
        computing.join(timeout=300)
        heavy_seconds = time.perf_counter() - started
        assert len(latencies) >= 5, f"the bayes computation took only {heavy_seconds:.2f} s"
        latencies.sort()
        # Measured as a ratio in one run: a random round trip is a tiny fraction of the fit.
        assert latencies[len(latencies) // 2] < heavy_seconds / 20


@pytest.mark.slow
def test_a_sequential_study_gets_the_same_fresh_suggestions_every_time(sqlite_url: str) -> None:
    # One worker, the same seed, the same results: with precomputation on or off, and
    # whatever time a trial takes, each suggestion is computed from every result so far,
    # so the runs are identical.
    plane = [float_param("x", -2.0, 2.0), float_param("y", -2.0, 2.0)]
    runs = []
    with serve(sqlite_url) as server, Client(server.address, timeout=120) as client:
        for run, (precompute, training_seconds) in enumerate(
            ((True, 0.0), (False, 0.0), (True, 1.0))
        ):
            options = {"initial_trials": 3, "precompute": precompute}
            study = client.create_study(
                f"run-{run}", plane, algorithm="bayes", options=options, seed=5
            )
            handed = []
            for _ in range(9):
                (trial,) = study.suggest(1, worker_id="w")
                handed.append((trial.params["x"], trial.params["y"]))
                time.sleep(training_seconds)
                trial.complete((trial.params["x"] - 0.5) ** 2 + (trial.params["y"] + 1) ** 2)
            runs.append(handed)
    assert runs[1] == runs[0]
    assert runs[2] == runs[0]
    assert len(set(runs[0])) == len(runs[0])


def test_workers_that_come_back_together_share_a_computation(sqlite_url: str) -> None:
    space = [float_param(f"x{i}", 0.0, 1.0) for i in range(3)]
    with serve(sqlite_url) as server, Client(server.address, timeout=60) as client:
        study = client.create_study(
            "crowd", space, algorithm="bayes", options={"initial_trials": 4, **FAST}, seed=3
        )
        design = study.suggest(4, worker_id="design")
        for trial in design[:3]:
            trial.complete(sum((v - 0.3) ** 2 for v in trial.params.values()))
        # design[3] keeps running: other workers are busy, so queued suggestions may serve.
        handed = []
        start = threading.Barrier(8)

        def ask(worker: str) -> None:
            start.wait()
            handed.extend(study.suggest(1, worker_id=worker))

        crowd = [threading.Thread(target=ask, args=(f"w{k}",)) for k in range(8)]
        for thread in crowd:
            thread.start()
        for thread in crowd:
            thread.join(timeout=120)
        computations = server.app.metrics.registry.get_sample_value(
            "hyperdial_suggestion_compute_seconds_count", {"algorithm": "bayes"}
        )
        assert len(handed) == 8
        assert len({tuple(sorted(t.params.items())) for t in handed}) == 8
        # One computation drew the design; one per Suggest would make 9 in all.
        assert computations is not None
        assert computations <= 4


def test_the_initial_design_is_drawn_without_the_compute_pool(sqlite_url: str) -> None:
    # A fresh study's first workers wait neither for the pool's start-up nor for turns in it.
    with serve(sqlite_url) as server, Client(server.address, timeout=60) as client:
        study = client.create_study(
            "design", SPACE, algorithm="bayes", options={"initial_trials": 4, **FAST}, seed=2
        )
        design = [trial for k in range(4) for trial in study.suggest(1, worker_id=f"w{k}")]
        registry = server.app.metrics.registry
        computed = {"algorithm": "bayes"}
        assert registry.get_sample_value(
            "hyperdial_suggestion_compute_seconds_count", computed
        ) in (
            None,
            0.0,
        )
        for trial in design:
            trial.complete(_objective(trial.params))
        study.suggest(1, worker_id="w0")
        assert (
            registry.get_sample_value("hyperdial_suggestion_compute_seconds_count", computed) == 1
        )
