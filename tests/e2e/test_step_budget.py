"""Steps as a study's budget (StudyConfig.fidelity) over gRPC, on both backends."""

from __future__ import annotations

import time

import pytest

from hyperdial.client import (
    Client,
    InvalidArgumentError,
    float_param,
    median_stopping,
    step_budget,
)
from hyperdial.client.tools.study_cli import main as study_main
from hyperdial.client.tools.study_file import StudyFileError, load_study_file
from hyperdial.server.domain import Fidelity
from hyperdial.v1 import hyperdial_pb2 as pb

X = [float_param("x", 0.0, 1.0)]


def _report(trial, steps: int) -> None:
    for step in range(steps):
        trial.report(step, 1.0 - step / 100)


def test_every_trial_gets_its_step_budget_and_get_study_shows_the_fidelity(client: Client) -> None:
    study = client.create_study("per-trial", X, max_trials=3, fidelity=step_budget(12))
    trials = study.suggest(3, worker_id="w", force_new=True)
    assert [t.step_budget for t in trials] == [12, 12, 12]
    info = study.info()
    assert info.config.fidelity == pb.Fidelity(max_steps=12)
    assert info.steps_reserved == 36  # granted to the three running trials
    listed = next(iter(study.trials()))
    assert listed.step_budget == 12


def test_a_study_without_a_fidelity_budgets_no_steps(client: Client) -> None:
    study = client.create_study("unbudgeted", X, max_trials=2)
    (trial,) = study.suggest(1, worker_id="w")
    assert trial.step_budget == 0
    assert not study.info().config.HasField("fidelity")


def test_the_total_is_never_overrun_by_trials_running_at_once(client: Client) -> None:
    study = client.create_study("total", X, fidelity=step_budget(10, total_steps=25))
    first, second = study.suggest(2, worker_id="a", force_new=True)
    assert (first.step_budget, second.step_budget) == (10, 10)
    # 5 steps are left, fewer than a trial's full 10 (min_steps 0 = max_steps).
    assert study.suggest(1, worker_id="b") == []
    assert study.finished
    assert study.info().steps_reserved == 20
    _report(first, 4)
    assert study.info().steps_reserved == 16  # reported steps are spent, not reserved
    assert study.info().steps_reported == 4


def test_steps_a_trial_leaves_unspent_come_back(client: Client) -> None:
    study = client.create_study("returned", X, fidelity=step_budget(10, total_steps=20))
    first, second = study.suggest(2, worker_id="a", force_new=True)
    assert study.suggest(1, worker_id="b") == []
    assert study.finished
    _report(first, 3)
    first.prune()  # 7 of its 10 steps come back, not enough for another trial yet
    assert study.suggest(1, worker_id="b") == []
    _report(second, 10)
    second.complete(0.5)
    assert study.info().steps_reported == 13
    assert study.suggest(1, worker_id="b") == []  # 7 left < 10
    assert study.finished


def test_min_steps_lets_the_last_trials_use_what_is_left(client: Client) -> None:
    study = client.create_study(
        "leftover", X, fidelity=step_budget(10, total_steps=24, min_steps=3)
    )
    trials = study.suggest(3, worker_id="a", force_new=True)
    assert [t.step_budget for t in trials] == [10, 10, 4]
    assert study.finished
    _report(trials[0], 2)
    trials[0].prune()  # 8 come back: the study reopens for the next Suggest
    (again,) = study.suggest(1, worker_id="b")
    assert again.step_budget == 8
    info = study.info()
    assert info.steps_reported + info.steps_reserved == 24


def test_a_step_budget_and_a_trial_budget_both_hold(client: Client) -> None:
    study = client.create_study("both", X, max_trials=2, fidelity=step_budget(5, total_steps=100))
    assert len(study.suggest(5, worker_id="a", force_new=True)) == 2
    assert study.finished


def test_an_expired_lease_gives_its_unreported_steps_back(client: Client) -> None:
    study = client.create_study(
        "expired", X, lease_seconds=1, fidelity=step_budget(10, total_steps=10, min_steps=1)
    )
    (vanished,) = study.suggest(1, worker_id="gone")
    _report(vanished, 2)
    assert study.suggest(1, worker_id="b") == []
    time.sleep(2.1)  # the lease ends and the expiry check comes round
    (fresh,) = study.suggest(1, worker_id="b")
    assert fresh.step_budget == 8  # the 2 reported steps stay spent


@pytest.mark.parametrize(
    ("fidelity", "field"),
    [
        (pb.Fidelity(max_steps=0), "config.fidelity.max_steps"),
        (pb.Fidelity(max_steps=5, total_steps=-1), "config.fidelity.total_steps"),
        (pb.Fidelity(max_steps=5, min_steps=6), "config.fidelity.min_steps"),
    ],
)
def test_a_bad_fidelity_is_refused_by_field(client: Client, fidelity, field: str) -> None:
    with pytest.raises(InvalidArgumentError) as refused:
        client.create_study("bad-fidelity", X, fidelity=fidelity)
    assert refused.value.field == field


def test_study_show_prints_the_steps_budget(client: Client, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    study = client.create_study("shown", X, fidelity=step_budget(10, total_steps=50))
    _report(study.suggest(1, worker_id="w")[0], 3)
    study_main(["--server", client.address, "show", "shown"])
    out = " ".join(capsys.readouterr().out.split())
    assert "3 reported" in out
    assert "at most 10 a trial" in out
    assert "7 granted to running trials; budget 50" in out


def test_a_stopping_rule_never_stops_a_trial_at_the_end_of_its_budget(client: Client) -> None:
    study = client.create_study(
        "last-step",
        X,
        stopping=median_stopping(min_trials=1),
        fidelity=step_budget(3),
    )
    good, bad = study.suggest(2, worker_id="w", force_new=True)
    for step in range(3):
        good.report(step, 0.1)
    good.complete(0.1)
    assert bad.report(0, 0.9) is True  # far worse than the median at each step
    assert bad.report(1, 0.9) is True
    # Its last budgeted step ends it anyway: it completes rather than being pruned.
    assert bad.report(2, 0.9) is False


def test_a_study_file_declares_its_fidelity(tmp_path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text(
        "name: s\nparameters: [{name: x, type: float, low: 0, high: 1}]\n"
        "fidelity: {max_steps: 30, total_steps: 600, min_steps: 5}\n"
    )
    assert load_study_file(path).create_kwargs["fidelity"] == pb.Fidelity(
        max_steps=30, total_steps=600, min_steps=5
    )
    path.write_text(
        "name: s\nparameters: [{name: x, type: float, low: 0, high: 1}]\nfidelity: {steps: 3}\n"
    )
    with pytest.raises(StudyFileError, match=r"study.yaml:3: fidelity.steps: unknown"):
        load_study_file(path)


@pytest.mark.parametrize(
    ("available", "grants"),
    [(None, [10, 10, 10]), (25, [10, 10]), (9, []), (0, [])],
)
def test_grants_come_from_what_is_left(available, grants) -> None:
    assert Fidelity(10).grants(available, 3) == grants
    assert Fidelity(10, min_steps=4).grants(25, 3) == [10, 10, 5]
    assert Fidelity(10, min_steps=4).spent(3)
    assert not Fidelity(10).spent(None)
