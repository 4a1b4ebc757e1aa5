"""Training with early stopping on the validation loss, restoring the best weights.

Training parameters (a parameter the study does not tune takes the default):

| name | default | meaning |
|---|---|---|
| `learning_rate` | 1e-3 | optimizer step size |
| `optimizer` | `adam` | `adam`, `adamw` or `sgd` (with `momentum`) |
| `momentum` | 0.9 | SGD momentum |
| `weight_decay` | 0.0 | L2 penalty (decoupled for `adamw`) |
| `batch_size` | 64 | examples per step |
| `epochs` | 15 | at most this many epochs |
| `patience` | 3 | stop after this many epochs without a better validation loss |

The score is the best validation loss (cross-entropy for classification, mean
squared error for regression); the weights of that epoch are restored.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import torch
from torch import nn

from hyperdial.trainers.data import Dataset, Part
from hyperdial.trainers.early_stopping import EarlyStopping
from hyperdial.trainers.models import MODEL_PARAMS, ParamValue, build_model

TRAINING_PARAMS = frozenset(
    {"learning_rate", "optimizer", "momentum", "weight_decay", "batch_size", "epochs", "patience"}
)
# Called after each epoch with (epoch, validation loss, validation accuracy or nan);
# returning True stops training (the server's stopping rule said so).
EpochCallback = Callable[[int, float, float], bool]


@dataclass(frozen=True)
class TrainingConfig:
    """The training half of a trial's parameters, validated."""

    learning_rate: float = 1e-3
    optimizer: str = "adam"
    momentum: float = 0.9
    weight_decay: float = 0.0
    batch_size: int = 64
    epochs: int = 15
    patience: int = 3

    @classmethod
    def from_params(cls, params: Mapping[str, ParamValue]) -> TrainingConfig:
        """Reads the known names; an unknown parameter is an error (a typo must not pass)."""
        unknown = sorted(
            name
            for name in params
            if name not in TRAINING_PARAMS
            and name not in MODEL_PARAMS
            and not name.startswith("units_")
        )
        if unknown:
            raise ValueError(f"unknown parameter {unknown[0]!r} for the trainer")
        config = cls(
            learning_rate=float(params.get("learning_rate", cls.learning_rate)),
            optimizer=str(params.get("optimizer", cls.optimizer)),
            momentum=float(params.get("momentum", cls.momentum)),
            weight_decay=float(params.get("weight_decay", cls.weight_decay)),
            batch_size=int(params.get("batch_size", cls.batch_size)),
            epochs=int(params.get("epochs", cls.epochs)),
            patience=int(params.get("patience", cls.patience)),
        )
        if config.optimizer not in ("adam", "adamw", "sgd"):
            raise ValueError(f"optimizer must be adam, adamw or sgd, got {config.optimizer!r}")
        if not (config.learning_rate > 0 and config.batch_size >= 1 and config.epochs >= 1):
            raise ValueError("learning_rate, batch_size and epochs must be positive")
        if config.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {config.weight_decay}")
        return config

    def optimizer_for(self, model: nn.Module) -> torch.optim.Optimizer:
        """The optimizer, with weight decay applied as L2 regularization."""
        parameters = model.parameters()
        if self.optimizer == "sgd":
            return torch.optim.SGD(
                parameters,
                lr=self.learning_rate,
                momentum=self.momentum,
                weight_decay=self.weight_decay,
            )
        kind = torch.optim.AdamW if self.optimizer == "adamw" else torch.optim.Adam
        return kind(parameters, lr=self.learning_rate, weight_decay=self.weight_decay)


@dataclass
class FitResult:
    """What a training run achieved; `model` holds the best epoch's weights."""

    model: nn.Module
    best_loss: float
    best_accuracy: float  # nan for regression
    best_epoch: int
    epochs: int
    seconds: float
    samples_per_second: float
    stopped_by_server: bool


