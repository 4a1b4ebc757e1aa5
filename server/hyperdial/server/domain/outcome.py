"""A worker's outcome for a trial, and what of it a trial row stores."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from hyperdial.server.domain.config import MAX_METRIC_NAME, MAX_METRICS, StudyConfig
from hyperdial.server.domain.trial import Trial, TrialState
from hyperdial.server.errors import InvalidArgument

MAX_REASON_LENGTH = 4096


@dataclass(frozen=True)
class Outcome:
    """What a worker reports at the end of a trial.

    A completed trial has its value (one objective), named metrics, or both.
    """

    state: TrialState
    value: float | None = None
    reason: str = ""
    metrics: Mapping[str, float] = field(default_factory=dict)
    # A failure because the worker was stopped: with retries on, it does not count as one.
    worker_stopped: bool = False

    def __post_init__(self) -> None:
        if self.state is TrialState.COMPLETED:
            if self.value is None and not self.metrics:
                raise InvalidArgument("value", "a completed trial needs a value or metrics")
            if self.value is not None and not math.isfinite(self.value):
                raise InvalidArgument("value", f"must be a finite number, got {self.value}")
        elif self.state not in (TrialState.FAILED, TrialState.INFEASIBLE, TrialState.PRUNED):
            raise InvalidArgument("outcome", f"cannot observe a trial as {self.state.value}")
        if len(self.reason) > MAX_REASON_LENGTH:
            raise InvalidArgument("reason", f"must be at most {MAX_REASON_LENGTH} characters")
        if len(self.metrics) > MAX_METRICS:
            raise InvalidArgument("metrics", f"at most {MAX_METRICS} metrics per trial")
        for name, number in self.metrics.items():
            if not 1 <= len(name) <= MAX_METRIC_NAME:
                raise InvalidArgument("metrics", f"names are 1..{MAX_METRIC_NAME} characters")
            if not math.isfinite(number):
                raise InvalidArgument(f"metrics.{name}", f"must be a finite number, got {number}")

    def resolve(self, config: StudyConfig) -> Resolved:
        """The value, metrics and feasibility to store for a study with `config`.

        A completed trial must report every objective and constrained metric;
        a single objective may come as `value` (then also kept under its
        metric name).
        """
        metrics = dict(self.metrics)
        if self.state is not TrialState.COMPLETED:
            return Resolved(None, metrics, feasible=True)
        objective = config.objective
        if config.multi_objective and self.value is not None:
            raise InvalidArgument(
                "value", "a study with several objectives takes their values in metrics"
            )
        if self.value is not None and objective.metric:
            reported = metrics.setdefault(objective.metric, self.value)
            if reported != self.value:
                raise InvalidArgument(
                    "value", f"differs from metrics.{objective.metric} ({reported})"
                )
        for name in config.required_metrics():
            if name not in metrics:
                raise InvalidArgument(
                    f"metrics.{name}", "missing: the study's objectives or constraints need it"
                )
        if self.value is None and not objective.metric:
            raise InvalidArgument("value", "the study's objective has no metric name: set value")
        value = self.value if self.value is not None else metrics[objective.metric]
        return Resolved(value, metrics, feasible=config.feasible(metrics))

    def matches(self, trial: Trial) -> bool:
        """Whether `trial` already ended with this outcome (a harmless repeat)."""
        if trial.state is not self.state:
            return False
        if self.value is not None and trial.value != self.value:
            return False
        return all(trial.metrics.get(k) == v for k, v in self.metrics.items())


@dataclass(frozen=True)
class Resolved:
    """An outcome checked against its study: what the trial row stores."""

    value: float | None
    metrics: dict[str, float]
    feasible: bool
