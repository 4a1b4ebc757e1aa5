"""PauseStudy, ResumeStudy and EnqueueTrials over gRPC, on both backends."""

from __future__ import annotations

import json
import threading
import time

import grpc
import pytest

from hyperdial.client import (
    Client,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    categorical,
    float_param,
    int_param,
)
from hyperdial.client import study as study_module
from hyperdial.client.study import Study
from hyperdial.client.tools.study_cli import main as study_main
from hyperdial.v1 import hyperdial_pb2 as pb

SPACE = [float_param("x", 0.0, 1.0), int_param("n", 1, 8), categorical("c", ["a", "b"])]


def test_a_paused_study_hands_out_nothing_new_until_resumed(client: Client) -> None:
    study = client.create_study("pausable", SPACE, algorithm="random", max_trials=10)
    (running,) = study.suggest(1, worker_id="w1")
    paused = study.pause()
    assert paused.paused
    assert study.pause().paused
    assert study.suggest(1, worker_id="w2") == []
    assert study.paused
    assert not study.finished
    # Trials already out go on: their worker gets them back, reports and observes.
    assert [t.id for t in study.suggest(1, worker_id="w1")] == [running.id]
    assert study.paused
    assert running.report(0, 0.5) is False
    running.complete(0.4)
    assert study.suggest(1, worker_id="w1") == []
    assert study.info().trial_counts == {"COMPLETED": 1}
    resumed = study.resume()
    assert not resumed.paused
    assert resumed.state == "ACTIVE"
    (fresh,) = study.suggest(1, worker_id="w2")
    assert fresh.id == running.id + 1
    assert not study.paused


def test_a_vanished_workers_trial_goes_stale_while_the_study_is_paused(client: Client) -> None:
    study = client.create_study(
        "paused-lease", SPACE, algorithm="random", max_trials=2, lease_seconds=1
    )
    study.suggest(2, worker_id="vanished")
    study.pause()
    time.sleep(2.1)  # the lease ends, and the expiry check (once a second) comes round
    assert study.suggest(1, worker_id="other") == []
    info = study.info()
    assert info.trial_counts == {"STALE": 2}
    study.resume()
    assert len(study.suggest(2, worker_id="other")) == 2  # their budget slots came back


def test_the_work_stream_and_observe_with_next_hear_it_too(client: Client) -> None:
    client.create_study("paused-stream", SPACE, algorithm="random")
    streamed = client.study("paused-stream", stream=True)
    try:
        (trial,) = streamed.suggest(1, worker_id="s")
        streamed.pause()
        response = client.call(
            client.stub.Observe,
            pb.ObserveRequest(
                study="paused-stream", trial_id=trial.id, worker_id="s", value=0.3, next_count=1
            ),
        )
        assert response.next.study_paused
        assert not response.next.trials
        assert streamed.suggest(1, worker_id="s") == []
        assert streamed.paused
    finally:
        streamed.close()


