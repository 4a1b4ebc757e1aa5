"""Trainer processes against a real server: they finish a study together, failures included."""

import io
import logging
import signal
import socket
import subprocess
import sys
import time

import pytest
import torch
from rich.console import Console

from hyperdial.client import (
    Client,
    categorical,
    float_param,
    int_param,
    median_stopping,
    outcome_constraint,
)
from hyperdial.trainers import worker as worker_module
from hyperdial.trainers.data import load_dataset
from hyperdial.trainers.progress import RichProgress
from hyperdial.trainers.worker import Worker
from hyperdial.v1 import hyperdial_pb2 as pb


def _trainer(address: str, worker: str, *extra: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "hyperdial.trainers", "--server", address]
    command += ["--study", "digits-mlp", "--device", "cpu", "--worker-id", worker, *extra]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


SPACE = [
    float_param("learning_rate", 1e-3, 1e-2, log=True),
    int_param("units", 16, 64, log=True),
    float_param("dropout", 0.0, 0.3),
    # A value the trainer refuses: those trials fail with the reason, the workers go on.
    categorical("activation", ["relu", "tanh", "sigmoidish"]),
    int_param("epochs", 2, 3),
]


def test_two_trainers_finish_a_study_without_duplicates(server, client) -> None:
    study = client.create_study("digits-mlp", SPACE, metric="val_loss", max_trials=8, seed=3)
    trainers = [_trainer(server.address, f"trainer-{i}") for i in range(2)]
    for trainer in trainers:
        assert trainer.wait(timeout=240) == 0, trainer.stderr.read()
    trials = list(study.trials())
    assert len(trials) == 8
    assert {t.state for t in trials} <= {"COMPLETED", "FAILED"}
    for trial in trials:
        if trial.params["activation"] == "sigmoidish":
            assert trial.state == "FAILED"
            assert "activation must be one of" in trial.reason
        else:
            assert trial.state == "COMPLETED"
            assert 0 < trial.value < 3  # a cross-entropy on 10 classes
            assert [step for step, _ in trial.measurements] == []  # listed without curves
    (best,) = study.best_trials(1)
    assert best.measurements  # the learning curve was reported epoch by epoch
    assert {t.worker_id for t in trials} <= {"trainer-0", "trainer-1"}


def test_sigterm_fails_the_running_trial_and_exits(server, client) -> None:
    # Long enough that the first trial is still training when the signal comes.
    space = [
        float_param("learning_rate", 1e-3, 1e-2, log=True),
        int_param("epochs", 500, 501),
        int_param("patience", 500, 501),
    ]
    study = client.create_study("digits-mlp", space, max_trials=5)
    trainer = _trainer(server.address, "stopped")
    deadline = time.monotonic() + 60
    while not _reported(client, study.name):  # training has begun
        assert time.monotonic() < deadline
        time.sleep(0.2)
    trainer.send_signal(signal.SIGTERM)
    assert trainer.wait(timeout=60) == 0
    (trial,) = study.trials()
    assert (trial.state, trial.reason) == ("FAILED", "the worker was stopped")


def _reported(client, study: str) -> bool:
    request = pb.ListTrialsRequest(study=study, include_measurements=True)
    return any(t.measurements for t in client.stub.ListTrials(request).trials)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_a_trainer_survives_a_server_restart_mid_study(sqlite_url, server_process) -> None:
    port = _free_port()
    server = server_process(sqlite_url, port=port)
    space = [float_param("learning_rate", 1e-3, 1e-2, log=True), int_param("epochs", 3, 4)]
    with Client(server.address) as client:
        client.create_study("digits-mlp", space, max_trials=6, seed=1)
        trainer = _trainer(server.address, "steady")
        deadline = time.monotonic() + 120
        while client.study("digits-mlp").info().trial_counts["COMPLETED"] < 2:
            assert time.monotonic() < deadline
            time.sleep(0.2)
    server.stop(signal.SIGKILL)  # mid-study, probably mid-trial
    time.sleep(2)
    server = server_process(sqlite_url, port=port)
    assert trainer.wait(timeout=180) == 0, trainer.stderr.read()
    with Client(server.address) as client:
        trials = list(client.study("digits-mlp").trials())
    assert len(trials) == 6
    assert {t.state for t in trials} == {"COMPLETED"}
    assert {t.worker_id for t in trials} == {"steady"}


def test_a_terminal_shows_the_study_line_and_trial_bars(server, client) -> None:
    space = [float_param("learning_rate", 1e-3, 1e-2, log=True), int_param("epochs", 2, 3)]
    client.create_study("digits-mlp", space, max_trials=2)
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120)
    progress = RichProgress("digits-mlp", console)
    worker = Worker(
        client,
        "digits-mlp",
        "shown",
        load_dataset("digits"),
        torch.device("cpu"),
        progress=progress,
    )
    summary = worker.run()
    progress.close()
    assert summary.completed == 2
    drawn = screen.getvalue()
    assert "study digits-mlp" in drawn
    assert "trial 1" in drawn
    assert "val_loss" in drawn
    assert "best " in drawn


