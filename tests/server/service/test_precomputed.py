"""When a suggestion computed ahead may be handed out: never after another hand-out, and
after a new result only while other workers' trials run."""

from __future__ import annotations

import pytest

from hyperdial.server.algorithms.base import SuggestBatch, Suggestion
from hyperdial.server.service.compute import Precomputed, StudyComputations

BATCH = SuggestBatch((Suggestion({"x": 0.5}),))


@pytest.mark.parametrize(
    ("version", "results", "others_running", "usable"),
    [
        (7, 3, False, True),  # nothing happened since: fresh
        (7, 4, True, True),  # a result arrived, other workers are busy: worth not waiting
        (7, 4, False, False),  # a lone worker's result arrived: compute from it
        (8, 3, True, False),  # another trial was handed out: it might be the same point
    ],
)
def test_a_precomputed_batch_is_used_only_when_fresh_or_when_others_are_busy(
    version: int, results: int, others_running: bool, usable: bool
) -> None:
    computations = StudyComputations()
    computations.keep(1, Precomputed(version=7, results=3, batch=BATCH))
    taken = computations.take(1, version, results, others_running, count=1)
    assert (taken == BATCH) is usable
    assert computations.take(1, 7, 3, False, count=1) is None  # taken or dropped: once
