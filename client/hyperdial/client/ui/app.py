"""The web UI's HTTP side: the page, its assets, and a JSON API read through the public gRPC API.

Reads go through the UI's own connection (its token, its TLS). Actions
carry the token the page sends (`Authorization: Bearer …`), so a server that
requires tokens acts only for users who hold one. The process keeps nothing
but a cache: any number of them can serve any replica.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from hyperdial.client.client import Client
from hyperdial.client.errors import HyperdialError
from hyperdial.client.params import values_to_proto
from hyperdial.client.ui import charts
from hyperdial.client.ui.table import TableQuery, page_of
from hyperdial.client.ui.trials import Snapshot, TrialCache
from hyperdial.v1 import hyperdial_pb2 as pb

STATIC = Path(__file__).parent / "static"
_HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}


def _error(error: HyperdialError) -> JSONResponse:
    status = _HTTP_STATUS.get(error.code, 500)
    return JSONResponse({"error": str(error), "field": error.field}, status_code=status)


def study_summary(study: pb.Study) -> dict[str, Any]:
    """What the studies page and the study page's header show of a study."""
    config = study.config
    best = study.best_trial if study.HasField("best_trial") else None
    return {
        "name": study.name,
        "algorithm": config.algorithm.name,
        "objectives": charts.objectives(config),
        "state": pb.StudyState.Name(study.state),
        "paused": study.paused,
        "queued": study.queued_trials,
        "max_trials": config.max_trials,
        "counts": dict(study.trial_counts),
        "best": None if best is None else {"id": best.id, "value": best.value},
        "created": study.create_time.ToDatetime().isoformat() + "Z",
        "updated": study.update_time.ToDatetime().isoformat() + "Z",
        "steps": study.steps_reported,
        "steps_reserved": study.steps_reserved,
        "step_budget": config.fidelity.total_steps if config.HasField("fidelity") else 0,
        "parameters": [p.name for p in config.parameters],
    }


def trial_detail(trial: pb.Trial) -> dict[str, Any]:
    """Everything the trial page shows of a trial."""

    def when(stamp: Any, present: bool) -> str | None:
        return stamp.ToDatetime().isoformat() + "Z" if present else None

    return {
        "id": trial.id,
        "state": pb.TrialState.Name(trial.state),
        "value": trial.value if trial.HasField("value") else None,
        "params": charts.params(trial),
        "metrics": dict(trial.metrics),
        "violates": trial.violates_constraints,
        "reason": trial.reason,
        "worker": trial.worker_id,
        "created": when(trial.create_time, trial.HasField("create_time")),
        "finished": when(trial.finish_time, trial.HasField("finish_time")),
        "lease_expires": when(trial.lease_expire_time, trial.HasField("lease_expire_time")),
        "curve": [[m.step, m.value] for m in trial.measurements],
    }