def test_cross_validation_scores_a_trial_by_its_mean_fold_loss(server, client) -> None:
    space = [float_param("learning_rate", 1e-3, 1e-2, log=True), int_param("epochs", 2, 3)]
    study = client.create_study("digits-cv", space, max_trials=1)
    worker = Worker(client, "digits-cv", "cv", load_dataset("iris"), torch.device("cpu"), folds=3)
    assert worker.run().completed == 1
    (trial,) = study.best_trials(1)
    assert [step for step, _ in trial.measurements] == [0, 1, 2]
    fold_losses = [loss for _, loss in trial.measurements]
    assert trial.value == pytest.approx(sum(fold_losses) / 3)
    assert len(set(fold_losses)) == 3  # three different folds


def test_a_trainer_reports_size_and_latency_for_a_trade_off_study(server, client) -> None:
    """val_loss against param_count under a latency limit, trained on digits for real."""
    study = client.create_study(
        "digits-trade-off",
        [int_param("units", 4, 128, log=True), int_param("epochs", 2, 3)],
        objectives=[("val_loss", "minimize"), ("param_count", "minimize")],
        constraints=[outcome_constraint("latency_us", max=1e6)],
        max_trials=4,
        seed=2,
    )
    worker = Worker(client, study.name, "w", load_dataset("digits"), torch.device("cpu"))
    assert worker.run().completed == 4
    for trial in study.trials():
        units = trial.params["units"]
        # Two hidden layers by default: 64 inputs -> units -> units -> 10 classes.
        expected = 64 * units + units + units * units + units + units * 10 + 10
        assert trial.metrics["param_count"] == expected
        assert 0 < trial.metrics["latency_us"] < 1e6
        assert 0 < trial.metrics["val_accuracy"] <= 1
        assert trial.value == trial.metrics["val_loss"]
    front = study.best_trials(0)
    sizes = [t.metrics["param_count"] for t in front]
    losses = [t.metrics["val_loss"] for t in front]
    assert losses == sorted(losses)
    assert sizes == sorted(sizes, reverse=True)


def test_a_diverged_run_ends_infeasible_not_failed(server, client) -> None:
    """SGD at a learning rate of 0.1 on diabetes' raw targets diverges: an outcome, not a fault."""
    space = [
        float_param("learning_rate", 1e-4, 1e-1, log=True),
        categorical("optimizer", ["sgd"]),
        int_param("epochs", 2, 3),
    ]
    study = client.create_study("diabetes-diverged", space, algorithm="bayes", max_trials=4)
    study.enqueue([{"learning_rate": 0.1, "optimizer": "sgd", "epochs": 2}])
    worker = Worker(client, study.name, "w", load_dataset("diabetes"), torch.device("cpu"))
    summary = worker.run()
    (diverged,) = [t for t in study.trials() if t.params["learning_rate"] == 0.1]
    assert diverged.state == "INFEASIBLE"
    assert "diverged" in diverged.reason
    assert summary.infeasible >= 1
    assert summary.failed == 0
    assert summary.completed + summary.infeasible == 4


def test_a_pruned_trial_is_logged_with_its_epochs(server, client, caplog) -> None:
    space = [float_param("learning_rate", 1e-4, 1e-1, log=True), int_param("epochs", 4, 5)]
    client.create_study(
        "digits-pruned",
        space,
        algorithm="random",
        max_trials=6,
        seed=1,
        stopping=median_stopping(min_trials=1),
    )
    worker = Worker(client, "digits-pruned", "w", load_dataset("digits"), torch.device("cpu"))
    with caplog.at_level(logging.INFO, logger="hyperdial.trainers.worker"):
        summary = worker.run()
    assert summary.pruned >= 1
    logged = [r.getMessage() for r in caplog.records if "pruned by the study's" in r.getMessage()]
    assert len(logged) == summary.pruned
    assert "after" in logged[0]


def test_a_slow_suggestion_is_announced(server, client, caplog, monkeypatch) -> None:
    """A first bayes fit can take seconds: the trainer says it waits instead of going silent."""
    space = [float_param("learning_rate", 1e-3, 1e-2, log=True), int_param("epochs", 2, 3)]
    client.create_study(
        "digits-wait", space, algorithm="bayes", options={"initial_trials": 2}, max_trials=4
    )
    monkeypatch.setattr(worker_module, "WAIT_NOTICE_SECONDS", 0.001)  # model fits take longer
    worker = Worker(client, "digits-wait", "w", load_dataset("digits"), torch.device("cpu"))
    with caplog.at_level(logging.INFO, logger="hyperdial.trainers.worker"):
        assert worker.run().completed == 4
    assert worker_module.WAITING_FOR_THE_MODEL in caplog.messages


def test_a_trainer_started_before_its_study_waits_for_it(server, client) -> None:
    alone = _trainer(server.address, "impatient")
    assert alone.wait(timeout=60) == 1
    assert "does not exist" in alone.stderr.read()
    patient = _trainer(server.address, "patient", "--wait", "60")
    time.sleep(1.0)  # it is up and asking
    space = [float_param("learning_rate", 1e-3, 1e-2, log=True), int_param("epochs", 2, 3)]
    study = client.create_study("digits-mlp", space, max_trials=1)
    assert patient.wait(timeout=120) == 0, patient.stderr.read()
    (trial,) = study.trials()
    assert (trial.state, trial.worker_id) == ("COMPLETED", "patient")
