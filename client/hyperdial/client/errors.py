"""gRPC status codes → exceptions; the mirror of the server's error table."""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2, status_pb2

from hyperdial.v1 import hyperdial_pb2 as pb


class HyperdialError(Exception):
    """An error answer from the server (or no answer at all)."""

    code = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        #: For InvalidArgumentError: the request field at fault, e.g. "config.max_trials".
        self.field = field


class InvalidArgumentError(HyperdialError, ValueError):
    """A request field is malformed; `field` names it."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFoundError(HyperdialError, LookupError):
    """The study or trial does not exist."""

    code = grpc.StatusCode.NOT_FOUND


class AlreadyExistsError(HyperdialError):
    """A study of that name exists with another configuration."""

    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPreconditionError(HyperdialError):
    """The request conflicts with the state (e.g. a finished trial observed differently)."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class ResourceExhaustedError(HyperdialError):
    """A server limit is reached (e.g. its number of studies)."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class AbortedError(HyperdialError):
    """A concurrent change won; retried automatically."""

    code = grpc.StatusCode.ABORTED


class UnavailableError(HyperdialError):
    """The server cannot be reached (after retrying)."""

    code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceededError(HyperdialError, TimeoutError):
    """The call took longer than its deadline."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED


class UnauthenticatedError(HyperdialError):
    """No or a wrong token."""

    code = grpc.StatusCode.UNAUTHENTICATED


class InternalError(HyperdialError):
    """The server failed; its log has the details under the error id in the message."""

    code = grpc.StatusCode.INTERNAL


_BY_CODE = {
    cls.code: cls
    for cls in (
        InvalidArgumentError,
        NotFoundError,
        AlreadyExistsError,
        FailedPreconditionError,
        ResourceExhaustedError,
        AbortedError,
        UnavailableError,
        DeadlineExceededError,
        UnauthenticatedError,
        InternalError,
    )
}


def _violated_field(error: grpc.Call) -> str:
    """The first field named in a google.rpc.BadRequest detail, if any."""
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin" and isinstance(value, bytes):
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                    bad_request = error_details_pb2.BadRequest()
                    detail.Unpack(bad_request)
                    for violation in bad_request.field_violations:
                        return str(violation.field)
    return ""


_CODES_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}


def from_status(code: grpc.StatusCode, message: str, field: str = "") -> HyperdialError:
    """The exception for a status code and message."""
    exception = _BY_CODE.get(code, HyperdialError)(message or code.name, field)
    exception.code = code
    return exception


def from_work_error(error: pb.WorkError) -> HyperdialError:
    """The exception for a failed request on a Work stream."""
    code = _CODES_BY_NUMBER.get(error.code, grpc.StatusCode.UNKNOWN)
    return from_status(code, error.message, error.field)


def from_rpc_error(error: grpc.RpcError) -> HyperdialError:
    """The exception for a failed call."""
    assert isinstance(error, grpc.Call)
    code = error.code()
    field = _violated_field(error) if code is grpc.StatusCode.INVALID_ARGUMENT else ""
    return from_status(code, error.details() or "", field)
