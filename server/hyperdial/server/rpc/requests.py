"""What requests carry that is not a study's definition: outcomes, imported and queued trials.

Like `convert.py`, it checks shape (a oneof left empty) and names every field
as the request spells it; the domain constructors check the values.
"""

from __future__ import annotations

from hyperdial.server.domain import Outcome, TrialState
from hyperdial.server.errors import InvalidArgument
from hyperdial.server.rpc.convert import param_value_from_proto
from hyperdial.server.space import ParamValue
from hyperdial.v1 import hyperdial_pb2 as pb

_OUTCOME_STATES = {
    "failed": TrialState.FAILED,
    "infeasible": TrialState.INFEASIBLE,
    "pruned": TrialState.PRUNED,
}


def _assignment(message: pb.ImportedTrial | pb.QueuedTrial, where: str) -> dict[str, ParamValue]:
    return {
        name: param_value_from_proto(value, f"{where}.parameters.{name}")
        for name, value in message.parameters.items()
    }


def imported_from_proto(
    request: pb.ImportTrialsRequest,
) -> list[tuple[dict[str, ParamValue], Outcome]]:
    """The trials of an ImportTrialsRequest, each with its parameters and outcome."""
    imported = []
    for i, message in enumerate(request.trials):
        where = f"trials[{i}]"
        params = _assignment(message, where)
        kind = message.WhichOneof("outcome")
        metrics = dict(message.metrics)
        try:
            if kind == "value" or (kind is None and metrics):
                value = message.value if kind == "value" else None
                outcome = Outcome(TrialState.COMPLETED, value=value, metrics=metrics)
            elif kind == "infeasible":
                outcome = Outcome(
                    TrialState.INFEASIBLE, reason=message.infeasible.reason, metrics=metrics
                )
            else:
                raise InvalidArgument("outcome", "set value, metrics or infeasible")
        except InvalidArgument as error:
            raise error.within(where) from None
        imported.append((params, outcome))
    return imported


def outcome_from_proto(request: pb.ObserveRequest) -> Outcome:
    """The outcome of an ObserveRequest: at most one of the oneof, or metrics alone."""
    kind = request.WhichOneof("outcome")
    metrics = dict(request.metrics)
    if kind is None and not metrics:
        raise InvalidArgument("outcome", "set one of value, metrics, failed, infeasible or pruned")
    if kind is None or kind == "value":
        value = request.value if kind == "value" else None
        return Outcome(TrialState.COMPLETED, value=value, metrics=metrics)
    failure: pb.Failure = getattr(request, kind)
    try:
        return Outcome(
            _OUTCOME_STATES[kind],
            reason=failure.reason,
            metrics=metrics,
            worker_stopped=kind == "failed" and failure.worker_stopped,
        )
    except InvalidArgument as error:
        raise error.within(kind) from None


def queued_from_proto(request: pb.EnqueueTrialsRequest) -> list[dict[str, ParamValue]]:
    """The configurations of an EnqueueTrialsRequest, in request order."""
    return [_assignment(message, f"trials[{i}]") for i, message in enumerate(request.trials)]
