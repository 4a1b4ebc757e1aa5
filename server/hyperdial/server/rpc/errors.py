"""Maps domain errors to gRPC status codes, once, for every handler.

| domain error        | status code          |
|---------------------|----------------------|
| InvalidArgument     | INVALID_ARGUMENT + google.rpc.BadRequest naming the field |
| NotFound            | NOT_FOUND            |
| AlreadyExists       | ALREADY_EXISTS       |
| FailedPrecondition  | FAILED_PRECONDITION  |
| ResourceExhausted   | RESOURCE_EXHAUSTED   |
| Conflict            | ABORTED (retry)      |
| Unavailable         | UNAVAILABLE (retry)  |
| anything else       | INTERNAL with an error id; the traceback goes to the log only |
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from hyperdial.server.errors import (
    AlreadyExists,
    Conflict,
    FailedPrecondition,
    HyperdialError,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unavailable,
)

log = logging.getLogger(__name__)

# gRPC carries the status in trailing metadata, which a client refuses past 16 KiB (message
# and BadRequest detail together): whatever a handler raised, the answer stays far below.
MAX_MESSAGE_CHARACTERS = 1024
MAX_FIELD_CHARACTERS = 256

STATUS_CODES: dict[type[HyperdialError], grpc.StatusCode] = {
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    NotFound: grpc.StatusCode.NOT_FOUND,
    AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Conflict: grpc.StatusCode.ABORTED,
    Unavailable: grpc.StatusCode.UNAVAILABLE,
}

Request = TypeVar("Request")
Response = TypeVar("Response")
Servicer = TypeVar("Servicer")
Context = grpc.aio.ServicerContext[Any, Any]


def describe(error: Exception, where: str) -> tuple[grpc.StatusCode, str, str]:
    """(status code, message, field at fault) for an error raised while serving `where`.

    Unexpected errors are logged with a fresh error id and described by that id
    only: their text may hold internals the caller has no business seeing.
    """
    if isinstance(error, InvalidArgument):
        field = _cut(error.field, MAX_FIELD_CHARACTERS)
        return grpc.StatusCode.INVALID_ARGUMENT, _cut(str(error), MAX_MESSAGE_CHARACTERS), field
    if isinstance(error, HyperdialError):
        return STATUS_CODES[type(error)], _cut(str(error), MAX_MESSAGE_CHARACTERS), ""
    error_id = uuid.uuid4().hex[:12]
    log.error("internal error %s in %s", error_id, where, exc_info=error)
    return (
        grpc.StatusCode.INTERNAL,
        f"internal error {error_id}; the server log has the details",
        "",
    )


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def _bad_request(error: InvalidArgument) -> grpc.Status:
    _, message, field = describe(error, "")
    violation = error_details_pb2.BadRequest.FieldViolation(
        field=field, description=_cut(error.reason, MAX_MESSAGE_CHARACTERS)
    )
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.BadRequest(field_violations=[violation]))
    status = status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message=message, details=[detail])
    converted: grpc.Status = rpc_status.to_status(status)
    return converted


def map_errors(
    handler: Callable[[Servicer, Request, Context], Awaitable[Response]],
) -> Callable[[Servicer, Request, Context], Awaitable[Response]]:
    """Turns domain errors raised by a handler into the status table above."""

    @functools.wraps(handler)
    async def wrapper(self: Servicer, request: Request, context: Context) -> Response:
        try:
            return await handler(self, request, context)
        except InvalidArgument as error:
            await context.abort_with_status(_bad_request(error))
        except Exception as error:
            code, message, _ = describe(error, handler.__name__)
            await context.abort(code, message)
        raise AssertionError("unreachable: abort raises")

    return wrapper
