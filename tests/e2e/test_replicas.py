"""Several server replicas on one PostgreSQL database serve one study without double hand-outs."""

import threading

import pytest
from tests.helpers import postgres_schema

from hyperdial.client import Client, float_param, int_param


def test_three_replicas_hand_out_each_grid_point_once(server_process) -> None:
    with postgres_schema() as url:
        replicas = [server_process(url) for _ in range(3)]
        space = [int_param("a", 1, 20, grid_points=20), float_param("b", 0, 1, grid_points=15)]
        acknowledged: list[tuple[int, int, float]] = []
        lock = threading.Lock()
        created = threading.Barrier(12)

        def work(index: int) -> None:
            address = replicas[index % 3].address
            with Client(address, retry_seconds=30) as client:
                # Every client creates the study at once: one creation, the rest find it.
                study = client.create_study("shared", space, algorithm="grid")
                created.wait()
                while (trial := study.next_trial(f"client-{index}")) is not None:
                    value = trial.params["a"] * 100 + trial.params["b"]
                    trial.complete(value)
                    with lock:
                        acknowledged.append((trial.id, trial.params["a"], trial.params["b"]))

        threads = [threading.Thread(target=work, args=(i,)) for i in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with Client(replicas[1].address) as client:
            stored = list(client.study("shared").trials())
            assert [s.name for s in client.list_studies()] == ["shared"]
        for replica in replicas:
            replica.stop()
    assert len(acknowledged) == 300
    assert len({trial_id for trial_id, _, _ in acknowledged}) == 300
    assert len({(a, b) for _, a, b in acknowledged}) == 300  # every grid point exactly once
    assert len(stored) == 300
    for trial in stored:
        assert trial.state == "COMPLETED"
        assert trial.value == trial.params["a"] * 100 + trial.params["b"]


@pytest.mark.slow
def test_two_replicas_share_a_bayes_study_without_duplicates(server_process) -> None:
    with postgres_schema() as url:
        replicas = [server_process(url) for _ in range(2)]
        space = [float_param("x", -1, 1), int_param("n", 1, 3)]
        with Client(replicas[0].address) as client:
            client.create_study(
                "bayes",
                space,
                algorithm="bayes",
                options={"initial_trials": 3, "restarts": 2, "raw_samples": 64},
                max_trials=12,
            )
        handed: list[tuple[int, float, int]] = []
        lock = threading.Lock()

        def work(index: int) -> None:
            with Client(replicas[index % 2].address, timeout=60, retry_seconds=30) as client:
                study = client.study("bayes")
                while (trial := study.next_trial(f"client-{index}")) is not None:
                    with lock:
                        handed.append((trial.id, trial.params["x"], trial.params["n"]))
                    trial.complete(trial.params["x"] ** 2 + trial.params["n"])

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with Client(replicas[1].address) as client:
            stored = list(client.study("bayes").trials())
        for replica in replicas:
            replica.stop()
    assert sorted(t[0] for t in handed) == list(range(1, 13))
    assert len({(x, n) for _, x, n in handed}) == 12
    assert len(stored) == 12
