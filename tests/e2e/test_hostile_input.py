"""Input built to break the store or the answers: refused at CreateStudy, naming the field,
or answered within the message limits; nothing half-done is left behind."""

import grpc
import pytest

from hyperdial.client import (
    Client,
    InvalidArgumentError,
    NotFoundError,
    categorical,
    condition,
    float_param,
    int_param,
    outcome_constraint,
)
from hyperdial.server.config import Settings
from hyperdial.server.service.limits import Limits
from hyperdial.server.testing import serve
from hyperdial.v1 import hyperdial_pb2 as pb

LONG = "p" * 5000


def _refused(client, field: str, parameters, **options) -> InvalidArgumentError:
    with pytest.raises(InvalidArgumentError) as caught:
        client.create_study("hostile", parameters, **options)
    assert caught.value.field == field, caught.value
    assert list(client.list_studies()) == []
    return caught.value


def test_integer_ranges_the_encoding_cannot_carry_are_refused(client) -> None:
    _refused(client, "config.parameters[0].int_range.high", [int_param("n", 0, 2**63 - 1)])
    _refused(client, "config.parameters[0].int_range.low", [int_param("n", -(2**63), 0)])


def test_an_integer_grid_at_the_edge_hands_out_exact_values(client) -> None:
    study = client.create_study(
        "edge", [int_param("n", 2**53 - 4, 2**53, grid_points=5)], algorithm="grid"
    )
    handed = [trial.params["n"] for trial in study.suggest(5, worker_id="w")]
    assert sorted(handed) == list(range(2**53 - 4, 2**53 + 1))
    assert sorted(t.params["n"] for t in study.trials()) == sorted(handed)


def test_float_ranges_whose_width_overflows_are_refused(client) -> None:
    _refused(
        client, "config.parameters[0].float_range.high", [float_param("x", -1.7e308, 1.7e308)]
    )


@pytest.mark.parametrize("algorithm", ["random", "bayes"])
def test_the_widest_float_range_hands_out_finite_values_inside_it(client, algorithm) -> None:
    low, high = -8.9e307, 8.9e307  # high - low is still finite
    options = (
        {"initial_trials": 2, "restarts": 2, "raw_samples": 32} if algorithm == "bayes" else {}
    )
    study = client.create_study("wide", [float_param("x", low, high)], algorithm=algorithm,
                                options=options)  # fmt: skip
    for _ in range(4):
        (trial,) = study.suggest(1, worker_id="w")
        assert low <= trial.params["x"] <= high
        trial.complete(abs(trial.params["x"]) / high)


def test_categoricals_are_bounded(client) -> None:
    many = [f"c{i}" for i in range(10_001)]
    _refused(client, "config.parameters[0].categorical.choices", [categorical("c", many)])
    _refused(
        client,
        "config.parameters[0].categorical.choices[1]",
        [categorical("c", ["a", "b" * 1025])],
    )


def test_configs_are_bounded(client) -> None:
    big = [categorical(f"c{k}", [f"{k}-{i}-" + "x" * 900 for i in range(100)]) for k in range(4)]
    error = _refused(client, "config", big)  # about 370 kB as JSON
    assert "--max-config-bytes" in error.message


def test_metric_names_are_as_long_as_observe_accepts(client) -> None:
    long_metric = "m" * 129
    _refused(client, "config.objective.metric", [float_param("x", 0, 1)], metric=long_metric)
    _refused(
        client,
        "config.objectives[1].metric",
        [float_param("x", 0, 1)],
        objectives=[("a", "minimize"), (long_metric, "minimize")],
    )
    _refused(
        client,
        "config.constraints[0].metric",
        [float_param("x", 0, 1)],
        constraints=[outcome_constraint(long_metric, max=1.0)],
    )
    study = client.create_study("ok", [float_param("x", 0, 1)], metric="m" * 128)
    (trial,) = study.suggest(1, worker_id="w")
    trial.complete(0.5)


@pytest.mark.parametrize(
    ("parameters", "options", "field"),
    [
        ([float_param(LONG, 0, 1)], {}, "config.parameters[0].name"),
        (
            [int_param("a", 1, 3), int_param("b", 1, 3, when=condition(LONG, min=2))],
            {},
            "config.parameters[1].condition.parent",
        ),
        ([float_param("x", 0, 1)], {"options": {LONG: 1}}, "config.algorithm.options."),
        ([float_param("x", 0, 1)], {"algorithm": LONG}, "config.algorithm.name"),
    ],
)
def test_long_names_are_cut_in_errors(client, parameters, options, field) -> None:
    """Not RESOURCE_EXHAUSTED: the error names the field and echoes only a little."""
    with pytest.raises(InvalidArgumentError) as caught:
        client.create_study("hostile", parameters, **options)
    assert caught.value.field.startswith(field)
    assert len(caught.value.message) < 1100
    assert len(caught.value.field) <= 256


def test_a_long_unknown_name_is_not_found(client) -> None:
    with pytest.raises(grpc.RpcError) as raw:
        client.stub.GetStudy(pb.GetStudyRequest(name="s" * 20_000), timeout=10)
    assert raw.value.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT)
    with pytest.raises(NotFoundError):
        client.study("s" * 300)


def test_suggest_hands_out_only_what_its_answer_carries(database_url) -> None:
    settings = Settings(limits=Limits(max_message_bytes=64 * 1024))
    with serve(database_url, settings) as server, Client(server.address) as client:
        choices = [f"{i}-" + "x" * 1000 for i in range(10)]
        study = client.create_study("wide-trials", [categorical("c", choices)], max_trials=500)
        handed = study.suggest(100, worker_id="w")
        assert 1 <= len(handed) < 100
        stored = list(study.trials())
        assert len(stored) == len(handed)  # nothing stored that nobody received
        assert all(t.state == "PENDING" for t in stored)


def test_study_pages_are_sized_by_bytes(database_url) -> None:
    """Twenty studies of ~250 kB configs: pages of fewer studies, all of them listed."""
    with serve(database_url) as server, Client(server.address) as client:
        for k in range(20):
            space = [categorical("c", [f"{k}-{i}-" + "x" * 1000 for i in range(240)])]
            client.create_study(f"big-{k}", space)
        names = [study.name for study in client.list_studies(page_size=100)]
        assert names == [f"big-{k}" for k in range(20)]
        first = client.call(client.stub.ListStudies, pb.ListStudiesRequest(page_size=100))
        assert 1 <= len(first.studies) < 20
        assert first.next_page_token
