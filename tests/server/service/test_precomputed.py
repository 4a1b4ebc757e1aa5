"""When suggestions computed ahead may be handed out: after a new result only while other
workers' trials run, each once, and never one equal to a trial the study already has."""

from __future__ import annotations

import pytest

from hyperdial.server.algorithms.base import Suggestion
from hyperdial.server.service.compute import Precomputed, StudyComputations, suggestions_ahead

QUEUE = tuple(Suggestion({"x": x}) for x in (0.1, 0.2, 0.3))


def always(_: Suggestion) -> bool:
    return True


@pytest.mark.parametrize(
    ("results", "others_running", "usable"),
    [
        (3, False, True),  # no result since: fresh
        (4, True, True),  # a result arrived, other workers are busy: worth not waiting
        (4, False, False),  # a lone worker's result arrived: compute from it
    ],
)
def test_a_queue_is_used_only_when_fresh_or_when_others_are_busy(
    results: int, others_running: bool, usable: bool
) -> None:
    computations = StudyComputations()
    computations.keep(1, Precomputed(results=3, suggestions=QUEUE))
    taken = computations.take(1, results, others_running, 1, always)
    assert (taken is not None and taken.suggestions == QUEUE[:1]) is usable


def test_members_are_handed_out_in_order_once_skipping_known_configurations() -> None:
    computations = StudyComputations()
    computations.keep(1, Precomputed(results=3, suggestions=QUEUE))
    first = computations.take(1, 3, True, 1, lambda s: s.params["x"] != 0.1)
    assert first is not None
    assert first.suggestions == QUEUE[1:2]
    assert computations.queued(1) == 1
    assert computations.take(1, 3, True, 2, always) is None  # one left, two wanted: dropped
    assert computations.take(1, 3, True, 1, always) is None


@pytest.mark.parametrize(
    ("running", "waiting", "ahead"),
    [(0, 0, 1), (7, 0, 1), (8, 0, 2), (31, 0, 7), (31, 5, 12), (127, 0, 16), (127, 20, 16)],
)
def test_more_running_trials_and_waiting_workers_queue_more_suggestions_up_to_a_bound(
    running: int, waiting: int, ahead: int
) -> None:
    assert suggestions_ahead(running, waiting) == ahead
