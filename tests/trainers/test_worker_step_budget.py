"""Two trainers spend a study's epoch budget with model-based stopping, on both backends."""

from __future__ import annotations

import threading

import torch

from hyperdial.client import Client, float_param, int_param, model_stopping, step_budget
from hyperdial.trainers.data import load_dataset
from hyperdial.trainers.worker import Summary, Worker

# No `epochs` parameter: each trial trains for its step budget (or until its patience runs out).
SPACE = [
    float_param("learning_rate", 1e-4, 1e-1, log=True),
    int_param("units", 16, 64, log=True),
    int_param("patience", 2, 8),
]
TOTAL_EPOCHS = 60


def test_two_trainers_finish_within_the_epoch_budget(server, client: Client) -> None:
    study = client.create_study(
        "epoch-budget",
        SPACE,
        metric="val_loss",
        seed=4,
        stopping=model_stopping(min_probability=0.2, min_trials=3, warmup_steps=1),
        fidelity=step_budget(8, total_steps=TOTAL_EPOCHS, min_steps=2),
    )
    digits = load_dataset("digits")
    summaries: list[Summary] = []

    def train(worker_id: str) -> None:
        with Client(server.address, timeout=60) as own:
            worker = Worker(own, "epoch-budget", worker_id, digits, torch.device("cpu"))
            summaries.append(worker.run())

    threads = [threading.Thread(target=train, args=(f"trainer-{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
        assert not thread.is_alive()
    info = study.info()
    assert info.finished
    assert info.steps_reserved == 0
    trials = list(study.trials(measurements=True))
    assert {t.worker_id for t in trials} == {"trainer-0", "trainer-1"}
    assert sum(s.completed + s.pruned for s in summaries) == len(trials)
    assert {t.state for t in trials} <= {"COMPLETED", "PRUNED"}
    for trial in trials:
        assert 2 <= trial.step_budget <= 8
        assert 1 <= len(trial.measurements) <= trial.step_budget  # the trainer honoured it
        if trial.state == "PRUNED":  # stopped before its budget: at its end it completes
            assert len(trial.measurements) < trial.step_budget
    assert "PRUNED" in {t.state for t in trials}  # the model's rule stopped some
    spent = sum(len(t.measurements) for t in trials)
    assert spent == info.steps_reported
    # Every epoch was spent but the last few, too few for another trial.
    assert TOTAL_EPOCHS - 2 < info.steps_reported <= TOTAL_EPOCHS
    # Trials that trained all their steps without early stopping used the whole grant.
    assert any(len(t.measurements) == 8 for t in trials)
