"""`max_retries` over gRPC on both stores: a FAILED configuration is handed out again."""

from __future__ import annotations

import pytest

from hyperdial.client import Client, InvalidArgumentError, Study, float_param

SPACE = [float_param("x", 0, 1), float_param("y", 0, 1)]


def fail_next(study: Study, *, worker_stopped: bool = False) -> dict[str, object]:
    (trial,) = study.suggest(1, worker_id="w")
    trial.fail("boom", worker_stopped=worker_stopped)
    return dict(trial.params)


def test_a_failed_configuration_comes_back_until_its_retries_are_spent(client: Client) -> None:
    study = client.create_study("retries", SPACE, max_retries=1, max_trials=10)
    first = fail_next(study)
    assert fail_next(study) == first  # the retry
    (fresh,) = study.suggest(1, worker_id="w")
    assert fresh.params != first  # failed twice: given up
    assert [t.state for t in study.trials()] == ["FAILED", "FAILED", "PENDING"]


def test_a_stopped_worker_does_not_use_a_retry(client: Client) -> None:
    study = client.create_study("stopped", SPACE, max_retries=1, max_trials=10)
    first = fail_next(study, worker_stopped=True)
    assert fail_next(study) == first  # not counted: the configuration has one retry left
    assert fail_next(study) == first
    (fresh,) = study.suggest(1, worker_id="w")
    assert fresh.params != first


def test_without_retries_a_failure_is_final(client: Client) -> None:
    study = client.create_study("final", SPACE, max_trials=10)
    first = fail_next(study, worker_stopped=True)
    (fresh,) = study.suggest(1, worker_id="w")
    assert fresh.params != first


def test_bayes_hands_a_retry_out_without_a_model(client: Client) -> None:
    study = client.create_study(
        "bayes-retries", SPACE, algorithm="bayes", options={"initial_trials": 2}, max_retries=2
    )
    for _ in range(2):
        (trial,) = study.suggest(1, worker_id="w")
        trial.complete(trial.params["x"] + trial.params["y"])
    failed = fail_next(study)
    assert fail_next(study) == failed
    assert fail_next(study) == failed
    states = [t.state for t in study.trials()]
    assert states == ["COMPLETED", "COMPLETED", "FAILED", "FAILED", "FAILED"]


def test_retries_are_bounded_and_named_when_wrong(client: Client) -> None:
    with pytest.raises(InvalidArgumentError) as refused:
        client.create_study("too-many", SPACE, max_retries=101)
    assert refused.value.field == "config.max_retries"
    assert client.create_study("two", SPACE, max_retries=2).info().config.max_retries == 2


def test_a_stopped_workers_trial_gives_its_budget_slot_back(client: Client) -> None:
    study = client.create_study("one-slot", SPACE, max_trials=1, max_retries=1)
    first = fail_next(study, worker_stopped=True)
    (again,) = study.suggest(1, worker_id="w")  # the slot came back with the configuration
    assert again.params == first
    again.fail("boom")  # a real failure uses the budget: the study is spent
    assert study.suggest(1, worker_id="w") == []
    assert study.info().finished
