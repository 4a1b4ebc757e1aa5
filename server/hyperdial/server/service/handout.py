"""Hands out new trials: queued, drawn inside the write transaction, or computed outside it.

Grid and random draw their trials inside the writer's transaction (cheap and
deterministic). A learning suggester (bayes) cannot: the transaction only
plans the work (`Planned`), the model is fitted in the compute pool
(`compute.py`), and a second transaction hands out the result unless another
trial was handed out meanwhile. Queued configurations (EnqueueTrials),
re-issued grid points, retries and expired leases are handled here too, since
all change what the next trial is.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from hyperdial.server.algorithms.base import History, SuggestBatch
from hyperdial.server.domain import StudyState, Suggested
from hyperdial.server.errors import Conflict
from hyperdial.server.metrics import ServerMetrics
from hyperdial.server.service.budget import Room, room, shorter_grant, spent
from hyperdial.server.service.common import read, write
from hyperdial.server.service.compute import (
    MAX_AHEAD,
    ComputePool,
    Precomputed,
    StudyComputations,
    held_across_replicas,
    suggestions_ahead,
)
from hyperdial.server.service.history import history
from hyperdial.server.service.suggesters import SuggesterCache
from hyperdial.server.space.features import canonical
from hyperdial.server.store.base import NewTrial, Store, StudyRecord, Transaction

# Leases are checked for expiry at most this often per study: the check is cheap but
# runs on every Suggest, and a trial turning STALE a second late changes nothing.
EXPIRY_CHECK_SECONDS = 1.0
# A learned suggestion is recomputed when another trial was handed out meanwhile; this
# many times at most before the caller is told to retry.
MAX_COMPUTE_ATTEMPTS = 5


@dataclass(frozen=True)
class Planned:
    """A learning suggester must compute `wanted` trials outside the transaction."""

    study_id: int
    wanted: int


@dataclass(frozen=True)
class Fresh:
    """New trials a transaction handed out: counted in the metrics once it commits."""

    suggested: Suggested
    algorithm: str


# What a hand-out transaction returns: trials a worker already held, new ones, or a plan.
HandOutResult = Suggested | Fresh | Planned


def lease_until(study: StudyRecord, now: float) -> float:
    """When a lease taken or renewed at `now` ends."""
    return now + study.config.lease_seconds


class HandOut:
    """Chooses, inserts and counts new trials for a worker."""

    def __init__(
        self,
        store: Store,
        suggesters: SuggesterCache,
        clock: Callable[[], float] = time.time,
        metrics: ServerMetrics | None = None,
        compute: ComputePool | None = None,
    ) -> None:
        self._store = store
        self._suggesters = suggesters
        self._clock = clock
        self._metrics = metrics
        self._compute = compute or ComputePool()
        self._computations = StudyComputations()
        self._next_expiry_check: dict[int, float] = {}  # by study id; touched by the writer only

    def expire_leases(self, txn: Transaction, study: StudyRecord, now: float) -> int:
        """Turns the study's expired leases STALE, at most every EXPIRY_CHECK_SECONDS.

        Returns how many: the budget slots they give back.
        """
        if now < self._next_expiry_check.get(study.id, 0.0):
            return 0
        self._next_expiry_check[study.id] = now + EXPIRY_CHECK_SECONDS
        return txn.expire_leases(study.id, now)

    def expire_while_paused(self, txn: Transaction, study: StudyRecord, now: float) -> None:
        """A paused study's vanished workers still lose their trials (and give the slots back)."""
        expired = self.expire_leases(txn, study, now)
        if expired:
            txn.update_study(
                study.id,
                draws=study.draws,
                trial_count=study.trial_count,
                budget_used=study.budget_used - expired,
                state=study.state,
            )

    def in_transaction(
        self, txn: Transaction, study: StudyRecord, worker_id: str, count: int, now: float
    ) -> Fresh | Planned:
        """Hands out up to `count` new trials, or plans their computation."""
        config = study.config
        budget_used = study.budget_used - self.expire_leases(txn, study, now)
        fits = room(txn, study, budget_used, count)
        wanted = len(fits.step_budgets)
        suggester = self._suggesters.get(study)
        new: list[NewTrial] = []
        if study.queued and wanted:  # configurations a user asked for come first
            new += [NewTrial(params, None) for params in txn.take_queued(study.id, wanted)]
        if suggester.reissues_stale and len(new) < wanted:
            requeued = txn.take_requeued(study.id, wanted - len(new), config.max_reissues)
            new += [NewTrial(p.params, p.grid_index) for p in requeued]
        if config.max_retries and len(new) < wanted:
            retries = txn.take_retries(study.id, wanted - len(new), config.max_retries)
            new += [NewTrial(r.params, r.grid_index, retry_of=r.first) for r in retries]
        requeue_drained = len(new) < wanted
        if suggester.learns and wanted:
            # Queued configurations and those to try again need no model: handed out now. Else
            # the suggestions are computed outside this transaction; the expiry above is kept.
            fresh = self._insert(
                txn, study, worker_id, new, SuggestBatch(()), budget_used, now, fits
            )
            return fresh if new else Planned(study.id, wanted)
        started = time.perf_counter()
        batch = suggester.suggest(
            config.space, History(draws=study.draws), wanted - len(new), config.seed
        )
        self._observe_compute(study, time.perf_counter() - started)
        return self._insert(
            txn,
            study,
            worker_id,
            new,
            batch,
            budget_used,
            now,
            fits,
            requeue_drained=requeue_drained,
        )

    async def complete(self, study_name: str, worker_id: str, result: HandOutResult) -> Suggested:
        """What a committed hand-out transaction gives the worker: counted, or computed first."""
        if isinstance(result, Suggested):
            return result
        if isinstance(result, Fresh):
            self._count(result)
            return result.suggested
        for _ in range(MAX_COMPUTE_ATTEMPTS):
            fresh = await self._compute_and_hand_out(study_name, worker_id, result)
            if fresh is not None:
                self._count(fresh)
                return fresh.suggested
        raise Conflict(
            f"study {study_name!r}: other trials were handed out during each of "
            f"{MAX_COMPUTE_ATTEMPTS} computations; retry"
        )

    async def close(self) -> None:
        """Stops background computations and the compute pool."""
        await self._computations.close()
        self._compute.close()

    def _count(self, fresh: Fresh) -> None:
        trials = fresh.suggested.trials
        if self._metrics is not None and trials:
            label = self._metrics.study_label(trials[0].study_name)
            self._metrics.suggestions.labels(label, fresh.algorithm).inc(len(trials))

    def _observe_compute(self, study: StudyRecord, seconds: float) -> None:
        if self._metrics is not None:
            self._metrics.suggestion_seconds.labels(study.config.algorithm.name).observe(seconds)

    def _insert(
        self,
        txn: Transaction,
        study: StudyRecord,
        worker_id: str,
        new: list[NewTrial],
        batch: SuggestBatch,
        budget_used: int,
        now: float,
        fits: Room,
        *,
        requeue_drained: bool = True,
    ) -> Fresh:
        """Inserts re-issued and freshly suggested trials and advances the study's counters.

        `fits` grants each its step budget; the steps it leaves may finish the study.
        """
        config = study.config
        asked = [0] * len(new) + [s.step_budget for s in batch.suggestions]
        new = new + [NewTrial(dict(s.params), s.grid_index) for s in batch.suggestions]
        fitting = fits.step_budgets[: len(new)]  # each fits: `fits` bounded what was drawn
        granted = [shorter_grant(config, f, ask) for f, ask in zip(fitting, asked, strict=True)]
        new = [replace(t, step_budget=steps) for t, steps in zip(new, granted, strict=True)]
        left = fits.steps_left
        if left is not None:  # grants `new` does not take stay in the study
            left += sum(fits.step_budgets) - sum(granted)
        budget_used += len(new)
        exhausted = batch.finished and requeue_drained
        finished = spent(config, budget_used, left) or exhausted
        state = StudyState.FINISHED if finished else StudyState.ACTIVE
        trials = (
            txn.insert_trials(
                study, study.trial_count + 1, new, worker_id, now, lease_until(study, now)
            )
            if new
            else []
        )
        if new or state is not study.state or budget_used != study.budget_used:
            txn.update_study(
                study.id,
                draws=study.draws + len(batch.suggestions),
                trial_count=study.trial_count + len(new),
                budget_used=budget_used,
                state=state,
            )
        suggested = Suggested(tuple(trials), state is StudyState.FINISHED)
        return Fresh(suggested, config.algorithm.name)

    async def _history(self, study_name: str) -> tuple[StudyRecord, History]:
        """The study and what its learning suggester needs, read off the event loop."""
        return await read(self._store, lambda txn: history(txn, study_name, self._suggesters))

    async def _compute_and_hand_out(
        self, study_name: str, worker_id: str, planned: Planned
    ) -> Fresh | None:
        """One attempt: None when trials were handed out while it computed."""
        async with self._computations.turn(planned.study_id):
            study, observed = await self._history(study_name)
            batch = self._precomputed(study, observed, planned.wanted)
            if batch is None and self._computations.precomputing(study.id):
                # The computation ahead is the quickest way to a suggestion: wait for it.
                await self._computations.precomputed(study.id)
                study, observed = await self._history(study_name)
                batch = self._precomputed(study, observed, planned.wanted)
            if batch is None:
                batch = await self._computed_for_waiting(study, observed, planned.wanted)
            computed = batch
            fresh = await write(
                self._store,
                lambda txn: self._hand_out_computed(
                    txn, study_name, study.trial_count, worker_id, computed
                ),
                durable=False,
                study=study_name,
            )
            if fresh is not None and observed.pending:
                self._refill(study, study_name, len(observed.pending), fresh)
        return fresh

    async def _computed_for_waiting(
        self, study: StudyRecord, observed: History, count: int
    ) -> SuggestBatch:
        """`count` suggestions; as many more are queued as Suggests wait for the study.

        Workers that came back during a computation get their suggestions from
        one fit, one after the other, instead of a fit each.
        """
        extra = 0
        if observed.pending and self._suggesters.get(study).precompute:
            extra = min(self._computations.waiting(study.id), MAX_AHEAD)
            if study.config.max_trials:
                extra = min(extra, study.config.max_trials - study.budget_used - count)
        async with held_across_replicas(self._store, study.id):
            batch = await self._computed(study, observed, count + max(0, extra))
        if len(batch.suggestions) > count:
            rest = batch.suggestions[count:]
            self._computations.keep(study.id, Precomputed(observed.results, rest))
        return SuggestBatch(batch.suggestions[:count], batch.finished)

    def _refill(self, study: StudyRecord, study_name: str, pending: int, fresh: Fresh) -> None:
        """Computes the next suggestions ahead once the study's queue runs half empty.

        Only while other workers' trials are running (`pending` of them) does a
        suggestion computed ahead get used before the next result makes it
        stale: a lone worker's next Suggest follows its own Observe, so it is
        computed then, from that result.
        """
        running = pending + len(fresh.suggested.trials)
        if (
            not fresh.suggested.study_finished
            and self._suggesters.get(study).precompute
            and self._computations.queued(study.id) <= suggestions_ahead(running) // 2
        ):
            self._computations.precompute(study.id, lambda: self._precompute(study_name, study.id))

    def _precomputed(
        self, study: StudyRecord, observed: History, count: int
    ) -> SuggestBatch | None:
        """`count` suggestions from the study's queue: new ones, or deliberate repeats."""
        if not self._computations.queued(study.id):
            return None  # spares the event loop a pass over every trial
        space = study.config.space
        known = {canonical(space, params) for params in observed.pending}
        known |= {canonical(space, o.params) for o in observed.completed}
        known |= {canonical(space, params) for params in observed.infeasible}
        return self._computations.take(
            study.id,
            observed.results,
            others_running=bool(observed.pending),
            count=count,
            is_new=lambda s: s.repeat or canonical(space, s.params) not in known,
        )

    async def _computed(self, study: StudyRecord, observed: History, count: int) -> SuggestBatch:
        """The suggester's batch for `observed`, computed in the pool and timed.

        Points that need no model (bayes's initial design) are drawn here: a
        fresh study's first workers then wait neither for each other's turns in
        the pool nor for its worker processes to start.
        """
        config = study.config
        suggester = self._suggesters.get(study)
        if not suggester.needs_model(observed):
            return await asyncio.to_thread(
                suggester.suggest, config.space, observed, count, config.seed
            )
        observed = replace(observed, model_state=self._computations.model_state(study.id))
        batch, seconds = await self._compute.run(
            config.space, config.algorithm, observed, count, config.seed
        )
        self._computations.remember(study.id, batch)
        self._observe_compute(study, seconds)
        return batch

    def _hand_out_computed(
        self, txn: Transaction, study_name: str, version: int, worker_id: str, batch: SuggestBatch
    ) -> Fresh | None:
        """Hands out a computed batch, unless trials were handed out since it was computed.

        A study paused meanwhile hands out nothing.
        """
        study = txn.lock_study(study_name)
        if study.paused:  # paused while it computed: the batch waits in no one's hands
            paused = Suggested((), study.state is StudyState.FINISHED, study_paused=True)
            return Fresh(paused, study.config.algorithm.name)
        if study.trial_count != version:
            return None
        fits = room(txn, study, study.budget_used, len(batch.suggestions))
        batch = SuggestBatch(batch.suggestions[: len(fits.step_budgets)], batch.finished)
        return self._insert(
            txn, study, worker_id, [], batch, study.budget_used, self._clock(), fits
        )

    async def _precompute(self, study_name: str, study_id: int) -> None:
        """Computes the study's next suggestions with its handed-out trials pending.

        It holds no study lock while it computes: workers take what is left of
        the previous queue meanwhile, and the new queue skips what they took.
        """
        study, observed = await self._history(study_name)
        max_trials = study.config.max_trials
        if study.state is StudyState.FINISHED or study.config.budget_spent(study.budget_used):
            return
        ahead = suggestions_ahead(len(observed.pending), self._computations.waiting(study_id))
        if max_trials:
            ahead = min(ahead, max_trials - study.budget_used)
        async with held_across_replicas(self._store, study_id):
            batch = await self._computed(study, observed, ahead)
        self._computations.keep(study.id, Precomputed(observed.results, batch.suggestions))
