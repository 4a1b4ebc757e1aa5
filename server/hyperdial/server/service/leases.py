"""Leases: a worker's claim on its PENDING trials, taken by Suggest and renewed by heartbeats.

A worker that asks again while it holds trials gets them back (renewed), so a
worker that restarts resumes its work instead of leaving it to expire.
Expired leases are turned STALE by the hand-out (`handout.py`), which is what
gives their budget slot back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from hyperdial.server.domain import StudyState, Suggested
from hyperdial.server.errors import InvalidArgument
from hyperdial.server.service.common import check_name, write
from hyperdial.server.service.handout import HandOut, HandOutResult, lease_until
from hyperdial.server.service.limits import DEFAULT_LIMITS, TRIAL_OVERHEAD_BYTES, Limits
from hyperdial.server.store.base import Store, StudyRecord, Transaction


def check_count(field: str, count: int, limits: Limits) -> int:
    """A requested number of trials: 0 means one."""
    count = count or 1
    if not 1 <= count <= limits.max_suggest_count:
        raise InvalidArgument(field, f"must be in 0..{limits.max_suggest_count}, got {count}")
    return count


class Leases:
    """Suggest (resume or hand out) and Heartbeat."""

    def __init__(
        self,
        store: Store,
        hand_out: HandOut,
        limits: Limits = DEFAULT_LIMITS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._hand_out = hand_out
        self._limits = limits
        self._clock = clock

    async def suggest(
        self, study_name: str, worker_id: str, count: int, *, force_new: bool = False
    ) -> Suggested:
        """Leases up to `count` trials to `worker_id`.

        A worker that holds PENDING trials gets them back (renewed) unless
        `force_new`. Expired leases turn STALE first: their budget slot comes
        back and, on a grid, their point is handed out again.
        """
        check_name("worker_id", worker_id, self._limits.max_name_length)
        count = check_count("count", count, self._limits)

        def op(txn: Transaction) -> HandOutResult:
            study = txn.lock_study(study_name)
            return self.in_transaction(txn, study, worker_id, count, force_new=force_new)

        result = await write(self._store, op, durable=False, study=study_name)
        return await self._hand_out.complete(study_name, worker_id, result)

    def in_transaction(
        self, txn: Transaction, study: StudyRecord, worker_id: str, count: int, *, force_new: bool
    ) -> HandOutResult:
        """The worker's own PENDING trials, renewed; else new ones (`HandOut`) unless paused."""
        # Never more trials than one answer carries: what is handed out must reach the worker.
        each = study.config.space.max_assignment_bytes + TRIAL_OVERHEAD_BYTES
        count = max(1, min(count, self._limits.answer_bytes // each))
        now = self._clock()
        until = lease_until(study, now)
        if not force_new:
            mine = txn.pending_trials(study, worker_id, count)
            if mine:
                txn.renew_leases(study.id, [t.number for t in mine], until)
                resumed = tuple(replace(t, lease_expires_at=until) for t in mine)
                return Suggested(resumed, study.state is StudyState.FINISHED, study.paused)
        if study.paused:
            self._hand_out.expire_while_paused(txn, study, now)
            return Suggested((), study.state is StudyState.FINISHED, study_paused=True)
        return self._hand_out.in_transaction(txn, study, worker_id, count, now)

    async def heartbeat(
        self, study_name: str, worker_id: str, numbers: Sequence[int]
    ) -> tuple[list[int], list[int], float]:
        """Renews the worker's PENDING trials (all, or those in `numbers`).

        Returns:
            The renewed trial numbers, the requested ones no longer leased to
            the worker, and the new lease end (epoch seconds).
        """
        check_name("worker_id", worker_id, self._limits.max_name_length)
        if len(numbers) > self._limits.max_suggest_count:
            raise InvalidArgument(
                "trial_ids", f"at most {self._limits.max_suggest_count} trials at once"
            )

        def op(txn: Transaction) -> tuple[list[int], list[int], float]:
            now = self._clock()
            study = txn.lock_study(study_name)
            held = {
                t.number
                for t in txn.pending_trials(study, worker_id, self._limits.max_suggest_count)
            }
            renewed = sorted(held & set(numbers)) if numbers else sorted(held)
            until = lease_until(study, now)
            if renewed:
                txn.renew_leases(study.id, renewed, until)
            lost = sorted(set(numbers) - held)
            return renewed, lost, until

        return await write(self._store, op, durable=False, study=study_name)
