"""Study and Trial handles: what a worker loop uses."""

from __future__ import annotations

import os
import re
import socket
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING

from hyperdial.client.calls import UnaryCalls, WorkerCalls
from hyperdial.client.params import ParamValue, from_value, to_value
from hyperdial.client.stream import WorkStream
from hyperdial.client.views import ParetoFront, Recommendation, StudyInfo, created_time
from hyperdial.v1 import hyperdial_pb2 as pb

if TYPE_CHECKING:
    from hyperdial.client.client import Client

IMPORT_BATCH = 10_000


def default_worker_id() -> str:
    """host-pid: unique per process, readable in the server's trial list."""
    return re.sub(r"[^A-Za-z0-9_.\-]", "-", f"{socket.gethostname()}-{os.getpid()}")[:128]


class Study:
    """A handle on a study by name.

    Two switches make a worker loop cheaper:

    * `prefetch`: ending a trial also leases the worker's next one in the same
      call (one round trip per trial instead of two); `next_trial` returns it
      at once. A worker that stops early leaves that trial leased until its
      lease expires, so leave it off for workers that stop at will.
    * `stream`: Suggest, ReportProgress and Observe travel on one Work stream
      instead of one call each (see `WorkStream`).
    """

    def __init__(
        self, client: Client, name: str, *, prefetch: bool = False, stream: bool = False
    ) -> None:
        self.client = client
        self.name = name
        self.prefetch = prefetch
        #: How the worker loop's requests travel: one Work stream, or unary calls.
        self.calls: WorkerCalls = WorkStream(client) if stream else UnaryCalls(client)
        #: Set once a Suggest said the study hands out no more trials.
        self.finished = False
        self._prefetched: dict[str, list[Trial]] = {}

    def close(self) -> None:
        """Ends the Work stream, if any."""
        self.calls.close()

    def observe(self, request: pb.ObserveRequest) -> pb.Trial:
        """Sends a trial's outcome; keeps the next trial it hands out (with `prefetch`)."""
        response = self.calls.observe(request)
        if response.HasField("next"):
            following = self._take_suggestion(response.next)
            self._prefetched.setdefault(request.worker_id, []).extend(following)
        return response.trial

    def _take_suggestion(self, response: pb.SuggestResponse) -> list[Trial]:
        self.finished = response.study_finished
        return [Trial.from_proto(self, t) for t in response.trials]

    def info(self) -> StudyInfo:
        """The study's config and progress as the server sees it now."""
        request = pb.GetStudyRequest(name=self.name)
        return self.describe(self.client.call(self.client.stub.GetStudy, request))

    def describe(self, message: pb.Study) -> StudyInfo:
        """A study's API form (this study's) as Python values."""
        best = (
            Trial.from_proto(self, message.best_trial) if message.HasField("best_trial") else None
        )
        return StudyInfo(
            name=message.name,
            state=pb.StudyState.Name(message.state),
            config=message.config,
            created=created_time(message),
            trial_counts=Counter(message.trial_counts),
            best_trial=best,
        )

    def suggest(
        self, count: int = 1, *, worker_id: str | None = None, force_new: bool = False
    ) -> list[Trial]:
        """Leases up to `count` trials (the worker's unfinished ones first, unless force_new)."""
        worker = worker_id or default_worker_id()
        request = pb.SuggestRequest(
            study=self.name, worker_id=worker, count=count, force_new=force_new
        )
        return self._take_suggestion(self.calls.suggest(request))

    def next_trial(self, worker_id: str | None = None) -> Trial | None:
        """The next trial for this worker, or None once the study is finished."""
        waiting = self._prefetched.get(worker_id or default_worker_id())
        if waiting:
            return waiting.pop(0)
        trials = self.suggest(1, worker_id=worker_id)
        return trials[0] if trials else None

    def trials(
        self,
        states: Sequence[pb.TrialState.ValueType] = (),
        page_size: int = 500,
        *,
        measurements: bool = False,
    ) -> Iterator[Trial]:
        """Every trial (optionally only in `states`, e.g. pb.COMPLETED), a page at a time.

        `measurements` fetches each trial's intermediate values (its curve) too.
        """
        token = ""
        while True:
            request = pb.ListTrialsRequest(
                study=self.name,
                states=list(states),
                page_size=page_size,
                page_token=token,
                include_measurements=measurements,
            )
            page = self.client.call(self.client.stub.ListTrials, request)
            for trial in page.trials:
                yield Trial.from_proto(self, trial)
            token = page.next_page_token
            if not token:
                return

    def import_trials(
        self,
        completed: Sequence[
            tuple[Mapping[str, ParamValue], float | None]
            | tuple[Mapping[str, ParamValue], float | None, Mapping[str, float]]
        ],
    ) -> list[Trial]:
        """Adds trials evaluated elsewhere as COMPLETED trials: a warm start.

        Each is (params, value) or (params, value, metrics); a study with
        several objectives takes value None and the objectives in metrics.
        All or nothing per batch of IMPORT_BATCH; they use no budget slot.
        """
        imported: list[Trial] = []
        for start in range(0, len(completed), IMPORT_BATCH):
            request = pb.ImportTrialsRequest(
                study=self.name,
                trials=[_imported(*item) for item in completed[start : start + IMPORT_BATCH]],
            )
            response = self.client.call(self.client.stub.ImportTrials, request)
            imported += [Trial.from_proto(self, t) for t in response.trials]
        return imported

    def stop_trial(self, trial_id: int) -> None:
        """Asks a running trial to stop: its worker's next `report` returns True."""
        request = pb.StopTrialRequest(study=self.name, trial_id=trial_id)
        self.client.call(self.client.stub.StopTrial, request)

    def best_trials(self, count: int = 1) -> list[Trial]:
        """The best completed trials that meet the constraints, best first.

        With several objectives: the Pareto front (all of it when count is 0).
        """
        request = pb.GetBestTrialsRequest(study=self.name, count=count)
        response = self.client.call(self.client.stub.GetBestTrials, request)
        return [Trial.from_proto(self, t) for t in response.trials]

    def recommended(self) -> Recommendation | None:
        """The trial the study recommends (one objective); None before any completes.

        By default the model's pick (the best posterior mean), which on a noisy
        objective holds up better on new data than the best observed value.
        """
        request = pb.GetBestTrialsRequest(study=self.name, count=1)
        response = self.client.call(self.client.stub.GetBestTrials, request)
        if not response.HasField("recommendation"):
            return None
        message = response.recommendation
        by_model = message.rule == pb.BEST_POSTERIOR_MEAN
        return Recommendation(
            rule=pb.RecommendationRule.Name(message.rule).lower(),
            trial=Trial.from_proto(self, message.trial),
            reason=message.reason,
            estimate=message.estimate if by_model else None,
            estimate_sd=message.estimate_sd if by_model else None,
            noise_sd=message.noise_sd if by_model else None,
            trials_modelled=message.trials_modelled,
        )

    def pareto_front(self) -> ParetoFront:
        """The whole Pareto front with its hypervolume and reference point."""
        request = pb.GetBestTrialsRequest(study=self.name, count=0)
        response = self.client.call(self.client.stub.GetBestTrials, request)
        return ParetoFront(
            trials=[Trial.from_proto(self, t) for t in response.trials],
            hypervolume=response.hypervolume,
            reference_point=list(response.reference_point),
        )


def _imported(
    params: Mapping[str, ParamValue],
    value: float | None,
    metrics: Mapping[str, float] | None = None,
) -> pb.ImportedTrial:
    message = pb.ImportedTrial(
        parameters={k: to_value(v) for k, v in params.items()}, metrics=metrics or {}
    )
    if value is not None:
        message.value = value
    return message


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

    @classmethod
    def from_proto(cls, study: Study, message: pb.Trial) -> Trial:
        """A Trial from its API form."""
        params = {}
        for name, value in message.parameters.items():
            scalar = from_value(value)
            assert not isinstance(scalar, bool)
            params[name] = scalar
        return cls(
            study=study,
            id=message.id,
            params=params,
            worker_id=message.worker_id,
            state=pb.TrialState.Name(message.state),
            value=message.value if message.HasField("value") else None,
            reason=message.reason,
            measurements=[(m.step, m.value) for m in message.measurements],
            metrics=dict(message.metrics),
            violates_constraints=message.violates_constraints,
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
