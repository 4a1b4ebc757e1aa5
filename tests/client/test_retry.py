"""Retries on a fake clock: which codes, how long, how the waits grow."""

from __future__ import annotations

import grpc
import pytest

from hyperdial.client.errors import (
    AbortedError,
    FailedPreconditionError,
    HyperdialError,
    UnavailableError,
)
from hyperdial.client.retry import with_retries


class FakeTime:
    """A monotonic clock that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def _failing(errors: list[HyperdialError], answer: str = "done"):
    def attempt() -> str:
        if errors:
            raise errors.pop(0)
        return answer

    return attempt


def test_unavailable_and_aborted_are_retried_until_the_call_succeeds() -> None:
    time = FakeTime()
    reopened: list[float] = []
    errors: list[HyperdialError] = [UnavailableError("down"), AbortedError("raced")]
    answer = with_retries(
        _failing(errors),
        30,
        on_retry=lambda: reopened.append(time.now),
        clock=time.clock,
        sleep=time.sleep,
    )
    assert answer == "done"
    assert len(time.waits) == 2
    assert reopened == [time.waits[0], time.waits[0] + time.waits[1]]


def test_other_errors_are_raised_at_once() -> None:
    time = FakeTime()
    with pytest.raises(FailedPreconditionError):
        with_retries(
            _failing([FailedPreconditionError("finished")]),
            30,
            clock=time.clock,
            sleep=time.sleep,
        )
    assert time.waits == []


def test_waits_double_up_to_two_seconds_and_the_budget_ends_them() -> None:
    time = FakeTime()
    errors: list[HyperdialError] = [UnavailableError("down") for _ in range(1000)]
    with pytest.raises(UnavailableError) as raised:
        with_retries(_failing(errors), 20, clock=time.clock, sleep=time.sleep)
    assert raised.value.code is grpc.StatusCode.UNAVAILABLE
    ceilings = [min(0.05 * 2**k, 2.0) for k in range(len(time.waits))]
    assert all(c / 2 <= w <= c for w, c in zip(time.waits, ceilings, strict=True))
    assert time.now <= 20
    assert time.now + ceilings[-1] > 20 - 2.0  # it kept trying until the budget was nearly spent