def test_a_waiting_worker_goes_on_once_resumed_or_stops_when_told(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(study_module, "PAUSED_POLL_SECONDS", 0.05)
    study = client.create_study("wait", SPACE, algorithm="random", max_trials=5)
    study.pause()
    got: list[object] = []
    waiter = threading.Thread(target=lambda: got.append(study.next_trial("waiter")))
    waiter.start()
    waiter.join(0.5)
    assert waiter.is_alive()
    assert not got
    study.resume()
    waiter.join(10)
    assert not waiter.is_alive()
    assert got[0] is not None

    study.pause()
    stop = threading.Event()
    stop.set()
    assert study.next_trial("other", stop=stop) is None


def test_pause_and_resume_need_a_study(client: Client) -> None:
    with pytest.raises(NotFoundError):
        Study(client, "ghost").pause()
    with pytest.raises(NotFoundError):
        Study(client, "ghost").resume()


def test_queued_configurations_come_first_in_order(client: Client) -> None:
    study = client.create_study("queued", SPACE, algorithm="random", max_trials=6, seed=3)
    first = {"x": 0.25, "n": 3, "c": "b"}
    second = {"x": 0.75, "n": 8, "c": "a"}
    assert study.enqueue([first, second]) == 2
    info = study.info()
    assert info.queued_trials == 2
    handed = study.suggest(3, worker_id="w")
    assert [t.params for t in handed[:2]] == [first, second]
    assert handed[2].params not in (first, second)  # then the algorithm's own
    assert study.info().queued_trials == 0
    assert study.info().trial_counts["PENDING"] == 3  # each a trial of the budget


def test_a_bayes_study_hands_out_queued_configurations_without_its_model(
    client: Client,
) -> None:
    study = client.create_study(
        "queued-bayes", SPACE, algorithm="bayes", max_trials=20, options={"initial_trials": 2}
    )
    for trial in study.suggest(2, worker_id="w"):
        trial.complete(trial.params["x"])
    wanted = {"x": 0.5, "n": 2, "c": "a"}
    study.enqueue([wanted])
    (trial,) = study.suggest(1, worker_id="w")
    assert trial.params == wanted


def test_the_queue_never_holds_more_than_the_budget_has_left(client: Client) -> None:
    study = client.create_study("small", SPACE, algorithm="random", max_trials=3)
    study.suggest(1, worker_id="w")
    configuration = {"x": 0.1, "n": 1, "c": "a"}
    with pytest.raises(FailedPreconditionError, match=r"room for 2 more.*asked 3.*UpdateStudy"):
        study.enqueue([configuration] * 3)
    assert study.info().queued_trials == 0  # all or nothing
    assert study.enqueue([configuration] * 2) == 2
    with pytest.raises(FailedPreconditionError, match=r"cannot go below 3"):
        client.update_study("small", max_trials=2)  # the queue is promised
    assert len(study.suggest(5, worker_id="w2")) == 2
    assert study.info().state == "FINISHED"


def test_queued_values_are_checked_and_the_field_named(client: Client) -> None:
    study = client.create_study("checked", SPACE, algorithm="random")
    good = {"x": 0.5, "n": 2, "c": "a"}
    cases = [
        ({"x": 2.0, "n": 2, "c": "a"}, "trials[1].parameters.x"),
        ({"x": 0.5, "n": 2}, "trials[1].parameters.c"),
        ({"x": 0.5, "n": 2, "c": "a", "z": 1}, "trials[1].parameters.z"),
        ({"x": 0.5, "n": 2, "c": "zz"}, "trials[1].parameters.c"),
    ]
    for bad, field in cases:
        with pytest.raises(InvalidArgumentError) as raised:
            study.enqueue([good, bad])
        assert raised.value.field == field
    with pytest.raises(InvalidArgumentError) as raised:
        study.enqueue([])
    assert raised.value.field == "trials"
    with pytest.raises(NotFoundError):
        Study(client, "ghost").enqueue([good])
    assert study.info().queued_trials == 0


def test_a_retried_request_queues_nothing_twice(client: Client) -> None:
    study = client.create_study("retried", SPACE, algorithm="random")
    configurations = [{"x": 0.5, "n": 2, "c": "a"}, {"x": 0.5, "n": 2.0, "c": "a"}]
    assert study.enqueue(configurations, skip_if_queued=True) == 1  # 2.0 is the int 2
    assert study.enqueue(configurations, skip_if_queued=True) == 0
    assert study.enqueue(configurations[:1]) == 1  # asked for twice on purpose
    assert study.info().queued_trials == 2


def test_a_grid_study_with_a_spent_grid_reopens_for_its_queue(client: Client) -> None:
    study = client.create_study("grid", [categorical("c", ["a", "b"])], algorithm="grid")
    for trial in study.suggest(5, worker_id="w"):
        trial.complete(1.0)
    assert study.info().state == "FINISHED"
    study.enqueue([{"c": "b"}])
    assert study.info().state == "ACTIVE"
    (trial,) = study.suggest(1, worker_id="w")
    assert trial.params == {"c": "b"}
    trial.complete(0.5)
    assert study.suggest(1, worker_id="w") == []
    assert study.finished


def test_deleting_a_study_deletes_its_queue(client: Client) -> None:
    study = client.create_study("gone", SPACE, algorithm="random")
    study.enqueue([{"x": 0.5, "n": 2, "c": "a"}])
    client.delete_study("gone")
    again = client.create_study("gone", SPACE, algorithm="random")
    assert again.info().queued_trials == 0
    assert again.suggest(1, worker_id="w")[0].params != {"x": 0.5, "n": 2, "c": "a"}


def test_the_command_line_pauses_resumes_and_enqueues(
    server, client: Client, capsys, tmp_path
) -> None:
    study = client.create_study("cli-queue", SPACE, algorithm="random")
    address = ["--server", server.address]
    study_main([*address, "pause", "cli-queue"])
    assert "paused" in capsys.readouterr().out
    assert study.info().paused
    study_main([*address, "show", "cli-queue"])
    assert "ACTIVE (paused)" in capsys.readouterr().out
    study_main([*address, "resume", "cli-queue"])
    assert "running" in capsys.readouterr().out
    assert not study.info().paused

    listed = tmp_path / "configs.yaml"
    listed.write_text("- {x: 0.1, n: 1, c: a}\n- {x: 0.2, n: 2, c: b}\n")
    inline = json.dumps({"x": 0.3, "n": 3, "c": "a"})
    study_main([*address, "enqueue", "cli-queue", "--params", inline, "--file", str(listed)])
    assert "queued 3 of 3" in capsys.readouterr().out
    assert [t.params["x"] for t in study.suggest(3, worker_id="w")] == [0.3, 0.1, 0.2]
    with pytest.raises(SystemExit, match=r"trials\[0\].parameters.x"):
        study_main([*address, "enqueue", "cli-queue", "--params", '{"x": 5, "n": 1, "c": "a"}'])
    with pytest.raises(SystemExit, match=r"--params\[0\]: not JSON"):
        study_main([*address, "enqueue", "cli-queue", "--params", "{x"])


def test_any_language_sees_the_queue_and_the_pause_in_get_study(client: Client) -> None:
    client.create_study("raw", SPACE, algorithm="random")
    stub = client.stub
    request = pb.EnqueueTrialsRequest(
        study="raw",
        trials=[
            pb.QueuedTrial(
                parameters={
                    "x": pb.Value(double_value=0.5),
                    "n": pb.Value(int_value=4),
                    "c": pb.Value(string_value="b"),
                }
            )
        ],
    )
    answer = stub.EnqueueTrials(request)
    assert (answer.queued, answer.queue_length) == (1, 1)
    stub.PauseStudy(pb.PauseStudyRequest(name="raw"))
    study = stub.GetStudy(pb.GetStudyRequest(name="raw"))
    assert study.paused
    assert study.queued_trials == 1
    with pytest.raises(grpc.RpcError) as raised:
        stub.EnqueueTrials(pb.EnqueueTrialsRequest(study="raw"))
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
