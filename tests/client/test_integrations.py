"""Training-loop integrations on a real server: the Lightning callback and `report_or_stop`.

Real training: a small MLP on scikit-learn's bundled digits, with Lightning's
own Trainer. A study whose median rule sees a finished trial with zero loss
at every step stops any other trial at its first report.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from hyperdial.client import Client, Study, TrialPruned, float_param, median_stopping
from hyperdial.client.integrations.lightning import HyperdialCallback
from hyperdial.server.testing import serve


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    with serve(f"sqlite:///{tmp_path / 'hyperdial.db'}") as server, Client(server.address) as c:
        yield c


class DigitsMLP(pl.LightningModule):  # type: ignore[misc]
    def __init__(self, learning_rate: float) -> None:
        super().__init__()
        self.learning_rate = learning_rate
        self.net = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))

    def training_step(self, batch: list[torch.Tensor], _: int) -> torch.Tensor:
        x, y = batch
        return nn.functional.cross_entropy(self.net(x), y)

    def validation_step(self, batch: list[torch.Tensor], _: int) -> None:
        x, y = batch
        self.log("val_loss", nn.functional.cross_entropy(self.net(x), y))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.learning_rate)


def loaders() -> tuple[DataLoader, DataLoader]:
    x, y = load_digits(return_X_y=True)
    data = TensorDataset(torch.tensor(x / 16.0, dtype=torch.float32), torch.tensor(y))
    train, val = torch.utils.data.random_split(data, [1400, 397], torch.Generator().manual_seed(0))
    return DataLoader(train, batch_size=64, shuffle=True), DataLoader(val, batch_size=256)


def tune_with_lightning(study: Study, root: Path) -> None:
    train, val = loaders()
    while (trial := study.next_trial(worker_id="lightning")) is not None:
        with trial:
            trainer = pl.Trainer(
                max_epochs=3,
                callbacks=[HyperdialCallback(trial, monitor="val_loss")],
                default_root_dir=root,
                enable_progress_bar=False,
                enable_model_summary=False,
                logger=False,
                enable_checkpointing=False,
            )
            trainer.fit(DigitsMLP(float(trial.params["learning_rate"])), train, val)
            trial.complete(metrics={"val_loss": float(trainer.callback_metrics["val_loss"])})


def test_lightning_reports_every_epoch_and_completes(client: Client, tmp_path: Path) -> None:
    study = client.create_study(
        "lightning",
        [float_param("learning_rate", 1e-3, 1e-2, log=True)],
        metric="val_loss",
        max_trials=2,
    )
    tune_with_lightning(study, tmp_path)
    trials = list(study.trials(measurements=True))
    assert [t.state for t in trials] == ["COMPLETED", "COMPLETED"]
    for trial in trials:
        assert [step for step, _ in trial.measurements] == [0, 1, 2]
        assert trial.value == pytest.approx(trial.measurements[-1][1], rel=1e-6)
        assert trial.measurements[-1][1] < trial.measurements[0][1]  # it learned


def unbeatable(study: Study) -> None:
    """A finished trial with zero loss at steps 0-2: the median rule stops any other."""
    (best,) = study.suggest(1, worker_id="oracle")
    for step in range(3):
        best.report(step, 0.0)
    best.complete(0.0)


def test_lightning_stops_when_the_server_says_so(client: Client, tmp_path: Path) -> None:
    study = client.create_study(
        "lightning-stop",
        [float_param("learning_rate", 1e-3, 1e-2, log=True)],
        metric="val_loss",
        max_trials=2,
        stopping=median_stopping(min_trials=1),
    )
    unbeatable(study)
    tune_with_lightning(study, tmp_path)
    stopped = list(study.trials(measurements=True))[1]
    assert stopped.state == "PRUNED"
    assert stopped.reason == "stopped early at step 0"
    assert [step for step, _ in stopped.measurements] == [0]


def test_report_or_stop_ends_a_plain_loop_trial_as_pruned(client: Client) -> None:
    study = client.create_study(
        "plain", [float_param("x", 0, 1)], max_trials=3, stopping=median_stopping(min_trials=1)
    )
    unbeatable(study)
    epochs_run = []
    while (trial := study.next_trial(worker_id="plain")) is not None:
        with trial:
            for epoch in range(3):
                epochs_run.append(epoch)
                trial.report_or_stop(epoch, 1.0 + trial.params["x"])
            trial.complete(1.0)
    assert epochs_run == [0, 0]
    assert [t.state for t in study.trials()] == ["COMPLETED", "PRUNED", "PRUNED"]


def test_outside_a_with_block_the_stop_is_the_callers_to_catch(client: Client) -> None:
    study = client.create_study(
        "bare", [float_param("x", 0, 1)], stopping=median_stopping(min_trials=1)
    )
    unbeatable(study)
    (trial,) = study.suggest(1, worker_id="w")
    with pytest.raises(TrialPruned, match="stopped early at step 0"):
        trial.report_or_stop(0, 5.0)
    assert trial.state == "PENDING"
