"""Study and Trial handles: what a worker loop uses."""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC
from typing import TYPE_CHECKING

from hyperdial.client.calls import UnaryCalls, WorkerCalls
from hyperdial.client.params import ParamValue, values_to_proto
from hyperdial.client.stream import WorkStream
from hyperdial.client.trial import Trial
from hyperdial.client.views import ParetoFront, Recommendation, StudyInfo, created_time
from hyperdial.v1 import hyperdial_pb2 as pb

if TYPE_CHECKING:
    from hyperdial.client.client import Client

IMPORT_BATCH = 10_000
# How often a worker asks a paused study again.
PAUSED_POLL_SECONDS = 2.0

log = logging.getLogger(__name__)


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
        #: Whether the last Suggest found the study paused.
        self.paused = False
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
        self.paused = response.study_paused
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
            updated=message.update_time.ToDatetime(tzinfo=UTC),
            steps_reported=message.steps_reported,
            steps_reserved=message.steps_reserved,
            trial_counts=Counter(message.trial_counts),
            best_trial=best,
            paused=message.paused,
            queued_trials=message.queued_trials,
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

    def next_trial(
        self, worker_id: str | None = None, *, stop: threading.Event | None = None
    ) -> Trial | None:
        """The next trial for this worker, or None once the study is finished.

        While the study is paused it waits, asking again every
        PAUSED_POLL_SECONDS, until it is resumed or `stop` is set (then None).
        """
        waiting = self._prefetched.get(worker_id or default_worker_id())
        if waiting:
            return waiting.pop(0)
        stop = stop or threading.Event()
        trials = self.suggest(1, worker_id=worker_id)
        if not trials and self.paused and not self.finished:
            log.info("study %s is paused; waiting for it to be resumed", self.name)
            while not trials and self.paused and not self.finished:
                if stop.wait(PAUSED_POLL_SECONDS):
                    return None
                trials = self.suggest(1, worker_id=worker_id)
            log.info("study %s goes on", self.name)
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

    def pause(self) -> StudyInfo:
        """Pauses the study: no new trials until `resume` (running ones go on)."""
        request = pb.PauseStudyRequest(name=self.name)
        return self.describe(self.client.call(self.client.stub.PauseStudy, request))

    def resume(self) -> StudyInfo:
        """Resumes a paused study: waiting workers get trials again."""
        request = pb.ResumeStudyRequest(name=self.name)
        return self.describe(self.client.call(self.client.stub.ResumeStudy, request))

    def enqueue(
        self, configurations: Sequence[Mapping[str, ParamValue]], *, skip_if_queued: bool = False
    ) -> int:
        """Queues configurations to try next, in order; returns how many it queued.

        Each must give every active parameter a value in its domain; each
        becomes a trial of the budget when a worker gets it. `skip_if_queued`
        leaves out configurations already waiting in the queue.
        """
        request = pb.EnqueueTrialsRequest(
            study=self.name,
            trials=[
                pb.QueuedTrial(parameters=values_to_proto(configuration))
                for configuration in configurations
            ],
            skip_if_queued=skip_if_queued,
        )
        return self.client.call(self.client.stub.EnqueueTrials, request).queued

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
    message = pb.ImportedTrial(parameters=values_to_proto(params), metrics=metrics or {})
    if value is not None:
        message.value = value
    return message
