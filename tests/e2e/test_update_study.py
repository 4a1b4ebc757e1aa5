"""UpdateStudy: a study's budget changes; nothing that would invalidate its trials does."""

from __future__ import annotations

import grpc
import pytest

from hyperdial.client import (
    AlreadyExistsError,
    Client,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    float_param,
    step_budget,
)
from hyperdial.client.tools.study_cli import main as study_main
from hyperdial.v1 import hyperdial_pb2 as pb

X = [float_param("x", 0.0, 1.0)]


def _finish_all(client: Client, name: str) -> int:
    study = client.study(name)
    finished = 0
    while (trial := study.next_trial("w")) is not None:
        trial.complete(trial.params["x"])
        finished += 1
    return finished


def test_raising_a_spent_budget_reopens_the_study(client: Client) -> None:
    client.create_study("budget", X, algorithm="random", max_trials=2, seed=1)
    assert _finish_all(client, "budget") == 2
    assert client.study("budget").info().state == "FINISHED"
    raised = client.update_study("budget", max_trials=5)
    assert (raised.config.max_trials, raised.state) == (5, "ACTIVE")
    assert _finish_all(client, "budget") == 3
    info = client.study("budget").info()
    assert (info.state, info.trial_counts["COMPLETED"]) == ("FINISHED", 5)


def test_the_budget_cannot_go_below_the_trials_handed_out(client: Client) -> None:
    study = client.create_study("shrink", X, algorithm="random", max_trials=10)
    running = study.suggest(3, worker_id="w")
    with pytest.raises(FailedPreconditionError, match=r"max_trials.*handed out 3 trials"):
        client.update_study("shrink", max_trials=2)
    assert study.info().config.max_trials == 10  # nothing changed
    lowered = client.update_study("shrink", max_trials=3)
    assert (lowered.config.max_trials, lowered.state) == (3, "FINISHED")
    for trial in running:  # running trials still report
        trial.complete(0.5)
    assert study.next_trial("w") is None
    assert client.update_study("shrink", max_trials=0).state == "ACTIVE"  # no limit


def test_create_study_matches_the_new_budget_and_says_how_to_change_it(client: Client) -> None:
    client.create_study("same", X, max_trials=4)
    client.update_study("same", max_trials=8)
    client.create_study("same", X, max_trials=8)  # the study as it now is
    with pytest.raises(AlreadyExistsError, match=r"max_trials 8, asked 4.*UpdateStudy"):
        client.create_study("same", X, max_trials=4)
    with pytest.raises(AlreadyExistsError, match="different config; choose another name"):
        client.create_study("same", X, max_trials=8, seed=9)


def test_a_request_that_changes_nothing_or_is_out_of_range_names_the_field(
    client: Client,
) -> None:
    client.create_study("fields", X)
    with pytest.raises(grpc.RpcError) as raised:
        client.stub.UpdateStudy(pb.UpdateStudyRequest(name="fields"))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "max_trials" in (raised.value.details() or "")
    with pytest.raises(InvalidArgumentError) as invalid:
        client.update_study("fields", max_trials=-1)
    assert invalid.value.field == "max_trials"
    with pytest.raises(NotFoundError, match="'ghost'"):
        client.update_study("ghost", max_trials=3)


def test_the_command_line_changes_the_budget(server, client: Client, capsys) -> None:
    client.create_study("cli-budget", X, max_trials=2)
    study_main(["--server", server.address, "update", "cli-budget", "--max-trials", "7"])
    assert "budget 7" in capsys.readouterr().out
    assert client.study("cli-budget").info().config.max_trials == 7


def _train_all(study) -> int:
    """Trains every trial handed out for its step budget; the number of trials."""
    trained = 0
    while (trial := study.next_trial("w")) is not None:
        for step in range(1, trial.step_budget + 1):
            trial.report(step, 1.0 / step)
        trial.complete(1.0 / trial.step_budget)
        trained += 1
    return trained


def test_raising_a_spent_step_budget_reopens_the_study(client: Client) -> None:
    study = client.create_study(
        "steps", X, algorithm="random", fidelity=step_budget(3, total_steps=6), seed=1
    )
    assert _train_all(study) == 2
    assert study.info().state == "FINISHED"
    raised = client.update_study("steps", total_steps=12)
    assert (raised.config.fidelity.total_steps, raised.state) == (12, "ACTIVE")
    assert raised.config.fidelity.max_steps == 3  # the rest of the fidelity stays
    assert _train_all(study) == 2
    info = study.info()
    assert (info.state, info.steps_reported) == ("FINISHED", 12)
    assert client.update_study("steps", total_steps=0).state == "ACTIVE"  # no limit


def test_the_step_budget_cannot_go_below_the_steps_reported_and_granted(client: Client) -> None:
    study = client.create_study(
        "steps-shrink", X, algorithm="random", fidelity=step_budget(4, total_steps=40)
    )
    done = study.next_trial("w")
    for step in (1, 2, 3, 4):
        done.report(step, 0.5)
    done.complete(0.5)
    running = study.next_trial("w")
    running.report(1, 0.5)
    with pytest.raises(FailedPreconditionError, match=r"total_steps.*5 steps reported and 3"):
        client.update_study("steps-shrink", total_steps=7)
    assert study.info().config.fidelity.total_steps == 40  # nothing changed
    lowered = client.update_study("steps-shrink", total_steps=8)
    assert (lowered.config.fidelity.total_steps, lowered.state) == (8, "FINISHED")
    running.complete(0.4)  # a running trial still reports


def test_a_step_budget_needs_a_fidelity_and_a_count(client: Client) -> None:
    client.create_study("no-fidelity", X)
    with pytest.raises(FailedPreconditionError, match=r"total_steps.*declared no fidelity"):
        client.update_study("no-fidelity", total_steps=100)
    client.create_study("fidelity", X, fidelity=step_budget(5, total_steps=50))
    with pytest.raises(InvalidArgumentError) as invalid:
        client.update_study("fidelity", total_steps=-5)
    assert invalid.value.field == "total_steps"
    client.update_study("fidelity", total_steps=80)
    with pytest.raises(AlreadyExistsError, match=r"total_steps 80, asked 50.*--total-steps 50"):
        client.create_study("fidelity", X, fidelity=step_budget(5, total_steps=50))


def test_the_command_line_changes_the_step_budget(server, client: Client, capsys) -> None:
    client.create_study("cli-steps", X, fidelity=step_budget(5, total_steps=50))
    study_main(["--server", server.address, "update", "cli-steps", "--total-steps", "90"])
    assert "90 steps" in capsys.readouterr().out
    assert client.study("cli-steps").info().config.fidelity.total_steps == 90
