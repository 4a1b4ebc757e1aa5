"""The service's vocabulary: study configs, trials and outcomes as frozen values."""

from __future__ import annotations

from hyperdial.server.domain.config import (
    DEFAULT_LEASE_SECONDS,
    DEFAULT_MAX_REISSUES,
    MAX_METRIC_NAME,
    MAX_METRICS,
    AlgorithmConfig,
    Goal,
    Objective,
    OptionValue,
    OutcomeConstraint,
    StoppingConfig,
    StudyConfig,
    lease_seconds_from_api,
    max_reissues_from_api,
)
from hyperdial.server.domain.fidelity import Fidelity
from hyperdial.server.domain.outcome import MAX_REASON_LENGTH, Outcome, Resolved
from hyperdial.server.domain.trial import (
    Measurement,
    Study,
    StudySnapshot,
    StudyState,
    Suggested,
    Trial,
    TrialState,
)

__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "DEFAULT_MAX_REISSUES",
    "MAX_METRICS",
    "MAX_METRIC_NAME",
    "MAX_REASON_LENGTH",
    "AlgorithmConfig",
    "Fidelity",
    "Goal",
    "Measurement",
    "Objective",
    "OptionValue",
    "Outcome",
    "OutcomeConstraint",
    "Resolved",
    "StoppingConfig",
    "Study",
    "StudyConfig",
    "StudySnapshot",
    "StudyState",
    "Suggested",
    "Trial",
    "TrialState",
    "lease_seconds_from_api",
    "max_reissues_from_api",
]
