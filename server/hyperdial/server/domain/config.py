"""A study's config: objectives, constraints, algorithm, stopping, budgets; its JSON form.

The API's defaults live here too (an unset field of the request is 0 or
empty), so the protobuf conversion only converts.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from hyperdial.server.domain.fidelity import Fidelity
from hyperdial.server.errors import InvalidArgument, shown
from hyperdial.server.space import SearchSpace
from hyperdial.server.space.serialized import space_from_data, space_to_data

OptionValue: TypeAlias = float | int | str | bool
DEFAULT_LEASE_SECONDS = 600.0
DEFAULT_MAX_REISSUES = 3
MAX_RETRIES = 100
# The API's max_reissues: 0 asks for the default, this for never.
NEVER_REISSUE = -1
DEFAULT_ALGORITHM = "random"
DEFAULT_MEDIAN_MIN_TRIALS = 5
# Hyperband brackets beyond this judge only at steps no study reaches.
MAX_BRACKETS = 8
DEFAULT_REDUCTION_FACTOR = 3
DEFAULT_MIN_PROBABILITY = 0.05
# What Observe accepts: a study must not need more, or longer, metrics than that.
MAX_METRICS = 100
MAX_METRIC_NAME = 128


def max_reissues_from_api(number: int) -> int:
    """The count the domain stores for the API's `max_reissues` (0: default, -1: never)."""
    if number == 0:
        return DEFAULT_MAX_REISSUES
    return 0 if number == NEVER_REISSUE else number


def lease_seconds_from_api(seconds: float) -> float:
    """The API's `lease_seconds`: 0 is the default."""
    return seconds or DEFAULT_LEASE_SECONDS


def _check_metric_name(name: str) -> None:
    if len(name) > MAX_METRIC_NAME:
        raise InvalidArgument(
            "metric", f"must be at most {MAX_METRIC_NAME} characters, got {len(name)}"
        )


class Goal(enum.Enum):
    """Direction of the objective."""

    MINIMIZE = "MINIMIZE"
    MAXIMIZE = "MAXIMIZE"


@dataclass(frozen=True)
class Objective:
    """A metric a study optimizes and in which direction.

    With several objectives, `reference` is the hypervolume's reference: the
    worst value still worth having (None: inferred from the observations).
    """

    metric: str
    goal: Goal
    reference: float | None = None

    def __post_init__(self) -> None:
        _check_metric_name(self.metric)

    @property
    def maximize(self) -> bool:
        """Whether larger values are better."""
        return self.goal is Goal.MAXIMIZE

    def to_dict(self) -> dict[str, Any]:
        """The stored JSON form."""
        data: dict[str, Any] = {"metric": self.metric, "goal": self.goal.value}
        if self.reference is not None:
            data["reference"] = self.reference
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Objective:
        """Inverse of `to_dict`."""
        return cls(data["metric"], Goal(data["goal"]), data.get("reference"))


@dataclass(frozen=True)
class OutcomeConstraint:
    """A limit on a reported metric: lower <= value <= upper (either bound may be None)."""

    metric: str
    lower: float | None = None
    upper: float | None = None

    def __post_init__(self) -> None:
        if not self.metric:
            raise InvalidArgument("metric", "must name the constrained metric")
        _check_metric_name(self.metric)
        if self.lower is None and self.upper is None:
            raise InvalidArgument("upper_bound", "set upper_bound, lower_bound or both")
        for name, bound in (("lower_bound", self.lower), ("upper_bound", self.upper)):
            if bound is not None and not math.isfinite(bound):
                raise InvalidArgument(name, f"must be finite, got {bound}")
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            raise InvalidArgument(
                "lower_bound", f"must be <= upper_bound ({self.upper}), got {self.lower}"
            )

    def slacks(self, value: float) -> tuple[float, ...]:
        """How far `value` is beyond each bound: <= 0 where the bound holds."""
        slacks = []
        if self.lower is not None:
            slacks.append(self.lower - value)
        if self.upper is not None:
            slacks.append(value - self.upper)
        return tuple(slacks)

    def holds(self, value: float) -> bool:
        """Whether `value` is within the bounds."""
        return all(slack <= 0 for slack in self.slacks(value))

    def to_dict(self) -> dict[str, Any]:
        """The stored JSON form (the constructor's keyword arguments)."""
        return {"metric": self.metric, "lower": self.lower, "upper": self.upper}


@dataclass(frozen=True)
class AlgorithmConfig:
    """Algorithm name and its options (validated by the algorithm registry)."""

    name: str = DEFAULT_ALGORITHM
    options: Mapping[str, OptionValue] = field(default_factory=dict)

    @classmethod
    def named(cls, name: str, options: Mapping[str, OptionValue]) -> AlgorithmConfig:
        """The API's form: an empty name is the default algorithm."""
        return cls(name or DEFAULT_ALGORITHM, options)

    def __hash__(self) -> int:
        return hash((self.name, tuple(sorted(self.options.items()))))


