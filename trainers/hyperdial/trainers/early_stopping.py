"""Early stopping on a validation metric: pure bookkeeping, no framework."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal


@dataclass
class EarlyStopping:
    """Says when a metric has stopped improving for `patience` epochs.

    An epoch improves when its value beats the best so far by more than
    `min_delta` (lower is better in "min" mode, higher in "max" mode).

        stopper = EarlyStopping(patience=3)
        for epoch in range(100):
            if stopper.update(val_loss):
                save_best_weights()
            if stopper.should_stop:
                break
    """

    patience: int = 3
    min_delta: float = 0.0
    mode: Literal["min", "max"] = "min"
    best: float = field(init=False)
    best_epoch: int = field(default=-1, init=False)
    epochs_seen: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.patience < 1:
            raise ValueError(f"patience must be >= 1, got {self.patience}")
        if self.min_delta < 0:
            raise ValueError(f"min_delta must be >= 0, got {self.min_delta}")
        self.best = math.inf if self.mode == "min" else -math.inf

    def update(self, value: float) -> bool:
        """Records one epoch's value; True when it is the new best."""
        epoch = self.epochs_seen
        self.epochs_seen += 1
        if math.isnan(value):
            return False
        gain = (self.best - value) if self.mode == "min" else (value - self.best)
        if gain > self.min_delta or self.best_epoch < 0:
            self.best, self.best_epoch = value, epoch
            return True
        return False

    @property
    def should_stop(self) -> bool:
        """Whether `patience` epochs have passed without an improvement."""
        return self.epochs_seen - 1 - self.best_epoch >= self.patience
