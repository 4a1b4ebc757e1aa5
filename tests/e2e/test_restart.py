"""A new server on the same database continues the study: nothing lost, nothing repeated."""

import signal

import pytest

from hyperdial.client import Client, float_param, int_param


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGKILL"])
def test_a_grid_study_survives_server_restarts(database_url, server_process, signal_name) -> None:
    space = [int_param("a", 1, 8, grid_points=8), float_param("b", 0, 1, grid_points=5)]
    acknowledged: dict[int, tuple] = {}
    server = server_process(database_url)
    for round_number in range(3):
        with Client(server.address, timeout=5, retry_seconds=5) as client:
            study = client.create_study("restart", space, algorithm="grid")
            for _ in range(12):
                trial = study.next_trial("worker")
                if trial is None:
                    break
                trial.complete(trial.params["a"] * 10 + trial.params["b"])
                acknowledged[trial.id] = (trial.params["a"], trial.params["b"])
            # Leave one trial pending across the restart: the worker resumes it.
            held = study.next_trial("worker")
        code = server.stop(getattr(signal, signal_name))
        if signal_name == "SIGTERM":
            assert code == 0, "SIGTERM must stop the server cleanly"
        server = server_process(database_url)
        with Client(server.address, timeout=5, retry_seconds=5) as client:
            resumed = client.study("restart").next_trial("worker")
            assert held is not None
            assert resumed is not None
            assert (resumed.id, resumed.params) == (held.id, held.params), round_number

    with Client(server.address, timeout=5, retry_seconds=5) as client:
        study = client.study("restart")
        while (trial := study.next_trial("worker")) is not None:
            trial.complete(trial.params["a"] * 10 + trial.params["b"])
            acknowledged[trial.id] = (trial.params["a"], trial.params["b"])
        stored = list(study.trials())
        info = study.info()
    assert info.finished
    assert len(stored) == 40 == len(acknowledged)
    points = {(t.params["a"], t.params["b"]) for t in stored}
    assert len(points) == 40  # every grid point exactly once
    for trial in stored:
        assert trial.state == "COMPLETED"
        assert acknowledged[trial.id] == (trial.params["a"], trial.params["b"])
        assert trial.value == trial.params["a"] * 10 + trial.params["b"]
    server.stop()
