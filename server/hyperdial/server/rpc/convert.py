"""Protobuf <-> domain conversion (cf. Flower's `serde.py`).

Incoming messages are checked for shape here (a oneof left empty, an enum
left unspecified); the domain constructors check the values. Every error
names the field as the request spells it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from google.protobuf.timestamp_pb2 import Timestamp

from hyperdial.server.domain import (
    AlgorithmConfig,
    Fidelity,
    Goal,
    Objective,
    OptionValue,
    OutcomeConstraint,
    StoppingConfig,
    Study,
    StudyConfig,
    Suggested,
    Trial,
    TrialState,
    lease_seconds_from_api,
    max_reissues_from_api,
)
from hyperdial.server.errors import InvalidArgument
from hyperdial.server.service.recommendations import Recommended, Rule
from hyperdial.server.space import (
    CategoricalParam,
    Condition,
    FloatParam,
    IntParam,
    Param,
    ParamValue,
    SearchSpace,
)
from hyperdial.v1 import hyperdial_pb2 as pb

_GOALS = {pb.MINIMIZE: Goal.MINIMIZE, pb.MAXIMIZE: Goal.MAXIMIZE}
_GOALS_PB = {goal: number for number, goal in _GOALS.items()}
# The API's trial states and the domain's share their names.
_TRIAL_STATES = {pb.TrialState.Value(state.value): state for state in TrialState}
_TRIAL_STATES_PB = {state: number for number, state in _TRIAL_STATES.items()}


def value_from_proto(value: pb.Value, field: str) -> OptionValue:
    """The Python scalar held by a Value; InvalidArgument if none is set."""
    kind = value.WhichOneof("kind")
    if kind is None:
        raise InvalidArgument(field, "no value set")
    scalar: OptionValue = getattr(value, kind)
    return scalar


def value_to_proto(value: OptionValue) -> pb.Value:
    """A Value holding `value` (bool before int: bool is an int in Python)."""
    if isinstance(value, bool):
        return pb.Value(bool_value=value)
    if isinstance(value, int):
        return pb.Value(int_value=value)
    if isinstance(value, float):
        return pb.Value(double_value=value)
    return pb.Value(string_value=value)


def param_value_from_proto(value: pb.Value, field: str) -> ParamValue:
    """A parameter's value: a number or a string."""
    scalar = value_from_proto(value, field)
    if isinstance(scalar, bool):
        raise InvalidArgument(field, "parameter values are numbers or strings, not bools")
    return scalar


def _condition(message: pb.Condition, field: str) -> Condition | None:
    if message == pb.Condition():
        return None
    try:
        return Condition(
            parent=message.parent,
            values=tuple(
                param_value_from_proto(v, f"values[{j}]") for j, v in enumerate(message.values)
            ),
            min=message.min if message.HasField("min") else None,
            max=message.max if message.HasField("max") else None,
        )
    except InvalidArgument as error:
        raise error.within(field) from None


def _param(message: pb.Parameter) -> Param:
    condition = _condition(message.condition, "condition")
    grid = [
        param_value_from_proto(v, f"grid_values[{j}]") for j, v in enumerate(message.grid_values)
    ]
    kind = message.WhichOneof("domain")
    if kind == "float_range":
        for j, value in enumerate(grid):
            if isinstance(value, str):
                raise InvalidArgument(f"grid_values[{j}]", "must be a number")
        r = message.float_range
        floats = tuple(float(v) for v in grid)
        return FloatParam(
            message.name, r.low, r.high, r.log, condition, floats, message.grid_points
        )
    if kind == "int_range":
        for j, value in enumerate(grid):
            if not isinstance(value, int):
                raise InvalidArgument(f"grid_values[{j}]", "must be an int_value")
        i = message.int_range
        ints = tuple(int(v) for v in grid)
        return IntParam(message.name, i.low, i.high, i.log, condition, ints, message.grid_points)
    if kind == "categorical":
        for j, value in enumerate(grid):
            if not isinstance(value, str):
                raise InvalidArgument(f"grid_values[{j}]", "must be a string_value")
        strings = tuple(str(v) for v in grid)
        return CategoricalParam(
            message.name, tuple(message.categorical.choices), condition, strings
        )
    raise InvalidArgument("domain", "set one of float_range, int_range or categorical")


