"""The error table of rpc/errors.py: every domain error has its status code, and no more text."""

from __future__ import annotations

import logging

import grpc
import pytest

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
from hyperdial.server.rpc.errors import MAX_FIELD_CHARACTERS, MAX_MESSAGE_CHARACTERS, describe


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (NotFound("study 's' does not exist"), grpc.StatusCode.NOT_FOUND),
        (AlreadyExists("taken"), grpc.StatusCode.ALREADY_EXISTS),
        (FailedPrecondition("finished"), grpc.StatusCode.FAILED_PRECONDITION),
        (ResourceExhausted("full"), grpc.StatusCode.RESOURCE_EXHAUSTED),
        (Conflict("raced"), grpc.StatusCode.ABORTED),
        (Unavailable("database down"), grpc.StatusCode.UNAVAILABLE),
    ],
)
def test_each_domain_error_has_its_code_and_keeps_its_message(
    error: HyperdialError, code: grpc.StatusCode
) -> None:
    assert describe(error, "Test") == (code, str(error), "")


def test_a_bad_argument_names_its_field() -> None:
    error = InvalidArgument("count", "must be in 0..1000").within("suggest")
    code, message, field = describe(error, "Test")
    assert (code, field) == (grpc.StatusCode.INVALID_ARGUMENT, "suggest.count")
    assert message == "suggest.count: must be in 0..1000"


def test_long_messages_and_fields_are_cut() -> None:
    error = InvalidArgument("f" * 10_000, "x" * 10_000)
    _, message, field = describe(error, "Test")
    assert len(message) <= MAX_MESSAGE_CHARACTERS
    assert len(field) <= MAX_FIELD_CHARACTERS


def test_anything_else_is_internal_with_an_id_and_no_details(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR):
        code, message, _ = describe(KeyError("secret internals"), "Suggest")
    assert code is grpc.StatusCode.INTERNAL
    assert "secret" not in message
    error_id = message.split()[2].rstrip(";")
    assert error_id in caplog.text
    assert "secret internals" in caplog.text
