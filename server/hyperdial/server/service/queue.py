"""EnqueueTrials: configurations a user wants tried next, handed out before the algorithm's.

Queued configurations are promised trials, so the queue never holds more than
the budget has left; the hand-out (`handout.py`) takes them oldest first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hyperdial.server.domain import StudyState
from hyperdial.server.errors import FailedPrecondition, InvalidArgument, ResourceExhausted
from hyperdial.server.service.common import write
from hyperdial.server.space import ParamValue
from hyperdial.server.space.features import canonical
from hyperdial.server.store.base import Store, Transaction

MAX_ENQUEUED = 10_000  # per request
MAX_QUEUE_LENGTH = 100_000  # per study: a study with no budget has no other bound


@dataclass(frozen=True)
class Enqueued:
    """What EnqueueTrials did: how many it queued, and the queue's length now."""

    queued: int
    queue_length: int


class TrialQueue:
    """Appends checked configurations to a study's queue."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    async def enqueue(
        self,
        study_name: str,
        assignments: Sequence[dict[str, ParamValue]],
        *,
        skip_if_queued: bool = False,
    ) -> Enqueued:
        """Queues `assignments` in order, all or nothing.

        Raises InvalidArgument naming the first bad value, FailedPrecondition
        when the budget has no room for them, ResourceExhausted past the
        queue's bound. A study finished by its grid opens again: it has work.
        """
        if not 1 <= len(assignments) <= MAX_ENQUEUED:
            raise InvalidArgument("trials", f"queue 1..{MAX_ENQUEUED} configurations per request")

        def op(txn: Transaction) -> Enqueued:
            study = txn.lock_study(study_name)
            space = study.config.space
            checked = []
            for i, params in enumerate(assignments):
                try:
                    checked.append(space.check_assignment(params))
                except InvalidArgument as error:
                    raise error.within(f"trials[{i}].parameters") from None
            if skip_if_queued:
                seen = {canonical(space, p) for p in txn.queued_assignments(study.id)}
                fresh = []
                for params in checked:
                    key = canonical(space, params)
                    if key not in seen:
                        seen.add(key)
                        fresh.append(params)
                checked = fresh
            _check_room(
                study_name, study.config.max_trials, study.budget_used, study.queued, len(checked)
            )
            txn.enqueue(study.id, checked, self._clock())
            if checked and study.state is StudyState.FINISHED:
                txn.update_study(
                    study.id,
                    draws=study.draws,
                    trial_count=study.trial_count,
                    budget_used=study.budget_used,
                    state=StudyState.ACTIVE,
                )
            return Enqueued(len(checked), study.queued + len(checked))

        return await write(self._store, op, durable=True, study=study_name)


def _check_room(name: str, max_trials: int, budget_used: int, queued: int, adding: int) -> None:
    """FailedPrecondition when the budget has no room; ResourceExhausted past the bound."""
    if queued + adding > MAX_QUEUE_LENGTH:
        raise ResourceExhausted(
            f"study {name!r} would queue {queued + adding} configurations; at most "
            f"{MAX_QUEUE_LENGTH} may wait"
        )
    if max_trials and budget_used + queued + adding > max_trials:
        room = max(0, max_trials - budget_used - queued)
        raise FailedPrecondition(
            f"trials: study {name!r} has room for {room} more queued trials in its budget of "
            f"{max_trials} ({budget_used} handed out, {queued} queued), asked {adding}; raise "
            f"max_trials with UpdateStudy (hyperdial study update {name} --max-trials N) first"
        )
