"""The Work stream: the worker-loop requests on one stream, answered in order."""

import signal

import grpc
import pytest

from hyperdial.client import FailedPreconditionError, InvalidArgumentError, float_param
from hyperdial.v1 import hyperdial_pb2 as pb

X = [float_param("x", -5, 5)]


def test_a_worker_loop_on_the_stream_completes_the_budget(client) -> None:
    client.create_study("streamed", X, max_trials=30)
    study = client.study("streamed", prefetch=True, stream=True)
    seen = []
    while (trial := study.next_trial("w")) is not None:
        trial.report(0, 2.0)
        trial.complete(float(trial.params["x"]) ** 2)
        seen.append(trial.id)
    study.close()
    assert seen == list(range(1, 31))
    assert study.info().trial_counts == {"COMPLETED": 30}
    (best,) = study.best_trials(1)
    assert best.measurements == [(0, 2.0)]


def test_errors_answer_one_request_and_the_stream_goes_on(client) -> None:
    client.create_study("errors", X)
    requests = [
        pb.WorkRequest(sequence=1, suggest=pb.SuggestRequest(study="errors", worker_id="w")),
        pb.WorkRequest(sequence=2, suggest=pb.SuggestRequest(study="nope", worker_id="w")),
        pb.WorkRequest(
            sequence=3,
            observe=pb.ObserveRequest(
                study="errors", trial_id=1, worker_id="w", value=float("nan")
            ),
        ),
        pb.WorkRequest(sequence=4),
        pb.WorkRequest(
            sequence=5,
            observe=pb.ObserveRequest(study="errors", trial_id=1, worker_id="w", value=1.0),
        ),
    ]
    answers = list(client.stub.Work(iter(requests)))
    assert [a.sequence for a in answers] == [1, 2, 3, 4, 5]
    assert answers[0].suggest.trials[0].id == 1
    assert answers[1].error.code == grpc.StatusCode.NOT_FOUND.value[0]
    assert answers[2].error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert answers[2].error.field == "value"
    assert answers[3].error.field == "request"
    assert answers[4].observe.trial.value == 1.0


def test_the_client_raises_the_same_errors_as_for_unary_calls(client) -> None:
    client.create_study("same-errors", X)
    study = client.study("same-errors", stream=True)
    trial = study.next_trial("w")
    with pytest.raises(InvalidArgumentError) as caught:
        trial.complete(float("inf"))
    assert caught.value.field == "value"
    trial.complete(1.0)
    with pytest.raises(FailedPreconditionError):
        trial.complete(2.0)
    study.close()


def test_the_stream_reopens_after_a_server_restart(database_url, server_process) -> None:
    from hyperdial.client import Client

    first = server_process(database_url)
    with Client(first.address, retry_seconds=20) as client:
        client.create_study("reopen", X, max_trials=6)
        study = client.study("reopen", prefetch=True, stream=True)
        trial = study.next_trial("w")
        first.stop(signal.SIGKILL)
        second = server_process(database_url, port=first.port)
        done = []
        while trial is not None:
            trial.complete(1.0)
            done.append(trial.id)
            trial = study.next_trial("w")
        study.close()
        assert done == [1, 2, 3, 4, 5, 6]
        second.stop()
