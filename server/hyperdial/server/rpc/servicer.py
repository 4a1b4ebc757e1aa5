"""HyperdialServicer: each method converts the request, calls a service, converts back."""

from __future__ import annotations

import grpc

from hyperdial.server.rpc.convert import (
    outcome_from_proto,
    study_config_from_proto,
    study_to_proto,
    suggested_to_proto,
    trial_states_from_proto,
    trial_to_proto,
)
from hyperdial.server.rpc.errors import map_errors
from hyperdial.server.service.studies import StudyService
from hyperdial.server.service.trials import TrialService
from hyperdial.v1 import hyperdial_pb2 as pb
from hyperdial.v1 import hyperdial_pb2_grpc as pb_grpc

Context = grpc.aio.ServicerContext


class HyperdialServicer(pb_grpc.HyperdialServiceServicer):
    """The HyperdialService API over the study and trial services."""

    def __init__(self, studies: StudyService, trials: TrialService) -> None:
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
    async def Suggest(self, request: pb.SuggestRequest, context: Context) -> pb.SuggestResponse:  # noqa: N802
        """See the .proto."""
        result = await self._trials.suggest(
            request.study, request.worker_id, request.count, force_new=request.force_new
        )
        return suggested_to_proto(result)

    @map_errors
    async def ReportProgress(  # noqa: N802
        self, request: pb.ReportProgressRequest, context: Context
    ) -> pb.ReportProgressResponse:
        """See the .proto."""
        lease_end = await self._trials.report_progress(
            request.study, request.trial_id, request.worker_id, request.step, request.value
        )
        response = pb.ReportProgressResponse(should_stop=False)
        response.lease_expire_time.FromDatetime(lease_end)
        return response

    @map_errors
    async def Observe(self, request: pb.ObserveRequest, context: Context) -> pb.ObserveResponse:  # noqa: N802
        """See the .proto."""
        trial, following = await self._trials.observe(
            request.study,
            request.trial_id,
            request.worker_id,
            request.request_id,
            outcome_from_proto(request),
            next_count=request.next_count,
        )
        response = pb.ObserveResponse(trial=trial_to_proto(trial))
        if following is not None:
            response.next.CopyFrom(suggested_to_proto(following))
        return response

    @map_errors
    async def ListTrials(  # noqa: N802
        self, request: pb.ListTrialsRequest, context: Context
    ) -> pb.ListTrialsResponse:
        """See the .proto."""
        trials, token = await self._trials.list_trials(
            request.study,
            trial_states_from_proto(list(request.states)),
            request.page_size,
            request.page_token,
            include_measurements=request.include_measurements,
        )
        return pb.ListTrialsResponse(
            trials=[trial_to_proto(t) for t in trials], next_page_token=token
        )

    @map_errors
    async def GetBestTrials(  # noqa: N802
        self, request: pb.GetBestTrialsRequest, context: Context
    ) -> pb.GetBestTrialsResponse:
        """See the .proto."""
        trials = await self._trials.best_trials(request.study, request.count)
        return pb.GetBestTrialsResponse(trials=[trial_to_proto(t) for t in trials])
