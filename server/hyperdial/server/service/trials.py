"""The trial services together (hand-out, leases, outcomes), and the reads of a study's trials.

Every state change runs as one store write op, so reading the study's
counters, drawing from the algorithm and inserting the trials happen in one
transaction: two Suggests never get the same trial number or grid point.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from hyperdial.server.domain import Trial, TrialState
from hyperdial.server.errors import InvalidArgument
from hyperdial.server.metrics import ServerMetrics
from hyperdial.server.pareto import Front, pareto_front
from hyperdial.server.service.common import (
    decode_token,
    encode_token,
    find_study,
    page_size,
    read,
)
from hyperdial.server.service.compute import ComputePool
from hyperdial.server.service.handout import HandOut
from hyperdial.server.service.leases import Leases
from hyperdial.server.service.limits import DEFAULT_LIMITS, Limits, fitting, trial_bytes
from hyperdial.server.service.outcomes import Outcomes
from hyperdial.server.service.queue import TrialQueue
from hyperdial.server.service.recommendations import Recommendations, Recommended
from hyperdial.server.service.suggesters import SuggesterCache
from hyperdial.server.store.base import Store, StudyRecord, Transaction

MAX_BEST = 1000


@dataclass(frozen=True)
class BestTrials:
    """GetBestTrials' answer: the best trials (or front) and, for one objective, the pick."""

    front: Front
    recommended: Recommended | None


class TrialReads:
    """ListTrials and GetBestTrials: reads, never on the path of Suggest or Observe."""

    def __init__(
        self, store: Store, compute: ComputePool, limits: Limits = DEFAULT_LIMITS
    ) -> None:
        self._store = store
        self._limits = limits
        self._recommendations = Recommendations(store, compute)

    async def list_trials(
        self,
        study_name: str,
        states: Sequence[TrialState],
        requested_page_size: int,
        page_token: str,
        *,
        include_measurements: bool = False,
        start_id: int = 0,
    ) -> tuple[list[Trial], str]:
        """One page of trials by number and the token of the next page.

        Without a token the page starts at trial `start_id` (0 and 1: the first).

        A page holds at most `page_size` trials and what fits in an answer.
        """
        limit = page_size(requested_page_size)
        if start_id < 0:
            raise InvalidArgument("start_id", f"must be >= 0, got {start_id}")
        after = decode_token(page_token) if page_token else max(0, start_id - 1)

        def op(txn: Transaction) -> tuple[list[Trial], str]:
            study = find_study(txn, study_name)
            found = txn.list_trials(study, states, after, limit + 1)
            candidates: Iterable[Trial] = found[:limit]
            if include_measurements and found:
                # One query for the page's curves (the page may be cut shorter below).
                curves = txn.curves(study, found[0].number, found[:limit][-1].number)
                candidates = (
                    replace(t, measurements=curves.get(t.number, ())) for t in found[:limit]
                )
            page = fitting(candidates, trial_bytes, self._limits.answer_bytes)
            more = len(page) < len(found)
            return page, encode_token(page[-1].number) if more else ""

        return await read(self._store, op)

    async def best_trials(self, study_name: str, count: int) -> BestTrials:
        """The best completed trials that meet the constraints, with their curves.

        For several objectives: the Pareto front (all of it when `count` is 0)
        with its hypervolume, computed from every completed trial. For one: the
        recommended trial beside them.
        """
        if not 0 <= count <= MAX_BEST:
            raise InvalidArgument("count", f"must be in 0..{MAX_BEST}, got {count}")

        def op(txn: Transaction) -> tuple[StudyRecord, Front]:
            study = find_study(txn, study_name)
            if study.config.multi_objective:
                completed = txn.list_trials(study, [TrialState.COMPLETED], 0, 2**62)
                front = pareto_front(study.config, completed)
                best = front.trials[:count] if count else front.trials
            else:
                front = Front((), 0.0, ())
                best = tuple(txn.best_trials(study, count or 1))
            curves = (replace(t, measurements=txn.measurements(study, t.number)) for t in best)
            # As many as fit in one answer, best first.
            fit = fitting(curves, trial_bytes, self._limits.answer_bytes)
            return study, replace(front, trials=tuple(fit))

        study, front = await read(self._store, op)
        if study.config.multi_objective:
            return BestTrials(front, None)
        return BestTrials(front, await self._recommendations.of(study))


class TrialServices:
    """The trial services over one store, sharing one hand-out (and its compute pool)."""

    def __init__(
        self,
        store: Store,
        suggesters: SuggesterCache,
        limits: Limits = DEFAULT_LIMITS,
        clock: Callable[[], float] = time.time,
        metrics: ServerMetrics | None = None,
        compute: ComputePool | None = None,
    ) -> None:
        compute = compute or ComputePool()
        self._hand_out = HandOut(store, suggesters, clock, metrics, compute)
        self.leases = Leases(store, self._hand_out, limits, clock)
        self.outcomes = Outcomes(store, self.leases, self._hand_out, limits, clock, metrics)
        self.reads = TrialReads(store, compute, limits)
        self.queue = TrialQueue(store, clock)

    async def close(self) -> None:
        """Stops background computations and the compute pool."""
        await self._hand_out.close()
