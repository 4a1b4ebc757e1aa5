"""Trials and studies as the service hands them around: frozen values, times as epoch seconds.

Every layer passes these by value: the store returns new objects, never live
rows, so nothing a caller holds changes under it. Times are seconds since the
epoch (floats) from the store to the RPC layer, which alone turns them into
Timestamps.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from hyperdial.server.domain.config import StudyConfig
from hyperdial.server.space import ParamValue


class StudyState(enum.Enum):
    """ACTIVE hands out trials; FINISHED does not (budget spent or grid exhausted)."""

    ACTIVE = "ACTIVE"
    FINISHED = "FINISHED"


class TrialState(enum.Enum):
    """Lifecycle of a trial; every state but PENDING is final."""

    PENDING = "PENDING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    INFEASIBLE = "INFEASIBLE"
    PRUNED = "PRUNED"
    STALE = "STALE"


@dataclass(frozen=True)
class Measurement:
    """An intermediate value at a step (e.g. the validation loss after an epoch)."""

    step: int
    value: float


@dataclass(frozen=True)
class Trial:
    """One configuration handed out to a worker, and what is known of it."""

    study_name: str
    number: int
    state: TrialState
    params: Mapping[str, ParamValue]
    worker_id: str
    created_at: float
    lease_expires_at: float | None = None
    finished_at: float | None = None
    value: float | None = None
    reason: str = ""
    measurements: tuple[Measurement, ...] = ()
    request_id: str = ""
    metrics: Mapping[str, float] = field(default_factory=dict)
    violates_constraints: bool = False
    stop_requested: bool = False
    # The most steps to train it (StudyConfig.fidelity); 0: no limit.
    step_budget: int = 0


@dataclass(frozen=True)
class Study:
    """A study, its progress and its best trial so far."""

    name: str
    config: StudyConfig
    state: StudyState
    created_at: float
    trial_counts: Mapping[TrialState, int] = field(default_factory=dict)
    best_trial: Trial | None = None
    paused: bool = False
    # Configurations queued (EnqueueTrials) and not yet handed out.
    queued_trials: int = 0
    # When a trial was last handed out or finished (epoch seconds); None without trials.
    updated_at: float | None = None
    # Intermediate values reported over all trials: the budget spent in steps.
    steps_reported: int = 0
    # Steps granted to running trials and not yet reported (StudyConfig.fidelity).
    steps_reserved: int = 0


@dataclass(frozen=True)
class Suggested:
    """Trials handed out, and whether the study hands out no more (or none while paused)."""

    trials: tuple[Trial, ...]
    study_finished: bool
    study_paused: bool = False


@dataclass(frozen=True)
class StudySnapshot:
    """A study's progress in one record, for the gauges read at scrape time."""

    name: str
    algorithm: str
    active: bool
    trial_counts: Mapping[str, int] = field(default_factory=dict)
    best_value: float | None = None
    multi_objective: bool = False
    hypervolume: float | None = None
