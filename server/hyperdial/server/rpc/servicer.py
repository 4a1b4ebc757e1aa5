"""HyperdialServicer: each method converts the request, calls a service, converts back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc

from hyperdial.server.errors import InvalidArgument
from hyperdial.server.rpc.convert import (
    recommendation_to_proto,
    study_config_from_proto,
    study_to_proto,
    suggested_to_proto,
    timestamp,
    trial_states_from_proto,
    trial_to_proto,
)
from hyperdial.server.rpc.errors import describe, map_errors
from hyperdial.server.rpc.requests import (
    imported_from_proto,
    outcome_from_proto,
    queued_from_proto,
)
from hyperdial.server.service.studies import StudyService
from hyperdial.server.service.trials import TrialServices
from hyperdial.v1 import hyperdial_pb2 as pb
from hyperdial.v1 import hyperdial_pb2_grpc as pb_grpc

Context = grpc.aio.ServicerContext[Any, Any]


class HyperdialServicer(pb_grpc.HyperdialServiceServicer):
    """The HyperdialService API over the study and trial services."""

    def __init__(self, studies: StudyService, trials: TrialServices) -> None:
        self._studies = studies
        self._trials = trials

    @map_errors
    async def CreateStudy(  # noqa: N802 - gRPC method name
        self, request: pb.CreateStudyRequest, context: Context
    ) -> pb.CreateStudyResponse:
        """See the .proto."""
        config = study_config_from_proto(request.config)
        study, created = await self._studies.create(request.name, config)
        return pb.CreateStudyResponse(study=study_to_proto(study), created=created)

    @map_errors
    async def GetStudy(self, request: pb.GetStudyRequest, context: Context) -> pb.Study:  # noqa: N802
        """See the .proto."""
        return study_to_proto(await self._studies.get(request.name))

    @map_errors
    async def ListStudies(  # noqa: N802
        self, request: pb.ListStudiesRequest, context: Context
    ) -> pb.ListStudiesResponse:
        """See the .proto."""
        studies, token = await self._studies.list(request.page_size, request.page_token)
        return pb.ListStudiesResponse(
            studies=[study_to_proto(s) for s in studies], next_page_token=token
        )

    @map_errors
    async def DeleteStudy(  # noqa: N802
        self, request: pb.DeleteStudyRequest, context: Context
    ) -> pb.DeleteStudyResponse:
        """See the .proto."""
        await self._studies.delete(request.name)
        return pb.DeleteStudyResponse()

    @map_errors
    async def UpdateStudy(self, request: pb.UpdateStudyRequest, context: Context) -> pb.Study:  # noqa: N802
        """See the .proto."""
        max_trials = request.max_trials if request.HasField("max_trials") else None
        total_steps = request.total_steps if request.HasField("total_steps") else None
        if max_trials is None and total_steps is None:
            raise InvalidArgument(
                "max_trials", "set max_trials or total_steps to change; nothing else may change"
            )
        updated = await self._studies.update_budget(request.name, max_trials, total_steps)
        return study_to_proto(updated)

    @map_errors
    async def PauseStudy(self, request: pb.PauseStudyRequest, context: Context) -> pb.Study:  # noqa: N802
        """See the .proto."""
        return study_to_proto(await self._studies.set_paused(request.name, True))

    @map_errors
    async def ResumeStudy(self, request: pb.ResumeStudyRequest, context: Context) -> pb.Study:  # noqa: N802
        """See the .proto."""
        return study_to_proto(await self._studies.set_paused(request.name, False))

    @map_errors
    async def EnqueueTrials(  # noqa: N802
        self, request: pb.EnqueueTrialsRequest, context: Context
    ) -> pb.EnqueueTrialsResponse:
        """See the .proto."""
        enqueued = await self._trials.queue.enqueue(
            request.study, queued_from_proto(request), skip_if_queued=request.skip_if_queued
        )
        return pb.EnqueueTrialsResponse(queued=enqueued.queued, queue_length=enqueued.queue_length)

    @map_errors
    async def StopTrial(  # noqa: N802
        self, request: pb.StopTrialRequest, context: Context
    ) -> pb.StopTrialResponse:
        """See the .proto."""
        await self._trials.outcomes.request_stop(request.study, request.trial_id)
        return pb.StopTrialResponse()

    @map_errors
    async def Suggest(self, request: pb.SuggestRequest, context: Context) -> pb.SuggestResponse:  # noqa: N802
        """See the .proto."""
        return await self._suggest(request)

    @map_errors
    async def ReportProgress(  # noqa: N802
        self, request: pb.ReportProgressRequest, context: Context
    ) -> pb.ReportProgressResponse:
        """See the .proto."""
        return await self._report_progress(request)

    @map_errors
    async def Heartbeat(  # noqa: N802
        self, request: pb.HeartbeatRequest, context: Context
    ) -> pb.HeartbeatResponse:
        """See the .proto."""
        return await self._heartbeat(request)

    @map_errors
    async def Observe(self, request: pb.ObserveRequest, context: Context) -> pb.ObserveResponse:  # noqa: N802
        """See the .proto."""
        return await self._observe(request)

    async def Work(  # noqa: N802
        self, requests: AsyncIterator[pb.WorkRequest], context: Context
    ) -> AsyncIterator[pb.WorkResponse]:
        """See the .proto: each request answered in order, errors as WorkError."""
        async for request in requests:
            yield await self._work(request)

    async def _work(self, request: pb.WorkRequest) -> pb.WorkResponse:
        kind = request.WhichOneof("request")
        try:
            if kind == "suggest":
                return pb.WorkResponse(
                    sequence=request.sequence, suggest=await self._suggest(request.suggest)
                )
            if kind == "observe":
                return pb.WorkResponse(
                    sequence=request.sequence, observe=await self._observe(request.observe)
                )
            if kind == "heartbeat":
                answer_heartbeat = await self._heartbeat(request.heartbeat)
                return pb.WorkResponse(sequence=request.sequence, heartbeat=answer_heartbeat)
            if kind == "report_progress":
                answer = await self._report_progress(request.report_progress)
                return pb.WorkResponse(sequence=request.sequence, report_progress=answer)
            raise InvalidArgument(
                "request", "set one of suggest, report_progress, heartbeat or observe"
            )
        except Exception as error:
            code, message, field = describe(error, f"Work.{kind}")
            failure = pb.WorkError(code=code.value[0], message=message, field=field)
            return pb.WorkResponse(sequence=request.sequence, error=failure)

    async def _suggest(self, request: pb.SuggestRequest) -> pb.SuggestResponse:
        result = await self._trials.leases.suggest(
            request.study, request.worker_id, request.count, force_new=request.force_new
        )
        return suggested_to_proto(result)

    async def _report_progress(
        self, request: pb.ReportProgressRequest
    ) -> pb.ReportProgressResponse:
        should_stop, lease_end = await self._trials.outcomes.report_progress(
            request.study, request.trial_id, request.worker_id, request.step, request.value
        )
        return pb.ReportProgressResponse(
            should_stop=should_stop, lease_expire_time=timestamp(lease_end)
        )

    async def _heartbeat(self, request: pb.HeartbeatRequest) -> pb.HeartbeatResponse:
        renewed, lost, lease_end = await self._trials.leases.heartbeat(
            request.study, request.worker_id, list(request.trial_ids)
        )
        return pb.HeartbeatResponse(
            renewed=renewed, lost=lost, lease_expire_time=timestamp(lease_end)
        )

    async def _observe(self, request: pb.ObserveRequest) -> pb.ObserveResponse:
        trial, following = await self._trials.outcomes.observe(
            request.study,
            request.trial_id,
            request.worker_id,
            request.request_id,
            outcome_from_proto(request),
            next_count=request.next_count,
        )
        if following is None:
            return pb.ObserveResponse(trial=trial_to_proto(trial))
        return pb.ObserveResponse(trial=trial_to_proto(trial), next=suggested_to_proto(following))

    @map_errors
    async def ListTrials(  # noqa: N802
        self, request: pb.ListTrialsRequest, context: Context
    ) -> pb.ListTrialsResponse:
        """See the .proto."""
        trials, token = await self._trials.reads.list_trials(
            request.study,
            trial_states_from_proto(list(request.states)),
            request.page_size,
            request.page_token,
            include_measurements=request.include_measurements,
            start_id=request.start_id,
        )
        return pb.ListTrialsResponse(
            trials=[trial_to_proto(t) for t in trials], next_page_token=token
        )

    @map_errors
    async def ImportTrials(  # noqa: N802
        self, request: pb.ImportTrialsRequest, context: Context
    ) -> pb.ImportTrialsResponse:
        """See the .proto."""
        imported = imported_from_proto(request)
        trials = await self._trials.outcomes.import_trials(request.study, imported)
        return pb.ImportTrialsResponse(trials=[trial_to_proto(t) for t in trials])

    @map_errors
    async def GetBestTrials(  # noqa: N802
        self, request: pb.GetBestTrialsRequest, context: Context
    ) -> pb.GetBestTrialsResponse:
        """See the .proto."""
        best = await self._trials.reads.best_trials(request.study, request.count)
        front = best.front
        response = pb.GetBestTrialsResponse(
            trials=[trial_to_proto(t) for t in front.trials],
            hypervolume=front.hypervolume,
            reference_point=front.reference,
        )
        if best.recommended is not None:
            response.recommendation.CopyFrom(recommendation_to_proto(best.recommended))
        return response
