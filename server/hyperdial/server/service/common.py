"""Helpers shared by the study and trial services: store calls from async code, paging."""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from collections.abc import Callable
from typing import TypeVar

from hyperdial.server.errors import InvalidArgument, NotFound
from hyperdial.server.store.base import Store, StudyRecord, Transaction

T = TypeVar("T")

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


def find_study(txn: Transaction, study_name: str) -> StudyRecord:
    """The study, or NotFound."""
    study = txn.find_study(study_name)
    if study is None:
        raise NotFound(f"study {study_name!r} does not exist")
    return study


async def write(store: Store, op: Callable[[Transaction], T], *, durable: bool, study: str) -> T:
    """Queues `op` on the store's writer and waits for its commit without blocking the loop.

    `study` is the name of the study `op` locks (or creates): the writer orders
    its batches by it, so replicas lock study rows in one order. Cancelling the
    wait (the RPC's deadline passed) skips `op` if it has not started.
    """
    return await asyncio.wrap_future(store.write(op, durable=durable, key=study))


async def read(store: Store, op: Callable[[Transaction], T]) -> T:
    """Runs a read in a worker thread, so a slow database never stalls other RPCs."""
    return await asyncio.to_thread(store.read, op)


def check_name(field: str, value: str, max_length: int) -> str:
    """Validates a study name or worker id: 1 to max_length letters, digits, '_', '.', '-'."""
    if not (_NAME.match(value) and len(value) <= max_length):
        raise InvalidArgument(
            field,
            f"must be 1-{max_length} letters, digits, '_', '.' or '-', got {value[:160]!r}",
        )
    return value


def page_size(requested: int) -> int:
    """Resolves a requested page size (0 = default)."""
    if requested == 0:
        return DEFAULT_PAGE_SIZE
    if not 1 <= requested <= MAX_PAGE_SIZE:
        raise InvalidArgument("page_size", f"must be in 0..{MAX_PAGE_SIZE}, got {requested}")
    return requested


def encode_token(after: int) -> str:
    """An opaque page token for the page after key `after`."""
    return base64.urlsafe_b64encode(f"after:{after}".encode()).decode()


def decode_token(token: str) -> int:
    """The key after which the next page starts (0 for the first page)."""
    if not token:
        return 0
    try:
        prefix, _, number = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        after = int(number)
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidArgument("page_token", "is not a token this server issued") from None
    if prefix != "after" or after < 0:
        raise InvalidArgument("page_token", "is not a token this server issued")
    return after
