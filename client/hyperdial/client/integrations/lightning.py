"""PyTorch Lightning: report a monitored metric each validation epoch, stop when told.

    with trial:
        trainer = lightning.Trainer(callbacks=[HyperdialCallback(trial, "val_loss")], ...)
        trainer.fit(model, data)  # raises TrialPruned when the server says stop
        trial.complete(metrics={k: float(v) for k, v in trainer.callback_metrics.items()})

`TrialPruned` leaves `trainer.fit` through Lightning's own exception handling
(its `on_exception` hooks run), and `with trial:` ends the trial as PRUNED.
Install with the `lightning` extra.
"""

from __future__ import annotations

import lightning.pytorch as pl

from hyperdial.client.trial import Trial


class HyperdialCallback(pl.Callback):
    """Reports `monitor` at each validation epoch's end; raises `TrialPruned` on a stop."""

    def __init__(self, trial: Trial, monitor: str = "val_loss") -> None:
        super().__init__()
        self.trial = trial
        self.monitor = monitor

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Sends the epoch's value; the sanity check's, taken before training, is not one."""
        if trainer.sanity_checking:
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            known = ", ".join(sorted(trainer.callback_metrics)) or "none"
            raise KeyError(f"{self.monitor!r} is not a logged metric (logged: {known})")
        self.trial.report_or_stop(trainer.current_epoch, float(value))