class Api:
    """The JSON endpoints over one client and one trial cache."""

    def __init__(self, client: Client, cache: TrialCache) -> None:
        self._client = client
        self._cache = cache

    def studies(self, request: Request) -> Response:
        """Every study, oldest first, with its progress (recommendations come apart)."""
        listed, token = [], ""
        while True:
            page = self._client.call(
                self._client.stub.ListStudies,
                pb.ListStudiesRequest(page_size=1000, page_token=token),
            )
            listed += [study_summary(s) for s in page.studies]
            token = page.next_page_token
            if not token:
                return JSONResponse({"studies": listed})

    def study(self, request: Request) -> Response:
        """One study: summary, axes, and the version live updates watch."""
        name = request.path_params["name"]
        snapshot = self._cache.current(name)
        summary = study_summary(snapshot.study)
        summary.update(
            axes=charts.axes(snapshot.study.config),
            version=snapshot.version,
            constraints=[c.metric for c in snapshot.study.config.constraints],
        )
        return JSONResponse(summary)

    def recommended(self, request: Request) -> Response:
        """The model's recommended trial; asked apart, since the server may fit for it."""
        name = request.path_params["name"]
        study = self._cache.current(name).study
        if len(study.config.objectives) > 1:
            return JSONResponse({"reason": "several objectives: see the Pareto front"})
        if not study.trial_counts.get("COMPLETED"):
            return JSONResponse({"reason": "no completed trial yet"})
        answer = self._client.call(
            self._client.stub.GetBestTrials, pb.GetBestTrialsRequest(study=name, count=1)
        )
        if not answer.HasField("recommendation"):
            return JSONResponse({"reason": "no trial meets the constraints yet"})
        recommended = answer.recommendation
        shown: dict[str, Any] = {
            "rule": pb.RecommendationRule.Name(recommended.rule),
            "reason": recommended.reason,
            "trial": trial_detail(recommended.trial),
        }
        if recommended.rule == pb.BEST_POSTERIOR_MEAN:
            shown.update(estimate=recommended.estimate, estimate_sd=recommended.estimate_sd)
        return JSONResponse(shown)

    def version(self, request: Request) -> Response:
        """The study's version: the page redraws when it changes (live updates)."""
        snapshot = self._cache.current(request.path_params["name"])
        return JSONResponse({"version": snapshot.version})

    def trials(self, request: Request) -> Response:
        """One page of the trials table: sorted, filtered by state and parameter ranges."""
        snapshot = self._cache.current(request.path_params["name"])
        query = TableQuery.parse(request.query_params)
        trials = list(snapshot.trials.values())
        return JSONResponse(page_of(trials, snapshot.values, query, trial_detail))

    def charts(self, request: Request) -> Response:
        """Everything the study page's charts draw; made once per version of the study."""
        name = request.path_params["name"]
        snapshot = self._cache.current(name)
        if snapshot.charts is None:  # two pages at once may both make it: the same bytes
            snapshot.charts = bytes(JSONResponse(self._chart_data(name, snapshot)).body)
        return Response(snapshot.charts, media_type="application/json")

    def _chart_data(self, name: str, snapshot: Snapshot) -> dict[str, Any]:
        config = snapshot.study.config
        trials = [snapshot.trials[k] for k in sorted(snapshot.trials)]
        maximize = config.objective.goal == pb.MAXIMIZE
        names = [p.name for p in config.parameters]
        shown: dict[str, Any] = {
            "version": snapshot.version,
            "names": names,
            "curves": charts.curves(trials, maximize),
        }
        if len(config.objectives) > 1:
            front = self._client.call(
                self._client.stub.GetBestTrials, pb.GetBestTrialsRequest(study=name, count=0)
            )
            shown["pareto"] = charts.pareto(front, trials)
        else:
            shown["history"] = charts.history(trials, maximize)
            shown["rows"] = charts.rows(trials, names, snapshot.values)
            shown["importance"] = charts.importance(
                self._client.study(name), trials, snapshot.values, config
            )
        return shown

    def trial(self, request: Request) -> Response:
        """One trial with its curve."""
        snapshot = self._cache.current(request.path_params["name"])
        found = snapshot.trials.get(int(request.path_params["trial"]))
        if found is None:
            return JSONResponse({"error": "no such trial", "field": "trial"}, status_code=404)
        return JSONResponse(trial_detail(found))

    async def act(self, request: Request) -> Response:
        """pause, resume, budget, enqueue or stop: each one RPC, with the page's token."""
        body = json.loads(await request.body() or b"{}")
        name, action = request.path_params["name"], request.path_params["action"]
        made = _ACTIONS.get(action)
        if made is None:
            return JSONResponse({"error": f"unknown action {action!r}"}, status_code=404)
        method, message = made(self._client.stub, name, body)
        token = request.headers.get("authorization", "")
        metadata = (("authorization", token),) if token else ()
        # The RPC blocks: off the event loop, like every read.
        await run_in_threadpool(self._client.call, method, message, metadata=metadata)
        self._cache.invalidate(name)
        return JSONResponse({"done": action})


# Each action of the page: the stub method and the request it sends, from the page's body.
_ACTIONS: dict[str, Callable[[Any, str, dict[str, Any]], tuple[Any, object]]] = {
    "pause": lambda stub, name, body: (stub.PauseStudy, pb.PauseStudyRequest(name=name)),
    "resume": lambda stub, name, body: (stub.ResumeStudy, pb.ResumeStudyRequest(name=name)),
    "budget": lambda stub, name, body: (
        stub.UpdateStudy,
        pb.UpdateStudyRequest(name=name, max_trials=int(body["max_trials"])),
    ),
    "stop": lambda stub, name, body: (
        stub.StopTrial,
        pb.StopTrialRequest(study=name, trial_id=int(body["trial"])),
    ),
    "enqueue": lambda stub, name, body: (
        stub.EnqueueTrials,
        pb.EnqueueTrialsRequest(
            study=name,
            trials=[pb.QueuedTrial(parameters=values_to_proto(c)) for c in body["configurations"]],
        ),
    ),
}


def create_app(client: Client, refresh_seconds: float = 1.0) -> Starlette:
    """The UI over `client`; a study's trials are read again at most every `refresh_seconds`."""
    api = Api(client, TrialCache(client, refresh_seconds))

    def guarded(handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
        async def run(request: Request) -> Response:
            try:
                if inspect.iscoroutinefunction(handler):
                    response: Response = await handler(request)
                else:
                    # gRPC calls block: off the event loop, so one slow read stalls no other page.
                    response = await run_in_threadpool(handler, request)
                return response
            except HyperdialError as error:
                return _error(error)
            except (KeyError, ValueError, TypeError) as error:
                return JSONResponse({"error": f"bad request: {error}"}, status_code=400)

        return run

    def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html")

    routes = [
        Route("/", index),
        Route("/healthz", lambda request: JSONResponse({"ok": True})),
        Route("/api/studies", guarded(api.studies)),
        Route("/api/studies/{name}", guarded(api.study)),
        Route("/api/studies/{name}/version", guarded(api.version)),
        Route("/api/studies/{name}/recommended", guarded(api.recommended)),
        Route("/api/studies/{name}/trials", guarded(api.trials)),
        Route("/api/studies/{name}/charts", guarded(api.charts)),
        Route("/api/studies/{name}/trials/{trial:int}", guarded(api.trial)),
        Route("/api/studies/{name}/{action}", guarded(api.act), methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes)
