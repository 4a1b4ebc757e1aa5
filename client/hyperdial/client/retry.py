"""Retrying calls the server could not take: exponential backoff with jitter."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

import grpc

from hyperdial.client.errors import HyperdialError

T = TypeVar("T")

RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.ABORTED})
# The backoff doubles from the first wait up to the longest. proto/hyperdial/v1/
# service_config.json publishes the same policy for other languages' channels.
FIRST_BACKOFF_SECONDS = 0.05
LONGEST_BACKOFF_SECONDS = 2.0


def with_retries(
    attempt: Callable[[], T],
    retry_seconds: float,
    on_retry: Callable[[], None] | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Runs `attempt` until it succeeds, fails for good, or `retry_seconds` have passed.

    Only UNAVAILABLE (server down or restarting) and ABORTED (a lost race) are
    retried; every request of the API is safe to repeat, so nothing is applied
    twice. `on_retry` runs before each new attempt (e.g. to reopen a stream).
    `clock` and `sleep` are the monotonic time and the wait (tests move them).
    """
    give_up = clock() + retry_seconds
    backoff = FIRST_BACKOFF_SECONDS
    while True:
        try:
            return attempt()
        except HyperdialError as error:
            if error.code not in RETRYABLE or clock() + backoff > give_up:
                raise
        sleep(backoff * random.uniform(0.5, 1.0))
        backoff = min(backoff * 2, LONGEST_BACKOFF_SECONDS)
        if on_retry is not None:
            on_retry()