def _stopping(message: pb.StudyConfig) -> StoppingConfig | None:
    if not message.HasField("stopping"):
        return None
    kind = message.stopping.WhichOneof("rule")
    if kind == "median":
        median = message.stopping.median
        return StoppingConfig.median(median.min_trials, median.warmup_steps)
    if kind == "successive_halving":
        halving = message.stopping.successive_halving
        return StoppingConfig.successive_halving(
            halving.min_step, halving.reduction_factor, halving.min_trials, halving.brackets
        )
    if kind == "model":
        model = message.stopping.model
        return StoppingConfig.model(model.min_probability, model.min_trials, model.warmup_steps)
    raise InvalidArgument("stopping", "set median, successive_halving or model")


def _stopping_to_proto(config: StoppingConfig | None) -> pb.StoppingRule | None:
    if config is None:
        return None
    if config.rule == "median":
        median = pb.MedianStopping(min_trials=config.min_trials, warmup_steps=config.warmup_steps)
        return pb.StoppingRule(median=median)
    if config.rule == "model":
        model = pb.ModelStopping(
            min_probability=config.min_probability,
            min_trials=config.min_trials,
            warmup_steps=config.warmup_steps,
        )
        return pb.StoppingRule(model=model)
    halving = pb.SuccessiveHalving(
        min_step=config.min_step,
        reduction_factor=config.reduction_factor,
        min_trials=config.min_trials,
        brackets=config.brackets,
    )
    return pb.StoppingRule(successive_halving=halving)


def study_config_from_proto(message: pb.StudyConfig) -> StudyConfig:
    """A validated StudyConfig; errors name `config.…` fields."""
    try:
        params = []
        for i, param in enumerate(message.parameters):
            try:
                params.append(_param(param))
            except InvalidArgument as error:
                raise error.within(f"parameters[{i}]") from None
        space = SearchSpace(tuple(params))
        options = {
            name: value_from_proto(value, f"algorithm.options.{name}")
            for name, value in message.algorithm.options.items()
        }
        return StudyConfig(
            space=space,
            objectives=_objectives(message),
            algorithm=AlgorithmConfig.named(message.algorithm.name, options),
            max_trials=message.max_trials,
            seed=message.seed,
            lease_seconds=lease_seconds_from_api(message.lease_seconds),
            max_reissues=max_reissues_from_api(message.max_reissues),
            stopping=_stopping(message),
            constraints=tuple(_constraint(c, i) for i, c in enumerate(message.constraints)),
            max_retries=message.max_retries,
            fidelity=Fidelity(
                message.fidelity.max_steps,
                message.fidelity.total_steps,
                message.fidelity.min_steps,
            )
            if message.HasField("fidelity")
            else None,
        )
    except InvalidArgument as error:
        raise error.within("config") from None


def _objective(message: pb.Objective, field: str) -> Objective:
    goal = _GOALS.get(message.goal)
    if goal is None:
        raise InvalidArgument(f"{field}.goal", "must be MINIMIZE or MAXIMIZE")
    reference = message.reference_value if message.HasField("reference_value") else None
    if reference is not None and not math.isfinite(reference):
        raise InvalidArgument(f"{field}.reference_value", f"must be finite, got {reference}")
    try:
        return Objective(message.metric, goal, reference)
    except InvalidArgument as error:
        raise error.within(field) from None


def _objectives(message: pb.StudyConfig) -> tuple[Objective, ...]:
    if not message.objectives:
        return (_objective(message.objective, "objective"),)
    if message.HasField("objective"):
        raise InvalidArgument("objective", "set objective or objectives, not both")
    if len(message.objectives) < 2:
        raise InvalidArgument("objectives", "list two or more; a single one goes in objective")
    return tuple(_objective(o, f"objectives[{i}]") for i, o in enumerate(message.objectives))


def _constraint(message: pb.OutcomeConstraint, index: int) -> OutcomeConstraint:
    try:
        return OutcomeConstraint(
            message.metric,
            message.lower_bound if message.HasField("lower_bound") else None,
            message.upper_bound if message.HasField("upper_bound") else None,
        )
    except InvalidArgument as error:
        raise error.within(f"constraints[{index}]") from None


def _objective_to_proto(objective: Objective) -> pb.Objective:
    return pb.Objective(
        metric=objective.metric,
        goal=_GOALS_PB[objective.goal],
        reference_value=objective.reference,
    )


def timestamp(seconds: float | None) -> Timestamp | None:
    """A Timestamp of epoch seconds (None stays None); cheaper than Timestamp.FromDatetime."""
    if seconds is None:
        return None
    whole = math.floor(seconds)
    return Timestamp(seconds=whole, nanos=int((seconds - whole) * 1e9))


