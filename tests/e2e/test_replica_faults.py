"""Replicas on PostgreSQL under faults: lock races are retried, killed backends are survived."""

import threading
import time
import uuid

import grpc
import psycopg
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tests.helpers import POSTGRES, postgres_schema

from hyperdial.client import Client, HyperdialError, float_param


def _run_workers(addresses, studies, workers, trials_each, errors, acknowledged, until=None):
    """Workers, each bound to one replica, cycling over the studies one trial at a time.

    Each runs `trials_each` trials, or as many as it can until the event `until` is set.
    """
    lock = threading.Lock()

    def work(index: int) -> None:
        with Client(addresses[index % len(addresses)], timeout=30, retry_seconds=60) as client:
            handles = [client.study(name) for name in studies]
            k = -1
            while (k := k + 1) < trials_each if until is None else not until.is_set():
                study = handles[(index + k) % len(handles)]
                try:
                    trial = study.next_trial(f"w{index}")
                    assert trial is not None
                    value = trial.params["x"] * 10
                    trial.complete(value)
                except HyperdialError as error:
                    with lock:
                        errors.append(error)
                    continue
                with lock:
                    acknowledged.append((study.name, trial.id, value))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _stored(address, studies):
    with Client(address) as client:
        return {
            (name, t.id): t for name in studies for t in client.study(name).trials(page_size=1000)
        }


def _serving(address: str) -> bool:
    with grpc.insecure_channel(address) as channel:
        answer = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=5
        )
    return answer.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.slow
def test_three_busy_studies_on_two_replicas_answer_no_internal_error(server_process) -> None:
    """Batches of two replicas lock study rows in one order: no deadlock reaches a client."""
    with postgres_schema() as url:
        replicas = [server_process(url) for _ in range(2)]
        studies = ["a", "b", "c"]
        with Client(replicas[0].address) as client:
            for name in studies:
                client.create_study(name, [float_param("x", 0, 1)])
        errors: list[HyperdialError] = []
        acknowledged: list[tuple[str, int, float]] = []
        _run_workers([r.address for r in replicas], studies, 8, 150, errors, acknowledged)
        stored = _stored(replicas[1].address, studies)
        for replica in replicas:
            replica.stop()
    assert errors == []
    assert len(acknowledged) == 8 * 150
    for name, trial_id, value in acknowledged:
        assert stored[(name, trial_id)].state == "COMPLETED"
        assert stored[(name, trial_id)].value == value


@pytest.mark.slow
def test_replicas_ride_through_repeated_backend_terminations(server_process) -> None:
    """Every server backend is terminated every 0.3 s for 8 s while workers run."""
    with postgres_schema() as base_url:
        tag = f"hd-faults-{uuid.uuid4().hex[:8]}"
        url = f"{base_url}&application_name={tag}"
        replicas = [server_process(url) for _ in range(2)]
        studies = ["a", "b"]
        with Client(replicas[0].address) as client:
            for name in studies:
                client.create_study(name, [float_param("x", 0, 1)])
        stop = threading.Event()
        terminated: list[int] = []

        def terminate() -> None:
            ends = time.monotonic() + 8
            with psycopg.connect(POSTGRES, autocommit=True) as admin:
                while not stop.wait(0.3) and time.monotonic() < ends:
                    rows = admin.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = %s",
                        (tag,),
                    ).fetchall()
                    terminated.append(len(rows))

        killer = threading.Thread(target=terminate)
        killer.start()
        errors: list[HyperdialError] = []
        acknowledged: list[tuple[str, int, float]] = []
        done = threading.Event()
        threading.Thread(target=lambda: (killer.join(), done.set())).start()
        try:
            addresses = [r.address for r in replicas]
            _run_workers(addresses, studies, 8, 0, errors, acknowledged, until=done)
        finally:
            stop.set()
            killer.join()
        time.sleep(3)  # a health probe after the last termination
        serving = [_serving(r.address) for r in replicas]
        for replica in replicas:  # each still writes, at once
            with Client(replica.address, timeout=5, retry_seconds=5) as client:
                trial = client.study("a").next_trial("after")
                trial.complete(trial.params["x"] * 10)
                acknowledged.append(("a", trial.id, trial.params["x"] * 10))
        stored = _stored(replicas[1].address, studies)
        for replica in replicas:
            replica.stop()
    assert sum(terminated) >= 20, terminated  # the faults really happened
    assert errors == []
    assert len(acknowledged) > 100
    for name, trial_id, value in acknowledged:
        assert stored[(name, trial_id)].state == "COMPLETED"
        assert stored[(name, trial_id)].value == value
    assert serving == [True, True]
