"""The SDK against a real server: error classes, the two ways worker calls travel, Python types."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import grpc
import pytest

from hyperdial.client import (
    AlreadyExistsError,
    Client,
    FailedPreconditionError,
    HyperdialError,
    InvalidArgumentError,
    NotFoundError,
    ParetoFront,
    ResourceExhaustedError,
    StudyInfo,
    Trial,
    UnauthenticatedError,
    float_param,
)
from hyperdial.client.calls import UnaryCalls
from hyperdial.client.stream import WorkStream
from hyperdial.server.config import Settings
from hyperdial.server.testing import RunningServer, serve

X = [float_param("x", 0, 1)]


@pytest.fixture
def running(tmp_path: Path) -> Iterator[RunningServer]:
    (tmp_path / "tokens").write_text("secret\n")
    settings = Settings(auth_token_file=str(tmp_path / "tokens"))
    settings = replace(settings, limits=replace(settings.limits, max_studies=2))
    with serve(f"sqlite:///{tmp_path / 'hyperdial.db'}", settings) as server:
        yield server


@pytest.fixture
def client(running: RunningServer) -> Iterator[Client]:
    with Client(running.address, token="secret", timeout=60, retry_seconds=5) as connected:
        yield connected


def _finished_trial(client: Client) -> Trial:
    trial = client.create_study("done", X).suggest(1, worker_id="w")[0]
    trial.complete(0.5)
    return trial


@pytest.mark.parametrize(
    ("act", "error", "code", "field"),
    [
        (lambda c: c.study("missing"), NotFoundError, grpc.StatusCode.NOT_FOUND, ""),
        (
            lambda c: c.create_study("s", X).suggest(-1),
            InvalidArgumentError,
            grpc.StatusCode.INVALID_ARGUMENT,
            "count",
        ),
        (
            lambda c: (c.create_study("s", X), c.create_study("s", X, max_trials=3)),
            AlreadyExistsError,
            grpc.StatusCode.ALREADY_EXISTS,
            "",
        ),
        (
            lambda c: _finished_trial(c).fail("changed my mind"),
            FailedPreconditionError,
            grpc.StatusCode.FAILED_PRECONDITION,
            "",
        ),
        (
            lambda c: [c.create_study(f"s{i}", X) for i in range(3)],
            ResourceExhaustedError,
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "",
        ),
    ],
)
def test_each_status_raises_its_class_with_its_field(
    client: Client,
    act: Callable[[Client], object],
    error: type[HyperdialError],
    code: grpc.StatusCode,
    field: str,
) -> None:
    with pytest.raises(error) as raised:
        act(client)
    assert raised.value.code is code
    assert raised.value.field == field
    assert raised.value.message


def test_a_missing_token_is_unauthenticated_and_not_retried(running: RunningServer) -> None:
    with (
        Client(running.address, retry_seconds=30) as anonymous,
        pytest.raises(UnauthenticatedError),
    ):
        list(anonymous.list_studies())


@pytest.mark.parametrize("stream", [False, True])
def test_the_worker_calls_travel_unary_or_on_one_stream_alike(
    client: Client, stream: bool
) -> None:
    client.create_study("s", X, max_trials=3, seed=5)
    study = client.study("s", stream=stream)
    assert isinstance(study.calls, WorkStream if stream else UnaryCalls)
    values = []
    while (trial := study.next_trial("w")) is not None:
        assert not trial.report(0, 0.9)
        assert trial.heartbeat()
        trial.complete(float(trial.params["x"]))
        values.append(trial.value)
    study.close()
    assert len(values) == 3
    assert [t.value for t in study.trials()] == values


def test_threads_sharing_a_stream_each_get_their_own_answers(client: Client) -> None:
    client.create_study("shared", X, max_trials=40)
    study = client.study("shared", stream=True)
    seen: dict[str, list[int]] = {}

    def work(worker: str) -> None:
        seen[worker] = []
        while (trial := study.next_trial(worker)) is not None:
            assert trial.worker_id == worker
            trial.complete(0.1)
            seen[worker].append(trial.id)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    study.close()
    handed = [number for numbers in seen.values() for number in numbers]
    assert sorted(handed) == list(range(1, 41))


def test_answers_are_python_values(client: Client) -> None:
    study = client.create_study("p", X, objectives=[("loss", "minimize"), ("size", "minimize")])
    for trial in study.suggest(3, worker_id="w"):
        x = float(trial.params["x"])
        trial.complete(metrics={"loss": x, "size": 1 - x})
    front = study.pareto_front()
    assert isinstance(front, ParetoFront)
    assert len(front.trials) == 3
    assert all(isinstance(t, Trial) for t in front.trials)
    assert front.hypervolume > 0
    assert len(front.reference_point) == 2
    info = study.info()
    assert isinstance(info, StudyInfo)
    assert (info.name, info.state, info.finished, info.multi_objective) == (
        "p",
        "ACTIVE",
        False,
        True,
    )
    assert info.trial_counts == {"COMPLETED": 3}
    assert info.trial_counts["FAILED"] == 0
    assert info.created.tzinfo is not None
    single = client.create_study("single", X)
    single.suggest(1, worker_id="w")[0].complete(0.25)
    (listed_p, listed_single) = client.list_studies()
    assert listed_p.best_trial is None
    assert listed_single.best_trial is not None
    assert listed_single.best_trial.value == 0.25