def _param_to_proto(param: Param) -> pb.Parameter:
    message = pb.Parameter(name=param.name, grid_points=param.grid_points)
    if isinstance(param, FloatParam):
        message.float_range.CopyFrom(pb.FloatRange(low=param.low, high=param.high, log=param.log))
    elif isinstance(param, IntParam):
        message.int_range.CopyFrom(pb.IntRange(low=param.low, high=param.high, log=param.log))
    else:
        message.categorical.choices.extend(param.choices)
    message.grid_values.extend(value_to_proto(v) for v in param.grid_values)
    if param.condition is not None:
        cond = param.condition
        message.condition.CopyFrom(
            pb.Condition(
                parent=cond.parent,
                values=[value_to_proto(v) for v in cond.values],
                min=cond.min,
                max=cond.max,
            )
        )
    return message


def study_config_to_proto(config: StudyConfig) -> pb.StudyConfig:
    """The API form of a config."""
    return pb.StudyConfig(
        parameters=[_param_to_proto(p) for p in config.space.params],
        objective=None if config.multi_objective else _objective_to_proto(config.objective),
        objectives=[_objective_to_proto(o) for o in config.objectives]
        if config.multi_objective
        else [],
        constraints=[
            pb.OutcomeConstraint(metric=c.metric, lower_bound=c.lower, upper_bound=c.upper)
            for c in config.constraints
        ],
        algorithm=pb.Algorithm(
            name=config.algorithm.name,
            options={k: value_to_proto(v) for k, v in config.algorithm.options.items()},
        ),
        max_trials=config.max_trials,
        seed=config.seed,
        lease_seconds=config.lease_seconds,
        max_reissues=config.api_max_reissues,
        stopping=_stopping_to_proto(config.stopping),
        max_retries=config.max_retries,
        fidelity=None if config.fidelity is None else pb.Fidelity(**config.fidelity.to_dict()),
    )


def trial_to_proto(trial: Trial) -> pb.Trial:
    """The API form of a trial."""
    return pb.Trial(
        study=trial.study_name,
        id=trial.number,
        state=_TRIAL_STATES_PB[trial.state],
        parameters=_params_to_proto(trial.params),
        worker_id=trial.worker_id,
        value=trial.value,
        reason=trial.reason,
        measurements=[pb.Measurement(step=m.step, value=m.value) for m in trial.measurements],
        create_time=timestamp(trial.created_at),
        finish_time=timestamp(trial.finished_at),
        lease_expire_time=timestamp(trial.lease_expires_at),
        metrics=trial.metrics,
        violates_constraints=trial.violates_constraints,
        step_budget=trial.step_budget,
    )


def _params_to_proto(params: Mapping[str, ParamValue]) -> dict[str, pb.Value]:
    return {name: value_to_proto(value) for name, value in params.items()}


def study_to_proto(study: Study) -> pb.Study:
    """The API form of a study with its progress."""
    return pb.Study(
        name=study.name,
        config=study_config_to_proto(study.config),
        state=pb.ACTIVE if study.state.value == "ACTIVE" else pb.FINISHED,
        trial_counts={state.value: count for state, count in study.trial_counts.items()},
        create_time=timestamp(study.created_at),
        best_trial=trial_to_proto(study.best_trial) if study.best_trial else None,
        paused=study.paused,
        queued_trials=study.queued_trials,
        update_time=timestamp(study.updated_at or study.created_at),
        steps_reported=study.steps_reported,
        steps_reserved=study.steps_reserved,
    )


def suggested_to_proto(suggested: Suggested) -> pb.SuggestResponse:
    """The API form of handed-out trials."""
    return pb.SuggestResponse(
        trials=[trial_to_proto(t) for t in suggested.trials],
        study_finished=suggested.study_finished,
        study_paused=suggested.study_paused,
    )


def trial_states_from_proto(states: list[int]) -> list[TrialState]:
    """States of a ListTrials filter; unknown numbers are refused."""
    result = []
    for i, number in enumerate(states):
        state = _TRIAL_STATES.get(number)  # type: ignore[call-overload]
        if state is None:
            raise InvalidArgument(f"states[{i}]", f"unknown trial state {number}")
        result.append(state)
    return result


def recommendation_to_proto(recommended: Recommended) -> pb.Recommendation:
    """The API form of a recommended trial (the model's numbers by its rule only)."""
    message = pb.Recommendation(
        rule=pb.RecommendationRule.Value(recommended.rule.name),
        trial=trial_to_proto(recommended.trial),
        reason=recommended.reason,
    )
    if recommended.rule is Rule.BEST_POSTERIOR_MEAN:
        message.estimate = recommended.estimate
        message.estimate_sd = recommended.estimate_sd
        message.noise_sd = recommended.noise_sd
        message.trials_modelled = recommended.modelled
    return message
