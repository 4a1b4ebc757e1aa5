"""Several server replicas on one PostgreSQL database serve one study without double hand-outs."""

import threading

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
