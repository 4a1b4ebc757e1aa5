"""The trainer loop: Suggest → train (ReportProgress each epoch) → Observe, until finished.

Every completed trial reports its metrics: `val_loss`, `val_accuracy`
(classification), `param_count` and `latency_us` (microseconds of inference
per sample, batch of 256, warm), so a study may optimize or constrain any of
them. The trial's value is its best validation loss unless the study names
one of those metrics as its objective.

A trial with a step budget (the study's `fidelity`) trains at most that many
epochs; without an `epochs` parameter it trains all of them.

A trial that fails to train (a bad parameter, CUDA out of memory, any error) is
observed as FAILED with the reason, and the worker goes on with the next one. A
stop request (SIGTERM, Ctrl-C) ends the running trial as FAILED ("the worker was
stopped") at the next epoch boundary, so its configuration is not left leased.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch

from hyperdial.client import Client, Trial
from hyperdial.client.params import ParamValue
from hyperdial.trainers.cost import latency_per_sample, parameter_count
from hyperdial.trainers.data import Dataset
from hyperdial.trainers.metrics import TrainerMetrics
from hyperdial.trainers.models import build_model
from hyperdial.trainers.progress import RichProgress
from hyperdial.trainers.training import FitResult, TrainingConfig, cross_validate, fit

log = logging.getLogger(__name__)

# A Suggest slower than this is announced: a study's first model fit can take 10 s and more.
WAIT_NOTICE_SECONDS = 1.0
WAITING_FOR_THE_MODEL = "waiting for the study's model to suggest the next trial…"


@contextlib.contextmanager
def _announced_if_slow(message: str, unless: Callable[[], bool] = lambda: False) -> Iterator[None]:
    """Logs `message` once the block has run `WAIT_NOTICE_SECONDS`, so a wait is not silence.

    `unless` says when the wait has another reason, announced elsewhere.
    """

    def announce() -> None:
        if not unless():
            log.info(message)

    timer = threading.Timer(WAIT_NOTICE_SECONDS, announce)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def training_params(trial: Trial) -> dict[str, ParamValue]:
    """The trial's parameters, its epochs within its step budget (the study's fidelity).

    Without an `epochs` parameter, a trial with a step budget trains for all of it.
    """
    params = dict(trial.params)
    epochs = int(params.get("epochs", trial.step_budget or TrainingConfig.epochs))
    params["epochs"] = min(epochs, trial.step_budget) if trial.step_budget else epochs
    return params


@dataclass
class Summary:
    """What one worker did."""

    completed: int = 0
    failed: int = 0
    infeasible: int = 0
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
        metrics: TrainerMetrics | None = None,
        progress: RichProgress | None = None,
        folds: int = 0,
    ) -> None:
        self._folds = folds
        self._metrics = metrics
        self.progress = progress
        self._study = client.study(study, prefetch=True)
        self._worker_id = worker_id
        self._dataset = dataset
        self._device = device
        self._seed = seed
        self._objective_metrics: set[str] | None = None
        self.stop = threading.Event()

    def run(self) -> Summary:
        """Works until the study hands out no more trials or `stop` is set."""
        summary = Summary()
        while not self.stop.is_set():
            # A paused study's wait is announced by the client.
            with _announced_if_slow(WAITING_FOR_THE_MODEL, lambda: self._study.paused):
                trial = self._study.next_trial(self._worker_id, stop=self.stop)
            if trial is None:
                if not self.stop.is_set():
                    log.info("study %s is finished", self._study.name)
                break
            started = time.perf_counter()
            if self.progress is not None:
                self.progress.trial_started(trial.id, int(training_params(trial)["epochs"]))
            if self._folds > 1:
                outcome, result = self._cross_validate(trial), None
            else:
                outcome, result = self._train(trial)
            setattr(summary, outcome, getattr(summary, outcome) + 1)
            if self.progress is not None:
                self.progress.trial_ended()
                self._show_study(self.progress)
            if self._metrics is not None:
                self._metrics.finished(outcome, time.perf_counter() - started)
                if result is not None:
                    self._metrics.samples_per_second.set(result.samples_per_second)
        return summary

    def _show_study(self, progress: RichProgress) -> None:
        info = self._study.info()
        finished = sum(n for state, n in info.trial_counts.items() if state != "PENDING")
        best = info.best_trial.value if info.best_trial is not None else None
        progress.study(finished, info.config.max_trials, best)

    def _train(self, trial: Trial) -> tuple[str, FitResult | None]:
        """Trains and observes one trial; returns its outcome and the training result."""
        log.info("trial %d: %s", trial.id, trial.params)

        def on_epoch(epoch: int, loss: float, accuracy: float) -> bool:
            if self._metrics is not None:
                self._metrics.epochs.inc()
                self._metrics.samples.inc(len(self._dataset.train.y))
            # The server takes finite values only; a diverged epoch has nothing to report.
            should_stop = math.isfinite(loss) and trial.report(epoch, loss)
            if self.progress is not None:
                self.progress.epoch(epoch, loss, accuracy)
            log.info(
                "trial %d epoch %d: val_loss %.4f val_acc %.4f", trial.id, epoch, loss, accuracy
            )
            return should_stop or self.stop.is_set()

        result, error = None, ""
        try:
            result = fit(
                self._dataset,
                training_params(trial),
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
            return self._fail(trial, "the worker was stopped", worker_stopped=True), result
        if result is None:
            return self._fail(trial, error), result
        if result.stopped_by_server:
            return self._pruned(trial, result), result
        if not math.isfinite(result.best_loss):
            return self._diverged(trial), result
        metrics = {"val_loss": result.best_loss, **self._cost(result.model)}
        if math.isfinite(result.best_accuracy):
            metrics["val_accuracy"] = result.best_accuracy
        self._complete(trial, result.best_loss, metrics)
        log.info(
            "trial %d: best val_loss %.4f (val_acc %.4f) at epoch %d of %d",
            trial.id,
            result.best_loss,
            result.best_accuracy,
            result.best_epoch,
            result.epochs,
        )
        return "completed", result

    def _cross_validate(self, trial: Trial) -> str:
        """Scores the trial by k-fold cross-validation; each fold's best loss is a step."""
        log.info("trial %d (%d folds): %s", trial.id, self._folds, trial.params)

        def on_fold(fold: int, loss: float) -> bool:
            log.info("trial %d fold %d: best val_loss %.4f", trial.id, fold, loss)
            reported = math.isfinite(loss) and trial.report(fold, loss)
            return reported or self.stop.is_set()

        try:
            folds = cross_validate(
                self._dataset,
                trial.params,
                self._folds,
                device=self._device,
                seed=self._seed + trial.id,
                on_fold=on_fold,
            )
        except Exception as failure:  # a trial's failure must not end the worker
            return self._fail(trial, f"{type(failure).__name__}: {failure}")
        if self.stop.is_set():
            self._study.prefetch = False
            return self._fail(trial, "the worker was stopped", worker_stopped=True)
        if folds.stopped_by_server:
            trial.prune(f"stopped by the server after {len(folds.fold_losses)} folds")
            return "pruned"
        if not math.isfinite(folds.score):
            return self._diverged(trial)
        dataset = self._dataset
        classes = dataset.classes if dataset.task == "classification" else 1
        model = build_model(trial.params, dataset.train.x.shape[1], classes, dataset.image_shape)
        metrics = {"val_loss": folds.score, **self._cost(model.to(self._device))}
        self._complete(trial, folds.score, metrics)
        log.info(
            "trial %d: mean best val_loss %.4f over %d folds", trial.id, folds.score, self._folds
        )
        return "completed"

    def _cost(self, model: torch.nn.Module) -> dict[str, float]:
        latency = latency_per_sample(model, self._dataset.validation.x, self._device)
        return {"param_count": float(parameter_count(model)), "latency_us": latency * 1e6}

    def _complete(self, trial: Trial, loss: float, metrics: dict[str, float]) -> None:
        """Observes the metrics, and the loss as the value unless an objective is a metric."""
        if self._objective_metrics is None:
            config = self._study.info().config
            objectives = [config.objective, *config.objectives]
            self._objective_metrics = {o.metric for o in objectives if o.metric}
        # With prefetch, the same call leases the next trial: it may wait for the model.
        with _announced_if_slow(WAITING_FOR_THE_MODEL):
            if self._objective_metrics & set(metrics):
                trial.complete(metrics=metrics)
            else:
                trial.complete(loss, metrics=metrics)

    @staticmethod
    def _pruned(trial: Trial, result: FitResult) -> str:
        """Ends a trial the study's stopping rule stopped as PRUNED, and logs it."""
        trial.prune(f"stopped by the server after {result.epochs} epochs")
        log.info(
            "trial %d: pruned by the study's stopping rule after %d epochs (best val_loss %.4f)",
            trial.id,
            result.epochs,
            result.best_loss,
        )
        return "pruned"

    @staticmethod
    def _diverged(trial: Trial) -> str:
        """Ends a trial whose training diverged as INFEASIBLE, an outcome of its configuration.

        A FAILED trial is left out of the model, and bayes kept proposing the
        region that diverges: on diabetes (bench/generalization.py) up to 17 of
        30 trials. An infeasible one takes the study's worst value there.
        """
        reason = "training diverged: the validation loss never became finite"
        log.warning("trial %d is infeasible: %s", trial.id, reason)
        trial.infeasible(reason)
        return "infeasible"

    @staticmethod
    def _fail(trial: Trial, reason: str, *, worker_stopped: bool = False) -> str:
        log.warning("trial %d failed: %s", trial.id, reason)
        trial.fail(reason, worker_stopped=worker_stopped)
        return "failed"
