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
    from hyperdial.client.study import Trial


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


def created_time(message: pb.Study) -> datetime:
    """When the study was created, as an aware datetime."""
    return message.create_time.ToDatetime(tzinfo=UTC)
