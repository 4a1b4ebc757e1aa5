"""Builders for a study's search space.

space = [
    float_param("learning_rate", 1e-4, 1e-1, log=True),
    int_param("hidden_layers", 1, 4),
    int_param("units_3", 16, 256, log=True, when=condition("hidden_layers", min=3)),
    categorical("optimizer", ["adam", "sgd"]),
]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TypeAlias

from hyperdial.v1 import hyperdial_pb2 as pb

ParamValue: TypeAlias = float | int | str
OptionValue: TypeAlias = float | int | str | bool
# Hyperband brackets the server accepts (`SuccessiveHalving.brackets`).
MAX_BRACKETS = 8


def to_value(value: OptionValue) -> pb.Value:
    """Wraps a Python scalar in a typed Value (bool is checked before int)."""
    if isinstance(value, bool):
        return pb.Value(bool_value=value)
    if isinstance(value, int):
        return pb.Value(int_value=value)
    if isinstance(value, float):
        return pb.Value(double_value=value)
    if isinstance(value, str):
        return pb.Value(string_value=value)
    raise TypeError(f"expected a float, int, str or bool, got {type(value).__name__}")


def from_value(value: pb.Value) -> OptionValue:
    """The Python scalar inside a Value."""
    kind = value.WhichOneof("kind")
    if kind is None:
        raise ValueError("Value has nothing set")
    scalar: OptionValue = getattr(value, kind)
    return scalar


def values_to_proto(assignment: Mapping[str, ParamValue]) -> dict[str, pb.Value]:
    """A configuration's values in the API's form (a trial's `parameters`)."""
    return {name: to_value(value) for name, value in assignment.items()}


def values_from_proto(parameters: Mapping[str, pb.Value]) -> dict[str, ParamValue]:
    """A configuration from the API's form: numbers and strings (parameters are never bools)."""
    values: dict[str, ParamValue] = {}
    for name, value in parameters.items():
        scalar = from_value(value)
        assert not isinstance(scalar, bool)
        values[name] = scalar
    return values


def condition(
    parent: str,
    *,
    values: Sequence[ParamValue] = (),
    min: float | None = None,
    max: float | None = None,
) -> pb.Condition:
    """Active only when `parent` is one of `values` and/or within [min, max]."""
    return pb.Condition(parent=parent, values=[to_value(v) for v in values], min=min, max=max)


def float_param(
    name: str,
    low: float,
    high: float,
    *,
    log: bool = False,
    when: pb.Condition | None = None,
    grid: Iterable[float] = (),
    grid_points: int = 0,
) -> pb.Parameter:
    """A real parameter in [low, high]."""
    return pb.Parameter(
        name=name,
        float_range=pb.FloatRange(low=low, high=high, log=log),
        condition=when,
        grid_values=[to_value(float(v)) for v in grid],
        grid_points=grid_points,
    )


def int_param(
    name: str,
    low: int,
    high: int,
    *,
    log: bool = False,
    when: pb.Condition | None = None,
    grid: Iterable[int] = (),
    grid_points: int = 0,
) -> pb.Parameter:
    """An integer parameter in [low, high]."""
    return pb.Parameter(
        name=name,
        int_range=pb.IntRange(low=low, high=high, log=log),
        condition=when,
        grid_values=[to_value(int(v)) for v in grid],
        grid_points=grid_points,
    )


def categorical(
    name: str,
    choices: Sequence[str],
    *,
    when: pb.Condition | None = None,
    grid: Iterable[str] = (),
) -> pb.Parameter:
    """An unordered choice among strings."""
    return pb.Parameter(
        name=name,
        categorical=pb.Categorical(choices=list(choices)),
        condition=when,
        grid_values=[to_value(v) for v in grid],
    )


def median_stopping(min_trials: int = 5, warmup_steps: int = 0) -> pb.StoppingRule:
    """Stop trials whose best value so far is worse than the median of the others' at a step."""
    return pb.StoppingRule(
        median=pb.MedianStopping(min_trials=min_trials, warmup_steps=warmup_steps)
    )


def successive_halving(
    min_step: int = 1, reduction_factor: int = 3, min_trials: int = 0, brackets: int = 1
) -> pb.StoppingRule:
    """Keep the best 1/reduction_factor of trials at steps min_step * factor**k (ASHA).

    With `brackets` above 1, asynchronous Hyperband: see `hyperband`.
    """
    return pb.StoppingRule(
        successive_halving=pb.SuccessiveHalving(
            min_step=min_step,
            reduction_factor=reduction_factor,
            min_trials=min_trials,
            brackets=brackets,
        )
    )


def hyperband(max_step: int, min_step: int = 1, reduction_factor: int = 3) -> pb.StoppingRule:
    """Successive halving in Hyperband's brackets, as many as fit below `max_step`.

    Bracket b starts judging at min_step * factor**b, and each trial is judged
    only among its bracket's, so a share of the trials is compared only late:
    the hedge against stopping slow starters that aggressive halving makes.
    Optuna's HyperbandPruner counts its brackets the same way.
    """
    if max_step < min_step or min_step < 1:
        raise ValueError(f"need 1 <= min_step <= max_step, got {min_step} and {max_step}")
    if reduction_factor < 2:
        raise ValueError(f"reduction_factor must be >= 2, got {reduction_factor}")
    brackets = 1
    while min_step * reduction_factor**brackets <= max_step:
        brackets += 1
    return successive_halving(min_step, reduction_factor, brackets=min(brackets, MAX_BRACKETS))


def model_stopping(
    min_probability: float = 0.05, min_trials: int = 5, warmup_steps: int = 0
) -> pb.StoppingRule:
    """Stop trials that the completed trials' curves say will not beat the best one.

    From the completed trials' (value at the step, final value) pairs, a
    trial's value now predicts its final value; it stops once the chance that
    this beats the best is below `min_probability`.
    """
    return pb.StoppingRule(
        model=pb.ModelStopping(
            min_probability=min_probability, min_trials=min_trials, warmup_steps=warmup_steps
        )
    )


def step_budget(max_steps: int, total_steps: int = 0, min_steps: int = 0) -> pb.Fidelity:
    """Steps (e.g. epochs) as a budget: at most `max_steps` per trial, `total_steps` in all.

    Each trial gets `Trial.step_budget`; with `total_steps`, the study ends
    once fewer than `min_steps` (0: `max_steps`) are left, counting the steps
    granted to running trials, so it never trains past its budget.
    """
    return pb.Fidelity(max_steps=max_steps, total_steps=total_steps, min_steps=min_steps)


def outcome_constraint(
    metric: str, *, max: float | None = None, min: float | None = None
) -> pb.OutcomeConstraint:
    """A limit on a reported metric, e.g. `outcome_constraint("param_count", max=50_000)`."""
    if max is None and min is None:
        raise ValueError("outcome_constraint needs max, min or both")
    return pb.OutcomeConstraint(metric=metric, upper_bound=max, lower_bound=min)


def options_to_proto(options: Mapping[str, OptionValue]) -> dict[str, pb.Value]:
    """Algorithm options as typed Values."""
    return {name: to_value(value) for name, value in options.items()}
