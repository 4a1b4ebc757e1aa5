"""Protobuf <-> domain: round trips, the API's defaults, and errors that name the field."""

from __future__ import annotations

import pytest

from hyperdial.server.domain import (
    DEFAULT_LEASE_SECONDS,
    DEFAULT_MAX_REISSUES,
    AlgorithmConfig,
    Goal,
    Measurement,
    Objective,
    OutcomeConstraint,
    StoppingConfig,
    StudyConfig,
    Trial,
    TrialState,
)
from hyperdial.server.errors import InvalidArgument
from hyperdial.server.rpc.convert import (
    study_config_from_proto,
    study_config_to_proto,
    timestamp,
    trial_to_proto,
)
from hyperdial.server.rpc.requests import outcome_from_proto
from hyperdial.server.space import CategoricalParam, Condition, FloatParam, IntParam, SearchSpace
from hyperdial.v1 import hyperdial_pb2 as pb

SPACE = SearchSpace(
    (
        FloatParam("lr", 1e-4, 1e-1, log=True),
        IntParam("layers", 1, 4),
        IntParam("units_3", 16, 256, log=True, condition=Condition("layers", min=3)),
        CategoricalParam("optimizer", ("adam", "sgd"), grid_values=("adam",)),
    )
)


@pytest.mark.parametrize(
    "config",
    [
        StudyConfig(SPACE, (Objective("loss", Goal.MINIMIZE),)),
        StudyConfig(
            SPACE,
            (Objective("loss", Goal.MINIMIZE, 2.0), Objective("size", Goal.MAXIMIZE)),
            algorithm=AlgorithmConfig("bayes", {"initial_trials": 4, "precompute": False}),
            max_trials=30,
            seed=7,
            lease_seconds=12.5,
            max_reissues=0,
            stopping=StoppingConfig.successive_halving(2, 4, 0, brackets=3),
            constraints=(OutcomeConstraint("size", None, 10.0),),
        ),
    ],
)
def test_a_config_survives_the_round_trip(config: StudyConfig) -> None:
    assert study_config_from_proto(study_config_to_proto(config)) == config


def test_unset_fields_take_the_domains_defaults() -> None:
    message = pb.StudyConfig(
        parameters=[pb.Parameter(name="x", float_range=pb.FloatRange(low=0, high=1))],
        objective=pb.Objective(goal=pb.MINIMIZE),
        stopping=pb.StoppingRule(median=pb.MedianStopping()),
    )
    config = study_config_from_proto(message)
    assert config.algorithm == AlgorithmConfig()
    assert config.algorithm.name == "random"
    assert config.lease_seconds == DEFAULT_LEASE_SECONDS
    assert config.max_reissues == DEFAULT_MAX_REISSUES
    assert config.stopping == StoppingConfig("median")


def test_never_reissue_is_minus_one_in_the_api_and_zero_in_the_domain() -> None:
    message = study_config_to_proto(
        StudyConfig(SPACE, (Objective("loss", Goal.MINIMIZE),), max_reissues=0)
    )
    assert message.max_reissues == -1
    assert study_config_from_proto(message).max_reissues == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"objective": pb.Objective(goal=pb.GOAL_UNSPECIFIED)}, "config.objective.goal"),
        ({"lease_seconds": 1e9}, "config.lease_seconds"),
        ({"max_reissues": 5000}, "config.max_reissues"),
    ],
)
def test_a_bad_config_names_its_field(change: dict[str, object], field: str) -> None:
    message = pb.StudyConfig(
        parameters=[pb.Parameter(name="x", float_range=pb.FloatRange(low=0, high=1))],
        objective=pb.Objective(goal=pb.MINIMIZE),
    )
    for name, value in change.items():
        if isinstance(value, pb.Objective):
            message.objective.CopyFrom(value)
        else:
            setattr(message, name, value)
    with pytest.raises(InvalidArgument) as raised:
        study_config_from_proto(message)
    assert raised.value.field == field


def test_a_trial_carries_its_times_as_timestamps() -> None:
    trial = Trial(
        study_name="s",
        number=3,
        state=TrialState.COMPLETED,
        params={"lr": 0.01, "optimizer": "adam"},
        worker_id="w",
        created_at=1_700_000_000.25,
        finished_at=1_700_000_060.5,
        value=0.125,
        measurements=(Measurement(1, 0.5),),
        metrics={"loss": 0.125},
    )
    message = trial_to_proto(trial)
    assert message.create_time == timestamp(1_700_000_000.25)
    assert (message.create_time.seconds, message.create_time.nanos) == (1_700_000_000, 250_000_000)
    assert message.finish_time.ToNanoseconds() == 1_700_000_060_500_000_000
    assert not message.HasField("lease_expire_time")
    assert message.parameters["optimizer"].string_value == "adam"
    assert (message.value, list(message.measurements)) == (
        0.125,
        [pb.Measurement(step=1, value=0.5)],
    )


@pytest.mark.parametrize(
    ("request_fields", "state", "field"),
    [
        ({"value": 0.5}, TrialState.COMPLETED, None),
        ({"metrics": {"loss": 0.5}}, TrialState.COMPLETED, None),
        ({"failed": pb.Failure(reason="oom")}, TrialState.FAILED, None),
        ({"pruned": pb.Failure()}, TrialState.PRUNED, None),
        ({}, None, "outcome"),
        ({"value": float("nan")}, None, "value"),
        ({"failed": pb.Failure(reason="x" * 5000)}, None, "failed.reason"),
    ],
)
def test_an_observe_outcome_is_read_or_refused_by_field(
    request_fields: dict[str, object], state: TrialState | None, field: str | None
) -> None:
    request = pb.ObserveRequest(study="s", trial_id=1, worker_id="w", **request_fields)  # type: ignore[arg-type]
    if field is None:
        assert outcome_from_proto(request).state is state
        return
    with pytest.raises(InvalidArgument) as raised:
        outcome_from_proto(request)
    assert raised.value.field == field
