"""StopTrial: a running trial is told to stop at its next report, over gRPC, on both backends."""

from __future__ import annotations

import pytest

from hyperdial.client import (
    Client,
    FailedPreconditionError,
    NotFoundError,
    float_param,
)
from hyperdial.client.study import Study
from hyperdial.client.tools.study_cli import main as study_main

X = [float_param("x", 0.0, 1.0)]


def test_a_stopped_trial_hears_it_at_its_next_report(client: Client) -> None:
    study = client.create_study("stoppable", X, algorithm="random")
    trial, other = study.suggest(2, worker_id="w")
    assert trial.report(0, 1.0) is False
    study.stop_trial(trial.id)
    study.stop_trial(trial.id)  # asking twice is asking once
    assert trial.report(1, 0.9) is True
    assert other.report(1, 0.9) is False  # only that trial
    trial.prune("asked to stop")
    other.complete(0.5)
    states = {t.id: t.state for t in study.trials()}
    assert states == {trial.id: "PRUNED", other.id: "COMPLETED"}


def test_the_work_stream_hears_it_too(client: Client) -> None:
    study = client.create_study("streamed", X, algorithm="random")
    streamed = client.study("streamed", stream=True)
    try:
        (trial,) = streamed.suggest(1, worker_id="s")
        study.stop_trial(trial.id)
        assert trial.report(0, 1.0) is True
        trial.prune()
    finally:
        streamed.close()


def test_only_a_running_trial_can_be_stopped(client: Client) -> None:
    study = client.create_study("finished", X, algorithm="random")
    (trial,) = study.suggest(1, worker_id="w")
    trial.complete(0.3)
    with pytest.raises(FailedPreconditionError, match="is COMPLETED"):
        study.stop_trial(trial.id)
    with pytest.raises(NotFoundError):
        study.stop_trial(99)
    with pytest.raises(NotFoundError):
        Study(client, "ghost").stop_trial(1)


def test_the_command_line_stops_a_trial(server, client: Client, capsys) -> None:
    study = client.create_study("cli-stop", X, algorithm="random")
    (trial,) = study.suggest(1, worker_id="w")
    study_main(["--server", server.address, "stop", "cli-stop", str(trial.id)])
    assert "stops at its next report" in capsys.readouterr().out
    assert trial.report(0, 1.0) is True