@dataclass(frozen=True)
class StoppingConfig:
    """Server-side early stopping: `rule` is "median", "successive_halving" or "model"."""

    rule: str
    min_trials: int = DEFAULT_MEDIAN_MIN_TRIALS
    warmup_steps: int = 0
    min_step: int = 1
    reduction_factor: int = DEFAULT_REDUCTION_FACTOR
    min_probability: float = DEFAULT_MIN_PROBABILITY
    # Successive halving's Hyperband brackets (1: plain successive halving).
    brackets: int = 1

    @classmethod
    def median(cls, min_trials: int, warmup_steps: int) -> StoppingConfig:
        """The API's median rule: a 0 `min_trials` is the default."""
        return cls(
            "median",
            min_trials=min_trials or DEFAULT_MEDIAN_MIN_TRIALS,
            warmup_steps=warmup_steps,
        )

    @classmethod
    def successive_halving(
        cls, min_step: int, reduction_factor: int, min_trials: int, brackets: int = 0
    ) -> StoppingConfig:
        """The API's successive halving: each 0 is its default (`min_trials`: the factor)."""
        factor = reduction_factor or DEFAULT_REDUCTION_FACTOR
        return cls(
            "successive_halving",
            min_trials=min_trials or factor,
            min_step=min_step or 1,
            reduction_factor=factor,
            brackets=brackets or 1,
        )

    @classmethod
    def model(cls, min_probability: float, min_trials: int, warmup_steps: int) -> StoppingConfig:
        """The API's model-based rule: each 0 is its default."""
        return cls(
            "model",
            min_trials=min_trials or DEFAULT_MEDIAN_MIN_TRIALS,
            warmup_steps=warmup_steps,
            min_probability=min_probability or DEFAULT_MIN_PROBABILITY,
        )

    def __post_init__(self) -> None:
        if self.rule not in ("median", "successive_halving", "model"):
            raise InvalidArgument("stopping", "set median, successive_halving or model")
        if self.rule == "model":
            self._check_model()
        if self.min_trials < 1:
            raise InvalidArgument("stopping.min_trials", f"must be >= 1, got {self.min_trials}")
        if self.warmup_steps < 0:
            raise InvalidArgument(
                "stopping.median.warmup_steps", f"must be >= 0, got {self.warmup_steps}"
            )
        if self.min_step < 1:
            raise InvalidArgument(
                "stopping.successive_halving.min_step", f"must be >= 1, got {self.min_step}"
            )
        if self.reduction_factor < 2:
            raise InvalidArgument(
                "stopping.successive_halving.reduction_factor",
                f"must be >= 2, got {self.reduction_factor}",
            )
        if not 1 <= self.brackets <= MAX_BRACKETS:
            raise InvalidArgument(
                "stopping.successive_halving.brackets",
                f"must be in [0, {MAX_BRACKETS}], got {self.brackets}",
            )

    def _check_model(self) -> None:
        if not 0 < self.min_probability < 0.5:  # also refuses NaN
            raise InvalidArgument(
                "stopping.model.min_probability",
                f"must be in (0, 0.5), got {self.min_probability}",
            )
        if self.min_trials < 3:  # a line through two points has no spread to judge by
            raise InvalidArgument(
                "stopping.model.min_trials", f"must be >= 3, got {self.min_trials}"
            )
        if self.warmup_steps < 0:
            raise InvalidArgument(
                "stopping.model.warmup_steps", f"must be >= 0, got {self.warmup_steps}"
            )


