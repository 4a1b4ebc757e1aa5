"""What the study page draws, as JSON: axes, history, curves, rows for parallel and slice plots.

The page draws with ECharts; this module only chooses and shapes the data,
so every number a chart shows can be checked against the API.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hyperdial.client.params import ParamValue, values_from_proto
from hyperdial.client.study import Study
from hyperdial.client.tools.plot_axes import Axis, importances
from hyperdial.client.trial import Trial
from hyperdial.v1 import hyperdial_pb2 as pb

# Curves drawn at most: the best completed trials and the most recent ones. Ten thousand
# curves would hide each other and take seconds to draw.
BEST_CURVES = 100
RECENT_CURVES = 300


def axes(config: pb.StudyConfig) -> list[dict[str, Any]]:
    """Each parameter as the page draws it: kind, range, scale, choices, whether conditional."""
    shown = []
    for parameter in config.parameters:
        kind = parameter.WhichOneof("domain")
        axis: dict[str, Any] = {
            "name": parameter.name,
            "kind": {"float_range": "float", "int_range": "int"}.get(kind or "", "categorical"),
            "conditional": parameter.HasField("condition"),
        }
        if kind == "categorical":
            axis["choices"] = list(parameter.categorical.choices)
        elif kind is not None:
            domain = getattr(parameter, kind)
            axis.update(low=domain.low, high=domain.high, log=domain.log)
        shown.append(axis)
    return shown


def objectives(config: pb.StudyConfig) -> list[dict[str, str]]:
    """The study's objectives: metric and goal ("minimize" or "maximize")."""
    listed = list(config.objectives) or [config.objective]
    return [{"metric": o.metric or "value", "goal": pb.Goal.Name(o.goal).lower()} for o in listed]


# A trial's parameter values as JSON scalars, by name.
Assignment = dict[str, ParamValue]


def params(trial: pb.Trial) -> Assignment:
    """A trial's parameter values as JSON scalars."""
    return values_from_proto(trial.parameters)


def _value(trial: pb.Trial) -> float | None:
    return trial.value if trial.HasField("value") else None


def history(trials: Sequence[pb.Trial], maximize: bool) -> list[list[float]]:
    """[id, value, best so far] of each completed trial with a value, by id."""
    points = []
    best: float | None = None
    for trial in trials:
        value = _value(trial)
        if trial.state != pb.COMPLETED or value is None:
            continue
        if not trial.violates_constraints and (
            best is None or (value > best if maximize else value < best)
        ):
            best = value
        points.append([trial.id, value, best if best is not None else value])
    return points


def curves(trials: Sequence[pb.Trial], maximize: bool) -> dict[str, Any]:
    """The learning curves drawn: the best completed trials' and the most recent trials'."""
    with_curves = [t for t in trials if t.measurements]
    done = [t for t in with_curves if t.state == pb.COMPLETED and _value(t) is not None]
    done.sort(key=lambda t: _value(t) or 0.0, reverse=maximize)
    chosen = {t.id: t for t in done[:BEST_CURVES]}
    chosen.update((t.id, t) for t in with_curves[-RECENT_CURVES:])
    return {
        "total": len(with_curves),
        "curves": [
            {
                "id": t.id,
                "state": pb.TrialState.Name(t.state),
                "points": [[m.step, m.value] for m in t.measurements],
            }
            for t in sorted(chosen.values(), key=lambda t: t.id)
        ],
    }


def rows(
    trials: Sequence[pb.Trial], names: Sequence[str], values: Mapping[int, Assignment]
) -> list[list[Any]]:
    """[id, value, violates, *parameter values (None when inactive)] of each completed trial.

    `values` are the trials' parameters by id, as `params` decodes them.
    """
    shown = []
    for trial in trials:
        value = _value(trial)
        if trial.state != pb.COMPLETED or value is None:
            continue
        these = values[trial.id]
        shown.append([trial.id, value, trial.violates_constraints, *(these.get(n) for n in names)])
    return shown


def importance(
    study: Study,
    trials: Sequence[pb.Trial],
    values: Mapping[int, Assignment],
    config: pb.StudyConfig,
) -> dict[str, Any]:
    """Each parameter's share of the value's variance, and how many trials it rests on."""
    done = [
        Trial(study, t.id, values[t.id], t.worker_id, "COMPLETED", t.value)
        for t in trials
        if t.state == pb.COMPLETED and t.HasField("value")
    ]
    shares = importances(done, [Axis.of(p) for p in config.parameters])
    return {"trials": len(done), "shares": shares}


def pareto(front: pb.GetBestTrialsResponse, trials: Sequence[pb.Trial]) -> dict[str, Any]:
    """Every completed trial's objective values, the front's ids and its hypervolume."""
    on_front = [t.id for t in front.trials]
    return {
        "front": on_front,
        "hypervolume": front.hypervolume,
        "reference": list(front.reference_point),
        "points": [
            {"id": t.id, "metrics": dict(t.metrics), "violates": t.violates_constraints}
            for t in trials
            if t.state == pb.COMPLETED
        ],
    }
