"""What the SDK answers with: studies and Pareto fronts as Python values.

A study's `config` stays the API's `StudyConfig` message: the same type the
parameter helpers (`float_param`, ...) build and `create_study` takes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from hyperdial.v1 import hyperdial_pb2 as pb

if TYPE_CHECKING:
    from hyperdial.client.trial import Trial


@dataclass(frozen=True)
class StudyInfo:
    """A study's config and progress as the server saw it."""

    name: str
    state: str  # "ACTIVE" or "FINISHED"
    config: pb.StudyConfig
    created: datetime
    # Trials by state; a state without trials counts 0.
    trial_counts: Counter[str] = field(default_factory=Counter)
    best_trial: Trial | None = None
    # Paused (Study.pause): no new trials until it is resumed.
    paused: bool = False
    # Configurations queued (Study.enqueue) and not yet handed out.
    queued_trials: int = 0
    # When a trial was last handed out or finished (the creation time before any).
    updated: datetime | None = None
    # Intermediate values reported over all trials: the budget spent in steps (epochs).
    steps_reported: int = 0
    # Steps granted to running trials and not yet reported (the study's fidelity).
    steps_reserved: int = 0

    @property
    def finished(self) -> bool:
        """Whether the study hands out no more trials."""
        return self.state == "FINISHED"

    @property
    def multi_objective(self) -> bool:
        """Whether the study looks for a Pareto front."""
        return len(self.config.objectives) > 1


@dataclass(frozen=True)
class ParetoFront:
    """The non-dominated trials, the hypervolume they dominate and its reference point."""

    trials: list[Trial]
    hypervolume: float
    reference_point: list[float]


@dataclass(frozen=True)
class Recommendation:
    """The trial to ship and how it was chosen.

    `rule` is "best_posterior_mean" (the model's pick: `estimate` +- `estimate_sd`
    is its estimate of the trial's true value, beside the observed
    `trial.value`; `noise_sd` how far one evaluation scatters) or
    "best_observed" (`reason` says why the model was not used; the model's
    numbers are then None).
    """

    rule: str
    trial: Trial
    reason: str
    estimate: float | None = None
    estimate_sd: float | None = None
    noise_sd: float | None = None
    trials_modelled: int = 0


def created_time(message: pb.Study) -> datetime:
    """When the study was created, as an aware datetime."""
    return message.create_time.ToDatetime(tzinfo=UTC)
