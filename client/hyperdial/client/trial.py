"""Trial: one configuration a worker evaluates, its reports and its outcome."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING

from hyperdial.client.params import ParamValue, values_from_proto
from hyperdial.v1 import hyperdial_pb2 as pb

if TYPE_CHECKING:
    from hyperdial.client.study import Study


class TrialPruned(Exception):
    """The server said to stop this trial early; `with trial:` ends it as PRUNED."""


@dataclass
class Trial:
    """One configuration to evaluate; use it as a context manager.

        with study.next_trial() as trial:
            for epoch in range(epochs):
                if trial.report(epoch, val_loss):
                    trial.prune(); break
            else:
                trial.complete(val_loss)

    Leaving the block with an exception marks the trial FAILED with the
    exception's text; leaving it without an outcome marks it FAILED too.
    """

    study: Study
    id: int
    params: dict[str, ParamValue]
    worker_id: str
    state: str = "PENDING"
    value: float | None = None
    reason: str = ""
    measurements: list[tuple[int, float]] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    violates_constraints: bool = False
    # The most steps to train it (the study's fidelity); 0: no limit.
    step_budget: int = 0

    @classmethod
    def from_proto(cls, study: Study, message: pb.Trial) -> Trial:
        """A Trial from its API form."""
        return cls(
            study=study,
            id=message.id,
            params=values_from_proto(message.parameters),
            worker_id=message.worker_id,
            state=pb.TrialState.Name(message.state),
            value=message.value if message.HasField("value") else None,
            reason=message.reason,
            measurements=[(m.step, m.value) for m in message.measurements],
            metrics=dict(message.metrics),
            violates_constraints=message.violates_constraints,
            step_budget=message.step_budget,
        )

    @property
    def finished(self) -> bool:
        """Whether the trial has an outcome."""
        return self.state != "PENDING"

    def report(self, step: int, value: float) -> bool:
        """Records an intermediate value and renews the lease; True means stop early."""
        request = pb.ReportProgressRequest(
            study=self.study.name,
            trial_id=self.id,
            worker_id=self.worker_id,
            step=step,
            value=value,
        )
        response = self.study.calls.report_progress(request)
        self.measurements.append((step, value))
        return bool(response.should_stop)

    def report_or_stop(self, step: int, value: float) -> None:
        """Records an intermediate value; raises `TrialPruned` when the server says stop.

        Inside `with trial:` the exception ends the trial as PRUNED and is not
        raised further, so a training loop needs no branch for it.
        """
        if self.report(step, value):
            raise TrialPruned(f"stopped early at step {step}")

    def heartbeat(self) -> bool:
        """Renews the lease without reporting a value; False means the trial is lost.

        Lost: its lease expired (it turned STALE and may be someone else's now)
        or it is finished. Stop working on it.
        """
        request = pb.HeartbeatRequest(
            study=self.study.name, worker_id=self.worker_id, trial_ids=[self.id]
        )
        response = self.study.calls.heartbeat(request)
        return self.id in response.renewed

    def _observe(self, **outcome: object) -> None:
        request = pb.ObserveRequest(
            study=self.study.name,
            trial_id=self.id,
            worker_id=self.worker_id,
            request_id=uuid.uuid4().hex,
            next_count=1 if self.study.prefetch else 0,
            **outcome,  # type: ignore[arg-type]
        )
        ended = self.study.observe(request)
        self.state = pb.TrialState.Name(ended.state)
        self.value = ended.value if ended.HasField("value") else None
        self.reason = ended.reason
        self.metrics = dict(ended.metrics)

    def complete(
        self, value: float | None = None, *, metrics: Mapping[str, float] | None = None
    ) -> None:
        """Ends the trial with its final objective value and/or named metrics.

        A study with several objectives or with constraints needs `metrics`
        with each of their values; any other metric is kept as well. Durable
        once this returns.
        """
        if value is None and not metrics:
            raise ValueError("complete() needs a value or metrics")
        outcome: dict[str, object] = {"metrics": dict(metrics or {})}
        if value is not None:
            outcome["value"] = value
        self._observe(**outcome)

    def fail(self, reason: str, *, worker_stopped: bool = False) -> None:
        """Ends the trial as FAILED; `worker_stopped`: the worker was stopped, not the trial.

        With the study's `max_retries`, a failure of a stopped worker is handed
        out again without using a retry.
        """
        self._observe(failed=pb.Failure(reason=reason[:4096], worker_stopped=worker_stopped))

    def infeasible(self, reason: str) -> None:
        """Ends the trial as INFEASIBLE: this configuration cannot be evaluated."""
        self._observe(infeasible=pb.Failure(reason=reason[:4096]))

    def prune(self, reason: str = "stopped early") -> None:
        """Ends the trial as PRUNED after `report` said to stop."""
        self._observe(pruned=pb.Failure(reason=reason[:4096]))

    def __enter__(self) -> Trial:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        """Ends an unfinished trial: PRUNED on `TrialPruned` (swallowed), else FAILED."""
        if self.finished:
            return None
        if isinstance(exc, TrialPruned):
            self.prune(str(exc))
            return True  # the loop goes on with the next trial
        if exc is not None:
            self.fail(f"{type(exc).__name__}: {exc}")
        else:
            self.fail("the worker left the trial without an outcome")
        return None
