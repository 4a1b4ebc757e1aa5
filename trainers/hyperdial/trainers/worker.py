"""The trainer loop: Suggest → train (ReportProgress each epoch) → Observe, until finished.

A trial that fails to train (a bad parameter, CUDA out of memory, any error) is
observed as FAILED with the reason, and the worker goes on with the next one. A
stop request (SIGTERM, Ctrl-C) ends the running trial as FAILED ("the worker was
stopped") at the next epoch boundary, so its configuration is not left leased.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass

import torch

from hyperdial.client import Client, Trial
from hyperdial.trainers.data import Dataset
from hyperdial.trainers.training import fit

log = logging.getLogger(__name__)


@dataclass
class Summary:
    """What one worker did."""

    completed: int = 0
    failed: int = 0
    pruned: int = 0


class Worker:
    """Trains the trials of one study on one device until the study is finished or stopped."""

    def __init__(
        self,
        client: Client,
        study: str,
        worker_id: str,
        dataset: Dataset,
        device: torch.device,
        *,
        seed: int = 0,
    ) -> None:
        self._study = client.study(study, prefetch=True)
        self._worker_id = worker_id
        self._dataset = dataset
        self._device = device
        self._seed = seed
        self.stop = threading.Event()

    def run(self) -> Summary:
        """Works until the study hands out no more trials or `stop` is set."""
        summary = Summary()
        while not self.stop.is_set():
            trial = self._study.next_trial(self._worker_id)
            if trial is None:
                log.info("study %s is finished", self._study.name)
                break
            self._train(trial, summary)
        return summary

    def _train(self, trial: Trial, summary: Summary) -> None:
        log.info("trial %d: %s", trial.id, trial.params)

        def on_epoch(epoch: int, loss: float, accuracy: float) -> bool:
            should_stop = trial.report(epoch, loss)
            log.info(
                "trial %d epoch %d: val_loss %.4f val_acc %.4f", trial.id, epoch, loss, accuracy
            )
            return should_stop or self.stop.is_set()

        result, error = None, ""
        try:
            result = fit(
                self._dataset,
                trial.params,
                device=self._device,
                seed=self._seed + trial.id,
                on_epoch=on_epoch,
            )
        except torch.cuda.OutOfMemoryError as oom:
            torch.cuda.empty_cache()
            error = f"CUDA out of memory: {oom}"
        except Exception as failure:  # a trial's failure must not end the worker
            error = f"{type(failure).__name__}: {failure}"
        if self.stop.is_set():  # checked first: a signal may also interrupt a call
            self._study.prefetch = False  # leaving: lease nothing more
            self._fail(trial, summary, "the worker was stopped")
        elif result is None:
            self._fail(trial, summary, error)
        elif result.stopped_by_server:
            trial.prune(f"stopped by the server after {result.epochs} epochs")
            summary.pruned += 1
        elif not math.isfinite(result.best_loss):
            self._fail(trial, summary, "the validation loss never became finite")
        else:
            trial.complete(result.best_loss)
            summary.completed += 1
            log.info(
                "trial %d: best val_loss %.4f (val_acc %.4f) at epoch %d of %d",
                trial.id,
                result.best_loss,
                result.best_accuracy,
                result.best_epoch,
                result.epochs,
            )

    @staticmethod
    def _fail(trial: Trial, summary: Summary, reason: str) -> None:
        log.warning("trial %d failed: %s", trial.id, reason)
        trial.fail(reason)
        summary.failed += 1
