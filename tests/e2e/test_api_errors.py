"""Every error case of the API, against a real server: the right status code and field."""

import math

import grpc
import pytest

from hyperdial.client import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    categorical,
    condition,
    float_param,
    int_param,
)
from hyperdial.v1 import hyperdial_pb2 as pb
from hyperdial.v1 import hyperdial_pb2_grpc as pb_grpc

X = [float_param("x", -5, 5)]


@pytest.mark.parametrize(
    ("parameters", "field"),
    [
        ([float_param("x", 1, 1)], "config.parameters[0].float_range.low"),
        ([float_param("lr", 0, 1, log=True)], "config.parameters[0].float_range.low"),
        ([float_param("x", 0, math.nan)], "config.parameters[0].float_range.high"),
        ([int_param("n", 3, 1)], "config.parameters[0].int_range.low"),
        ([categorical("opt", [])], "config.parameters[0].categorical.choices"),
        ([float_param("x", 0, 1), float_param("x", 0, 2)], "config.parameters[1].name"),
        ([pb.Parameter(name="untyped")], "config.parameters[0].domain"),
        (
            [int_param("units", 1, 8, when=condition("layers", min=2)), int_param("layers", 1, 4)],
            "config.parameters[0].condition.parent",
        ),
        ([], "config.parameters"),
    ],
)
def test_bad_spaces_are_invalid_argument_naming_the_field(client, parameters, field) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        client.create_study("bad", parameters)
    assert caught.value.field == field
    assert field in caught.value.message


def test_bad_study_fields(client) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        client.create_study("", X)
    assert caught.value.field == "name"
    with pytest.raises(InvalidArgumentError) as caught:
        client.create_study("s", X, max_trials=-1)
    assert caught.value.field == "config.max_trials"
    with pytest.raises(InvalidArgumentError) as caught:
        client.create_study("s", X, algorithm="annealing")
    assert caught.value.field == "config.algorithm.name"
    with pytest.raises(InvalidArgumentError) as caught:
        client.create_study("s", X, options={"sampler": "halton"})
    assert caught.value.field == "config.algorithm.options.sampler"
    stub = client.stub
    with pytest.raises(grpc.RpcError) as raw:
        stub.CreateStudy(pb.CreateStudyRequest(name="s", config=pb.StudyConfig(parameters=X)))
    assert raw.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "config.objective.goal" in raw.value.details()
    # Nothing was created by any of these.
    assert list(client.list_studies()) == []


def test_create_is_idempotent_by_name(client) -> None:
    first = client.create_study("same", X, seed=1)
    again = client.create_study("same", X, seed=1)
    assert first.name == again.name == "same"
    with pytest.raises(AlreadyExistsError, match="different config"):
        client.create_study("same", X, seed=2)
    assert [s.name for s in client.list_studies()] == ["same"]


def test_unknown_study_and_trial_are_not_found(client) -> None:
    with pytest.raises(NotFoundError, match="'ghost'"):
        client.study("ghost")
    with pytest.raises(NotFoundError):
        client.delete_study("ghost")
    study = client.create_study("real", X)
    stub = client.stub
    with pytest.raises(grpc.RpcError) as raw:
        stub.Suggest(pb.SuggestRequest(study="ghost", worker_id="w"))
    assert raw.value.code() is grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as raw:
        stub.Observe(pb.ObserveRequest(study=study.name, trial_id=99, worker_id="w", value=1.0))
    assert raw.value.code() is grpc.StatusCode.NOT_FOUND
    assert "trial 99" in raw.value.details()


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_values_are_refused_and_change_nothing(client, value) -> None:
    study = client.create_study("nan", X)
    trial = study.next_trial("w")
    with pytest.raises(InvalidArgumentError) as caught:
        trial.complete(value)
    assert caught.value.field == "value"
    with pytest.raises(InvalidArgumentError) as caught:
        trial.report(1, value)
    assert caught.value.field == "value"
    (listed,) = study.trials()
    assert listed.state == "PENDING"
    assert listed.measurements == []


def test_bad_counts_and_ids(client) -> None:
    study = client.create_study("counts", X)
    stub = client.stub
    for request, field in [
        (pb.SuggestRequest(study="counts", worker_id="w", count=-1), "count"),
        (pb.SuggestRequest(study="counts", worker_id="w", count=10**6), "count"),
        (pb.SuggestRequest(study="counts", worker_id=""), "worker_id"),
        (pb.SuggestRequest(study="counts", worker_id="x" * 200), "worker_id"),
    ]:
        with pytest.raises(grpc.RpcError) as raw:
            stub.Suggest(request)
        assert raw.value.code() is grpc.StatusCode.INVALID_ARGUMENT, request
        assert raw.value.details().startswith(field)
    with pytest.raises(grpc.RpcError) as raw:
        stub.Observe(pb.ObserveRequest(study="counts", trial_id=1, worker_id="w"))
    assert raw.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "outcome" in raw.value.details()
    with pytest.raises(grpc.RpcError) as raw:
        stub.ListTrials(pb.ListTrialsRequest(study="counts", page_token="garbage!"))
    assert raw.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "page_token" in raw.value.details()
    with pytest.raises(grpc.RpcError) as raw:
        stub.ListTrials(pb.ListTrialsRequest(study="counts", states=[42]))
    assert raw.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert study.suggest(worker_id="w")  # the server is still fine


def test_observing_a_finished_trial_differently_is_failed_precondition(client) -> None:
    study = client.create_study("finished", X)
    trial = study.next_trial("w")
    trial.complete(1.5)
    trial.complete(1.5)  # the same outcome again: harmless
    with pytest.raises(FailedPreconditionError, match=r"already COMPLETED with value 1\.5"):
        trial.complete(2.5)
    with pytest.raises(FailedPreconditionError):
        trial.fail("too late")
    with pytest.raises(FailedPreconditionError, match="only accepted while it is PENDING"):
        trial.report(3, 0.1)
    (listed,) = study.trials()
    assert (listed.state, listed.value) == ("COMPLETED", 1.5)


def test_a_retried_observe_is_applied_once(client) -> None:
    study = client.create_study("retry", X)
    trial = study.next_trial("w")
    request = pb.ObserveRequest(
        study="retry", trial_id=trial.id, worker_id="w", request_id="req-1", value=0.25
    )
    first = client.stub.Observe(request)
    second = client.stub.Observe(request)
    assert first.trial == second.trial
    assert first.trial.value == 0.25


def test_other_workers_cannot_observe_a_trial(client) -> None:
    study = client.create_study("owned", X)
    trial = study.next_trial("alice")
    request = pb.ObserveRequest(study="owned", trial_id=trial.id, worker_id="mallory", value=0.0)
    with pytest.raises(grpc.RpcError) as raw:
        client.stub.Observe(request)
    assert raw.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "leased to worker 'alice'" in raw.value.details()


def test_health_and_reflection(server) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    with grpc.insecure_channel(server.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "hyperdial.v1.HyperdialService"):
            answer = health.Check(health_pb2.HealthCheckRequest(service=service))
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        (response,) = reflection.ServerReflectionInfo(iter([request]))
        names = {s.name for s in response.list_services_response.service}
        assert "hyperdial.v1.HyperdialService" in names
        assert "grpc.health.v1.Health" in names
        assert pb_grpc.HyperdialServiceStub  # the stub is generated from the same file
