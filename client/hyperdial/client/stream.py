"""A worker's Work stream: the unary requests of the worker loop at a fraction of the cost."""

from __future__ import annotations

import queue
import threading
from typing import TYPE_CHECKING, Any

import grpc

from hyperdial.client.errors import UnavailableError, from_rpc_error, from_work_error
from hyperdial.client.retry import with_retries
from hyperdial.v1 import hyperdial_pb2 as pb

if TYPE_CHECKING:
    from hyperdial.client.client import Client


class WorkStream:
    """Sends Suggest / ReportProgress / Observe requests on one Work stream.

    Requests go one at a time (a lock serializes threads sharing the stream).
    A broken stream is reopened and the request sent again, under the same
    retry rules as unary calls. A stream has no per-request deadline: the
    channel's keepalive pings detect a dead connection instead.
    """

    def __init__(self, client: Client) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._sequence = 0
        self._requests: queue.SimpleQueue[pb.WorkRequest | None] = queue.SimpleQueue()
        self._responses: Any = None

    def _open(self) -> None:
        self._close_stream()
        self._requests = queue.SimpleQueue()
        self._responses = self._client.stub.Work(
            iter(self._requests.get, None), metadata=self._client.metadata
        )

    def _close_stream(self) -> None:
        if self._responses is not None:
            self._requests.put(None)
            self._responses.cancel()
            self._responses = None

    def suggest(self, request: pb.SuggestRequest) -> pb.SuggestResponse:
        """See `WorkerCalls`."""
        answer: pb.SuggestResponse = self._call("suggest", request)
        return answer

    def report_progress(self, request: pb.ReportProgressRequest) -> pb.ReportProgressResponse:
        """See `WorkerCalls`."""
        answer: pb.ReportProgressResponse = self._call("report_progress", request)
        return answer

    def heartbeat(self, request: pb.HeartbeatRequest) -> pb.HeartbeatResponse:
        """See `WorkerCalls`."""
        answer: pb.HeartbeatResponse = self._call("heartbeat", request)
        return answer

    def observe(self, request: pb.ObserveRequest) -> pb.ObserveResponse:
        """See `WorkerCalls`."""
        answer: pb.ObserveResponse = self._call("observe", request)
        return answer

    def _attempt(self, kind: str, request: Any) -> Any:
        if self._responses is None:
            self._open()
        self._sequence += 1
        self._requests.put(pb.WorkRequest(sequence=self._sequence, **{kind: request}))
        try:
            response: pb.WorkResponse = next(self._responses)
        except grpc.RpcError as error:
            self._responses = None
            raise from_rpc_error(error) from None
        except StopIteration:
            self._responses = None
            raise UnavailableError("the server closed the Work stream") from None
        if response.sequence != self._sequence:
            self._close_stream()
            raise UnavailableError("Work stream out of step; reopening")
        if response.HasField("error"):
            raise from_work_error(response.error)
        return getattr(response, kind)

    def _call(self, kind: str, request: Any) -> Any:
        """Sends `request` as the `kind` field of a WorkRequest; returns the matching answer."""
        with self._lock:
            return with_retries(lambda: self._attempt(kind, request), self._client.retry_seconds)

    def close(self) -> None:
        """Ends the stream."""
        with self._lock:
            self._close_stream()
