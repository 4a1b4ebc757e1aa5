"""Python client of the hyperdial tuning service.

from hyperdial.client import Client, float_param, int_param

with Client("127.0.0.1:50051") as client:
    study = client.create_study("demo", [float_param("x", -5, 5)], max_trials=20)
    while (trial := study.next_trial()) is not None:
        with trial:
            trial.complete((trial.params["x"] - 1) ** 2)
"""

from __future__ import annotations

from hyperdial.client.client import Client
from hyperdial.client.errors import (
    AbortedError,
    AlreadyExistsError,
    DeadlineExceededError,
    FailedPreconditionError,
    HyperdialError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    ResourceExhaustedError,
    UnauthenticatedError,
    UnavailableError,
)
from hyperdial.client.params import (
    categorical,
    condition,
    float_param,
    hyperband,
    int_param,
    median_stopping,
    model_stopping,
    outcome_constraint,
    step_budget,
    successive_halving,
)
from hyperdial.client.study import Study, default_worker_id
from hyperdial.client.trial import Trial, TrialPruned
from hyperdial.client.views import ParetoFront, Recommendation, StudyInfo

__all__ = [
    "AbortedError",
    "AlreadyExistsError",
    "Client",
    "DeadlineExceededError",
    "FailedPreconditionError",
    "HyperdialError",
    "InternalError",
    "InvalidArgumentError",
    "NotFoundError",
    "ParetoFront",
    "Recommendation",
    "ResourceExhaustedError",
    "Study",
    "StudyInfo",
    "Trial",
    "TrialPruned",
    "UnauthenticatedError",
    "UnavailableError",
    "categorical",
    "condition",
    "default_worker_id",
    "float_param",
    "hyperband",
    "int_param",
    "median_stopping",
    "model_stopping",
    "outcome_constraint",
    "step_budget",
    "successive_halving",
]
