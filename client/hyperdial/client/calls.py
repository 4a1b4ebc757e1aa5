"""The four calls of a worker loop, typed, over unary RPCs or one Work stream."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from hyperdial.v1 import hyperdial_pb2 as pb

if TYPE_CHECKING:
    from hyperdial.client.client import Client


class WorkerCalls(Protocol):
    """Suggest, ReportProgress, Heartbeat and Observe, however they travel."""

    def suggest(self, request: pb.SuggestRequest) -> pb.SuggestResponse:
        """Leases trials."""
        ...

    def report_progress(self, request: pb.ReportProgressRequest) -> pb.ReportProgressResponse:
        """Records an intermediate value."""
        ...

    def heartbeat(self, request: pb.HeartbeatRequest) -> pb.HeartbeatResponse:
        """Renews leases."""
        ...

    def observe(self, request: pb.ObserveRequest) -> pb.ObserveResponse:
        """Ends a trial."""
        ...

    def close(self) -> None:
        """Releases what the calls hold (a stream)."""
        ...


class UnaryCalls:
    """One unary RPC per call, with the client's retries and deadlines."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def suggest(self, request: pb.SuggestRequest) -> pb.SuggestResponse:
        """See `WorkerCalls`."""
        return self._client.call(self._client.stub.Suggest, request)

    def report_progress(self, request: pb.ReportProgressRequest) -> pb.ReportProgressResponse:
        """See `WorkerCalls`."""
        return self._client.call(self._client.stub.ReportProgress, request)

    def heartbeat(self, request: pb.HeartbeatRequest) -> pb.HeartbeatResponse:
        """See `WorkerCalls`."""
        return self._client.call(self._client.stub.Heartbeat, request)

    def observe(self, request: pb.ObserveRequest) -> pb.ObserveResponse:
        """See `WorkerCalls`."""
        return self._client.call(self._client.stub.Observe, request)

    def close(self) -> None:
        """Nothing to release."""