def _mixed_precision(device: torch.device) -> contextlib.AbstractContextManager[object]:
    """bfloat16 autocast on CUDA cards that support it (no loss scaling needed); else nothing.

    The whole dataset already lives on the device (it is small), so batches never
    cross the bus and pinned host memory would buy nothing.
    """
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def pick_device(requested: str = "auto") -> torch.device:
    """`auto`: CUDA when present, else the CPU."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but CUDA is not available")
    return torch.device(requested)


def evaluate(model: nn.Module, part: Part, classification: bool) -> tuple[float, float]:
    """(loss, accuracy) on a whole part; accuracy is nan for regression."""
    model.eval()
    with torch.no_grad():
        output = model(part.x)
        if classification:
            loss = nn.functional.cross_entropy(output, part.y).item()
            accuracy = (output.argmax(dim=1) == part.y).float().mean().item()
            return loss, accuracy
        return nn.functional.mse_loss(output.squeeze(1), part.y).item(), math.nan


def fit(
    dataset: Dataset,
    params: Mapping[str, ParamValue],
    *,
    device: torch.device | None = None,
    seed: int = 0,
    on_epoch: EpochCallback | None = None,
    train: Part | None = None,
    restore_best: bool = True,
) -> FitResult:
    """Trains a model for the trial `params`, early-stopping on the validation loss.

    `train` overrides the training part and `restore_best=False` keeps the last
    epoch's weights: the final retrain on train + validation uses both.
    Deterministic on the CPU for a given seed.
    """
    config = TrainingConfig.from_params(params)
    device = device or pick_device()
    torch.manual_seed(seed)
    classification = dataset.task == "classification"
    outputs = dataset.classes if classification else 1
    model = build_model(params, dataset.train.x.shape[1], outputs, dataset.image_shape).to(device)
    optimizer = config.optimizer_for(model)
    part = train or dataset.train
    x, y = part.x.to(device), part.y.to(device)
    validation = Part(dataset.validation.x.to(device), dataset.validation.y.to(device))
    loss_of = nn.functional.cross_entropy if classification else _mse
    order = torch.Generator(device="cpu").manual_seed(seed)
    stopper = EarlyStopping(patience=config.patience)
    best_state = copy.deepcopy(model.state_dict())
    best_accuracy = math.nan
    started, seen, stopped_by_server, epoch = time.perf_counter(), 0, False, 0
    for epoch in range(config.epochs):
        model.train()
        for batch in torch.randperm(len(x), generator=order).split(config.batch_size):
            _step(model, optimizer, loss_of, x, y, batch.to(device))
            seen += len(batch)
        loss, accuracy = evaluate(model, validation, classification)
        if stopper.update(loss):
            best_state, best_accuracy = copy.deepcopy(model.state_dict()), accuracy
        told_to_stop = on_epoch is not None and on_epoch(epoch, loss, accuracy)
        # A trial that ends here anyway (patience spent, last epoch) completes: the
        # server's stop would save no epoch, and it would throw the trial's result away.
        stopped_by_server = told_to_stop and not stopper.should_stop and epoch < config.epochs - 1
        if stopper.should_stop or told_to_stop:
            break
    if restore_best:
        model.load_state_dict(best_state)
    seconds = time.perf_counter() - started
    return FitResult(
        model=model,
        best_loss=stopper.best,
        best_accuracy=best_accuracy,
        best_epoch=stopper.best_epoch,
        epochs=epoch + 1,
        seconds=seconds,
        samples_per_second=seen / seconds if seconds else math.inf,
        stopped_by_server=stopped_by_server,
    )


def _step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_of: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    batch: torch.Tensor,
) -> None:
    """One optimizer step on the rows `batch` of (x, y)."""
    optimizer.zero_grad(set_to_none=True)
    with _mixed_precision(batch.device):
        batch_loss = loss_of(model(x[batch]), y[batch])
    batch_loss.backward()
    optimizer.step()


@dataclass(frozen=True)
class CrossValidation:
    """Per-fold best validation losses and their mean (the score)."""

    fold_losses: tuple[float, ...]
    stopped_by_server: bool

    @property
    def score(self) -> float:
        """The mean best validation loss over the folds trained."""
        return sum(self.fold_losses) / len(self.fold_losses)


# Called after each fold with (fold, its best validation loss); True stops (pruned).
FoldCallback = Callable[[int, float], bool]


def cross_validate(
    dataset: Dataset,
    params: Mapping[str, ParamValue],
    folds: int,
    *,
    device: torch.device | None = None,
    seed: int = 0,
    on_fold: FoldCallback | None = None,
) -> CrossValidation:
    """k-fold cross-validation on train + validation (stratified for classification).

    The test part stays out, as in tuning without folds. Features keep the
    standardization of the original training part, so folds differ only in
    which rows train and which validate.
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    if folds < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")
    x = torch.cat([dataset.train.x, dataset.validation.x])
    y = torch.cat([dataset.train.y, dataset.validation.y])
    splitter = (
        StratifiedKFold(folds, shuffle=True, random_state=seed)
        if dataset.task == "classification"
        else KFold(folds, shuffle=True, random_state=seed)
    )
    losses: list[float] = []
    for fold, (train_rows, validation_rows) in enumerate(splitter.split(x.numpy(), y.numpy())):
        split = replace(
            dataset,
            train=Part(x[train_rows], y[train_rows]),
            validation=Part(x[validation_rows], y[validation_rows]),
        )
        losses.append(fit(split, params, device=device, seed=seed + fold).best_loss)
        if on_fold is not None and on_fold(fold, losses[-1]):
            return CrossValidation(tuple(losses), stopped_by_server=True)
    return CrossValidation(tuple(losses), stopped_by_server=False)


def regression_scores(model: nn.Module, part: Part) -> tuple[float, float]:
    """(RMSE, R²) of a regression model on a whole part."""
    model.eval()
    with torch.no_grad():
        predicted = model(part.x).squeeze(1)
    residual = torch.sum((part.y - predicted) ** 2).item()
    total = torch.sum((part.y - part.y.mean()) ** 2).item()
    rmse = math.sqrt(residual / len(part.y))
    return rmse, 1.0 - residual / total if total else math.nan


def _mse(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return nn.functional.mse_loss(output.squeeze(1), target)