@dataclass(frozen=True)
class StudyConfig:
    """Everything that defines a study; immutable once the study exists."""

    space: SearchSpace
    objectives: tuple[Objective, ...]
    algorithm: AlgorithmConfig = AlgorithmConfig()
    max_trials: int = 0
    seed: int = 0
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    max_reissues: int = DEFAULT_MAX_REISSUES
    stopping: StoppingConfig | None = None
    constraints: tuple[OutcomeConstraint, ...] = ()
    # How many times a FAILED configuration is handed out again (worker-stopped ones free).
    max_retries: int = 0
    # Steps (e.g. epochs) as a budget: each trial's step_budget and the study's total.
    fidelity: Fidelity | None = None

    def __post_init__(self) -> None:
        if not self.objectives:
            raise InvalidArgument("objective", "a study needs an objective")
        if len(self.objectives) > 1:
            names = [o.metric for o in self.objectives]
            for i, name in enumerate(names):
                if not name:
                    raise InvalidArgument(
                        f"objectives[{i}].metric", "several objectives must each name a metric"
                    )
                if name in names[:i]:
                    raise InvalidArgument(
                        f"objectives[{i}].metric", f"{shown(name)} appears twice"
                    )
        if len(self.required_metrics()) > MAX_METRICS:
            raise InvalidArgument(
                "constraints",
                f"objectives and constraints name {len(self.required_metrics())} metrics; a "
                f"trial reports at most {MAX_METRICS}",
            )
        if not 0 <= self.max_reissues <= 1000:
            raise InvalidArgument(
                "max_reissues", f"must be -1 (never) or 0..1000, got {self.max_reissues}"
            )
        if self.max_trials < 0:
            raise InvalidArgument("max_trials", f"must be >= 0, got {self.max_trials}")
        if not 0 <= self.max_retries <= MAX_RETRIES:
            raise InvalidArgument(
                "max_retries", f"must be 0..{MAX_RETRIES}, got {self.max_retries}"
            )
        if not 0 <= self.seed < 2**63:
            raise InvalidArgument("seed", f"must be in [0, 2**63), got {self.seed}")
        if not (math.isfinite(self.lease_seconds) and 1 <= self.lease_seconds <= 7 * 86400):
            raise InvalidArgument(
                "lease_seconds", f"must be between 1 s and 7 days, got {self.lease_seconds}"
            )

    @property
    def api_max_reissues(self) -> int:
        """`max_reissues` as the API spells it: never is NEVER_REISSUE, not 0."""
        return self.max_reissues if self.max_reissues else NEVER_REISSUE

    @property
    def objective(self) -> Objective:
        """The (first) objective: the one a single-objective study ranks trials by."""
        return self.objectives[0]

    @property
    def multi_objective(self) -> bool:
        """Whether the study looks for a Pareto front of several objectives."""
        return len(self.objectives) > 1

    def budget_spent(self, budget_used: int) -> bool:
        """Whether `budget_used` trials exhaust the trial budget (never without one)."""
        return bool(self.max_trials) and budget_used >= self.max_trials

    def required_metrics(self) -> tuple[str, ...]:
        """Metrics every completed trial must report, in objective then constraint order."""
        names = [o.metric for o in self.objectives if o.metric]
        return tuple(dict.fromkeys(names + [c.metric for c in self.constraints]))

    def objective_values(self, metrics: Mapping[str, float]) -> tuple[float, ...]:
        """The objectives' values, in declared order, from a completed trial's metrics."""
        return tuple(metrics[o.metric] for o in self.objectives)

    def constraint_slacks(self, metrics: Mapping[str, float]) -> tuple[float, ...]:
        """Every bound's slack (<= 0 where it holds), in declared order."""
        return tuple(s for c in self.constraints for s in c.slacks(metrics[c.metric]))

    def feasible(self, metrics: Mapping[str, float]) -> bool:
        """Whether a completed trial's metrics meet every outcome constraint."""
        return all(c.holds(metrics[c.metric]) for c in self.constraints)

    def to_json(self) -> str:
        """Canonical JSON, stored in the database and compared for idempotent creation.

        Single-objective, unconstrained configs keep the form they had before
        objectives and constraints were added, so stored studies still match.
        """
        data: dict[str, Any] = {
            "params": space_to_data(self.space),
            "objective": self.objective.to_dict(),
            "algorithm": {
                "name": self.algorithm.name,
                "options": dict(self.algorithm.options),
            },
            "max_trials": self.max_trials,
            "seed": self.seed,
            "lease_seconds": self.lease_seconds,
            "max_reissues": self.max_reissues,
            "stopping": None if self.stopping is None else self.stopping.__dict__,
        }
        if self.multi_objective:
            data["objectives"] = [o.to_dict() for o in self.objectives]
        if self.constraints:
            data["constraints"] = [c.to_dict() for c in self.constraints]
        if self.max_retries:
            data["max_retries"] = self.max_retries
        if self.fidelity is not None:
            data["fidelity"] = self.fidelity.to_dict()
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> StudyConfig:
        """Inverse of `to_json`."""
        data = json.loads(text)
        return cls(
            space=space_from_data(data["params"]),
            objectives=tuple(
                Objective.from_dict(o) for o in data.get("objectives", [data["objective"]])
            ),
            algorithm=AlgorithmConfig(data["algorithm"]["name"], data["algorithm"]["options"]),
            max_trials=data["max_trials"],
            seed=data["seed"],
            lease_seconds=data["lease_seconds"],
            max_reissues=data["max_reissues"],
            stopping=None if data["stopping"] is None else StoppingConfig(**data["stopping"]),
            constraints=tuple(OutcomeConstraint(**c) for c in data.get("constraints", [])),
            max_retries=data.get("max_retries", 0),
            fidelity=Fidelity.from_dict(data["fidelity"]) if "fidelity" in data else None,
        )
