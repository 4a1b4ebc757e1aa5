"""Trial lifecycle: suggest (lease), report progress, observe, list, best.

Every state change runs as one store write op, so reading the study's
counters, drawing from the algorithm and inserting the trials happen in one
transaction: two Suggests never get the same trial number or grid point.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from hyperdial.server.algorithms.base import History, Observed, SuggestBatch
from hyperdial.server.domain import (
    Goal,
    StudyState,
    Trial,
    TrialState,
)
from hyperdial.server.errors import Conflict, FailedPrecondition, InvalidArgument, NotFound
from hyperdial.server.metrics import ServerMetrics
from hyperdial.server.pareto import Front, pareto_front
from hyperdial.server.service.common import (
    check_name,
    decode_token,
    encode_token,
    page_size,
    read,
    write,
)
from hyperdial.server.service.compute import (
    ComputePool,
    Precomputed,
    StudyComputations,
    held_across_replicas,
)
from hyperdial.server.service.limits import (
    DEFAULT_LIMITS,
    TRIAL_OVERHEAD_BYTES,
    Limits,
    fitting,
    trial_bytes,
)
from hyperdial.server.service.suggesters import SuggesterCache
from hyperdial.server.service.values import Outcome, Suggested
from hyperdial.server.space import ParamValue
from hyperdial.server.stopping.rules import make_rule
from hyperdial.server.store.base import NewTrial, Store, StudyRecord, Transaction

# Leases are checked for expiry at most this often per study: the check is cheap but
# runs on every Suggest, and a trial turning STALE a second late changes nothing.
EXPIRY_CHECK_SECONDS = 1.0
MAX_BEST = 1000
MAX_IMPORTED = 10_000
IMPORT_WORKER = "import"
# A learned suggestion is recomputed when another trial was handed out meanwhile; this
# many times at most before the caller is told to retry.
MAX_COMPUTE_ATTEMPTS = 5
_HISTORY_STATES = (TrialState.COMPLETED, TrialState.INFEASIBLE, TrialState.PENDING)


@dataclass(frozen=True)
class Planned:
    """A learning suggester must compute `wanted` trials outside the transaction."""

    study_id: int
    wanted: int


def _lease_until(study: StudyRecord, now: float) -> float:
    return now + study.config.lease_seconds


def _history(txn: Transaction, study_name: str) -> tuple[StudyRecord, History]:
    """The study and what a learning suggester needs of its trials."""
    study = _find(txn, study_name)
    config = study.config
    trials = txn.list_trials(study, _HISTORY_STATES, 0, 2**62)
    several = config.multi_objective
    return study, History(
        draws=study.draws,
        completed=tuple(
            Observed(
                t.params,
                t.value,
                config.objective_values(t.metrics) if several else (),
                config.constraint_slacks(t.metrics),
            )
            for t in trials
            if t.state is TrialState.COMPLETED and t.value is not None
        ),
        infeasible=tuple(t.params for t in trials if t.state is TrialState.INFEASIBLE),
        pending=tuple(t.params for t in trials if t.state is TrialState.PENDING),
        maximize=config.objective.goal is Goal.MAXIMIZE,
        objectives=config.objectives if several else (),
    )


class TrialService:
    """Hands out trials and records what workers report about them."""

    def __init__(
        self,
        store: Store,
        suggesters: SuggesterCache,
        limits: Limits = DEFAULT_LIMITS,
        clock: Callable[[], float] = time.time,
        metrics: ServerMetrics | None = None,
        compute: ComputePool | None = None,
    ) -> None:
        self._metrics = metrics
        self._compute = compute or ComputePool()
        self._computations = StudyComputations()
        self._limits = limits
        self._store = store
        self._suggesters = suggesters
        self._clock = clock
        self._next_expiry_check: dict[int, float] = {}  # by study id; touched by the writer only

    async def suggest(
        self, study_name: str, worker_id: str, count: int, *, force_new: bool = False
    ) -> Suggested:
        """Leases up to `count` trials to `worker_id`.

        A worker that holds PENDING trials gets them back (renewed) unless
        `force_new`. Expired leases turn STALE first: their budget slot comes
        back and, on a grid, their point is handed out again.
        """
        check_name("worker_id", worker_id, self._limits.max_name_length)
        count = _check_count("count", count, self._limits)

        def op(txn: Transaction) -> Suggested | Planned:
            study = txn.lock_study(study_name)
            return self._suggest(txn, study, worker_id, count, force_new=force_new)

        planned = await write(self._store, op, durable=False, study=study_name)
        return await self._complete(study_name, worker_id, planned)

    async def close(self) -> None:
        """Stops background computations and the compute pool."""
        await self._computations.close()
        self._compute.close()

    def _suggest(
        self, txn: Transaction, study: StudyRecord, worker_id: str, count: int, *, force_new: bool
    ) -> Suggested | Planned:
        # Never more trials than one answer carries: what is handed out must reach the worker.
        each = study.config.space.max_assignment_bytes + TRIAL_OVERHEAD_BYTES
        count = max(1, min(count, self._limits.answer_bytes // each))
        now = self._clock()
        lease_until = _lease_until(study, now)
        if not force_new:
            mine = txn.pending_trials(study, worker_id, count)
            if mine:
                txn.renew_leases(study.id, [t.number for t in mine], lease_until)
                expires = datetime.fromtimestamp(lease_until, UTC)
                resumed = tuple(replace(t, lease_expires_at=expires) for t in mine)
                return Suggested(resumed, study.state is StudyState.FINISHED)
        return self._hand_out(txn, study, worker_id, count, now)

    def _hand_out(
        self, txn: Transaction, study: StudyRecord, worker_id: str, count: int, now: float
    ) -> Suggested | Planned:
        config = study.config
        budget_used = study.budget_used
        if now >= self._next_expiry_check.get(study.id, 0.0):
            budget_used -= txn.expire_leases(study.id, now)
            self._next_expiry_check[study.id] = now + EXPIRY_CHECK_SECONDS
        wanted = count
        if config.max_trials:
            wanted = max(0, min(count, config.max_trials - budget_used))
        suggester = self._suggesters.get(study)
        new: list[NewTrial] = []
        if suggester.reissues_stale and wanted:
            requeued = txn.take_requeued(study.id, wanted, config.max_reissues)
            new += [NewTrial(p.params, p.grid_index) for p in requeued]
        requeue_drained = len(new) < wanted
        if suggester.learns and wanted:
            # Computed outside this transaction; the expiry above is kept meanwhile.
            self._insert(txn, study, worker_id, new, SuggestBatch(()), budget_used, now)
            return Planned(study.id, wanted)
        started = time.perf_counter()
        batch = suggester.suggest(
            config.space, History(draws=study.draws), wanted - len(new), config.seed
        )
        self._observe_compute(study, time.perf_counter() - started)
        return self._insert(
            txn, study, worker_id, new, batch, budget_used, now, requeue_drained=requeue_drained
        )

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
        *,
        requeue_drained: bool = True,
    ) -> Suggested:
        """Inserts re-issued and freshly suggested trials and advances the study's counters."""
        config = study.config
        lease_until = _lease_until(study, now)
        if self._metrics is not None and (new or batch.suggestions):
            label = self._metrics.study_label(study.name)
            handed = len(new) + len(batch.suggestions)
            self._metrics.suggestions.labels(label, config.algorithm.name).inc(handed)
        new = new + [NewTrial(dict(s.params), s.grid_index) for s in batch.suggestions]
        budget_used += len(new)
        spent = bool(config.max_trials) and budget_used >= config.max_trials
        exhausted = batch.finished and requeue_drained
        state = StudyState.FINISHED if spent or exhausted else StudyState.ACTIVE
        trials = (
            txn.insert_trials(study, study.trial_count + 1, new, worker_id, now, lease_until)
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
        return Suggested(tuple(trials), state is StudyState.FINISHED)

    async def _complete(
        self, study_name: str, worker_id: str, outcome: Suggested | Planned
    ) -> Suggested:
        """Returns `outcome`, or computes what it plans and hands that out."""
        if isinstance(outcome, Suggested):
            return outcome
        for _ in range(MAX_COMPUTE_ATTEMPTS):
            suggested = await self._compute_and_commit(study_name, worker_id, outcome)
            if suggested is not None:
                return suggested
        raise Conflict(
            f"study {study_name!r}: other trials were handed out during each of "
            f"{MAX_COMPUTE_ATTEMPTS} computations; retry"
        )

    async def _compute_and_commit(
        self, study_name: str, worker_id: str, planned: Planned
    ) -> Suggested | None:
        """One attempt: None when trials were handed out while it computed."""
        async with (
            self._computations.lock(planned.study_id),
            held_across_replicas(self._store, planned.study_id),
        ):
            study, history = await read(self._store, lambda txn: _history(txn, study_name))
            batch = self._computations.take(study.id, study.trial_count, planned.wanted)
            if batch is None:
                batch = await self._run(study, history, planned.wanted)
            computed = batch
            suggested = await write(
                self._store,
                lambda txn: self._commit(txn, study_name, study.trial_count, worker_id, computed),
                durable=False,
                study=study_name,
            )
        if (
            suggested is not None
            and not suggested.study_finished
            and self._suggesters.get(study).precompute
        ):
            self._computations.in_background(lambda: self._precompute(study_name, study.id))
        return suggested

    async def _run(self, study: StudyRecord, history: History, count: int) -> SuggestBatch:
        config = study.config
        batch, seconds = await self._compute.run(
            config.space, config.algorithm, history, count, config.seed
        )
        self._observe_compute(study, seconds)
        return batch

    def _commit(
        self, txn: Transaction, study_name: str, version: int, worker_id: str, batch: SuggestBatch
    ) -> Suggested | None:
        """Hands out a computed batch, unless trials were handed out since it was computed."""
        study = txn.lock_study(study_name)
        if study.trial_count != version:
            return None
        room = len(batch.suggestions)
        if study.config.max_trials:
            room = max(0, min(room, study.config.max_trials - study.budget_used))
        batch = SuggestBatch(batch.suggestions[:room], batch.finished)
        return self._insert(txn, study, worker_id, [], batch, study.budget_used, self._clock())

    async def _precompute(self, study_name: str, study_id: int) -> None:
        """Computes the study's next suggestion with its handed-out trials pending."""
        async with (
            self._computations.lock(study_id),
            held_across_replicas(self._store, study_id),
        ):
            study, history = await read(self._store, lambda txn: _history(txn, study_name))
            max_trials = study.config.max_trials
            if study.state is StudyState.FINISHED or (
                max_trials and study.budget_used >= max_trials
            ):
                return
            batch = await self._run(study, history, 1)
            self._computations.keep(study.id, Precomputed(study.trial_count, batch))

    async def heartbeat(
        self, study_name: str, worker_id: str, numbers: Sequence[int]
    ) -> tuple[list[int], list[int], datetime]:
        """Renews the worker's PENDING trials (all, or those in `numbers`).

        Returns:
            The renewed trial numbers, the requested ones no longer leased to
            the worker, and the new lease end.
        """
        check_name("worker_id", worker_id, self._limits.max_name_length)
        if len(numbers) > self._limits.max_suggest_count:
            raise InvalidArgument(
                "trial_ids", f"at most {self._limits.max_suggest_count} trials at once"
            )

        def op(txn: Transaction) -> tuple[list[int], list[int], datetime]:
            now = self._clock()
            study = txn.lock_study(study_name)
            held = {
                t.number
                for t in txn.pending_trials(study, worker_id, self._limits.max_suggest_count)
            }
            renewed = sorted(held & set(numbers)) if numbers else sorted(held)
            lease_until = _lease_until(study, now)
            if renewed:
                txn.renew_leases(study.id, renewed, lease_until)
            lost = sorted(set(numbers) - held)
            return renewed, lost, datetime.fromtimestamp(lease_until, UTC)

        return await write(self._store, op, durable=False, study=study_name)

    async def report_progress(
        self, study_name: str, number: int, worker_id: str, step: int, value: float
    ) -> tuple[bool, datetime]:
        """Records an intermediate value and renews the lease.

        Returns:
            Whether the study's stopping rule says the trial should stop, and
            the new lease end.
        """
        check_name("worker_id", worker_id, self._limits.max_name_length)
        if step < 0:
            raise InvalidArgument("step", f"must be >= 0, got {step}")
        if not math.isfinite(value):
            raise InvalidArgument("value", f"must be a finite number, got {value}")

        def op(txn: Transaction) -> tuple[bool, datetime]:
            now = self._clock()
            study = txn.lock_study(study_name)
            trial = txn.get_trial(study, number)
            _check_owner(trial, worker_id)
            if trial.state is not TrialState.PENDING:
                raise FailedPrecondition(
                    f"trial {number} of study {study_name!r} is {trial.state.value}; "
                    "progress is only accepted while it is PENDING"
                )
            lease_until = _lease_until(study, now)
            txn.add_measurement(study, number, step, value, lease_until)
            rule = make_rule(study.config.stopping)
            stop = False
            if rule is not None and rule.decides_at(step):
                stop = rule.should_stop(
                    study.config.objective.goal,
                    step,
                    txn.measurements(study, number),
                    txn.values_at_step(study, step, exclude=number),
                )
            return stop, datetime.fromtimestamp(lease_until, UTC)

        return await write(self._store, op, durable=False, study=study_name)

    async def observe(
        self,
        study_name: str,
        number: int,
        worker_id: str,
        request_id: str,
        outcome: Outcome,
        *,
        next_count: int = 0,
    ) -> tuple[Trial, Suggested | None]:
        """Ends a trial; durable when it returns.

        Idempotent: the same `request_id` again returns the first result; the
        same outcome again returns the trial unchanged; another outcome for a
        finished trial raises FailedPrecondition. With `next_count`, also hands
        the worker its next trials in the same transaction (a retry gets the
        same ones back, as they are the worker's pending trials by then).
        """
        check_name("worker_id", worker_id, self._limits.max_name_length)
        if len(request_id) > 128:
            raise InvalidArgument("request_id", "must be at most 128 characters")
        if next_count:
            next_count = _check_count("next_count", next_count, self._limits)

        def op(txn: Transaction) -> tuple[Trial, Suggested | Planned | None]:
            study = txn.lock_study(study_name)
            trial = self._finish(txn, study, number, worker_id, request_id, outcome)
            if not next_count:
                return trial, None
            return trial, self._suggest(txn, study, worker_id, next_count, force_new=False)

        trial, following = await write(self._store, op, durable=True, study=study_name)
        if following is None:
            return trial, None
        return trial, await self._complete(study_name, worker_id, following)

    def _finish(
        self,
        txn: Transaction,
        study: StudyRecord,
        number: int,
        worker_id: str,
        request_id: str,
        outcome: Outcome,
    ) -> Trial:
        """Moves a PENDING trial to its final state; otherwise explains why not, or repeats.

        The common case is one conditional UPDATE; only when it matches nothing
        is the trial read to tell a retry from a conflict.
        """
        resolved = outcome.resolve(study.config)
        finished = txn.finish_pending_trial(
            study,
            number,
            worker_id,
            outcome.state,
            resolved.value,
            outcome.reason,
            request_id,
            self._clock(),
            resolved.metrics,
            resolved.feasible,
        )
        if finished is not None:
            if self._metrics is not None:
                label = self._metrics.study_label(study.name)
                algorithm = study.config.algorithm.name
                self._metrics.observations.labels(label, algorithm, outcome.state.value).inc()
            return finished
        study_name = study.name
        trial = txn.get_trial(study, number)
        _check_owner(trial, worker_id)
        if request_id and trial.request_id == request_id:
            return trial
        if trial.state is TrialState.STALE:
            raise FailedPrecondition(
                f"trial {number} of study {study_name!r} is STALE: its lease expired "
                "before this result arrived, and its slot was given back"
            )
        if outcome.matches(trial):
            return trial
        shown = f" with value {trial.value}" if trial.value is not None else ""
        raise FailedPrecondition(
            f"trial {number} of study {study_name!r} is already "
            f"{trial.state.value}{shown}; it cannot be observed as "
            f"{outcome.state.value}" + (f" {outcome.value}" if outcome.value is not None else "")
        )

    async def list_trials(
        self,
        study_name: str,
        states: Sequence[TrialState],
        requested_page_size: int,
        page_token: str,
        *,
        include_measurements: bool = False,
    ) -> tuple[list[Trial], str]:
        """One page of trials by number and the token of the next page.

        A page holds at most `page_size` trials and what fits in an answer.
        """
        limit = page_size(requested_page_size)
        after = decode_token(page_token)

        def op(txn: Transaction) -> tuple[list[Trial], str]:
            study = _find(txn, study_name)
            found = txn.list_trials(study, states, after, limit + 1)
            candidates = (
                replace(t, measurements=txn.measurements(study, t.number))
                if include_measurements
                else t
                for t in found[:limit]
            )
            page = fitting(candidates, trial_bytes, self._limits.answer_bytes)
            more = len(page) < len(found)
            return page, encode_token(page[-1].number) if more else ""

        return await read(self._store, op)

    async def import_trials(
        self, study_name: str, imported: Sequence[tuple[dict[str, ParamValue], Outcome]]
    ) -> list[Trial]:
        """Stores trials evaluated elsewhere as finished ones (a warm start); all or nothing.

        They take trial numbers but no budget slot, and are not draws of the
        algorithm: a random or grid study continues its sequence unchanged.
        """
        if not 1 <= len(imported) <= MAX_IMPORTED:
            raise InvalidArgument("trials", f"import 1..{MAX_IMPORTED} trials per request")
        for i, (_, outcome) in enumerate(imported):
            if outcome.state not in (TrialState.COMPLETED, TrialState.INFEASIBLE):
                raise InvalidArgument(f"trials[{i}]", "must be completed or infeasible")

        def op(txn: Transaction) -> list[Trial]:
            study = txn.lock_study(study_name)
            checked = []
            for i, (params, _) in enumerate(imported):
                try:
                    checked.append(study.config.space.check_assignment(params))
                except InvalidArgument as error:
                    raise error.within(f"trials[{i}].parameters") from None
            now = self._clock()
            new = [NewTrial(params, None) for params in checked]
            inserted = txn.insert_trials(
                study, study.trial_count + 1, new, IMPORT_WORKER, now, now
            )
            finished = []
            for i, (trial, (_, outcome)) in enumerate(zip(inserted, imported, strict=True)):
                try:
                    resolved = outcome.resolve(study.config)
                except InvalidArgument as error:
                    raise error.within(f"trials[{i}]") from None
                done = txn.finish_pending_trial(
                    study,
                    trial.number,
                    IMPORT_WORKER,
                    outcome.state,
                    resolved.value,
                    outcome.reason,
                    "",
                    now,
                    resolved.metrics,
                    resolved.feasible,
                )
                assert done is not None  # inserted PENDING for this worker just now
                finished.append(done)
            txn.update_study(
                study.id,
                draws=study.draws,
                trial_count=study.trial_count + len(new),
                budget_used=study.budget_used,
                state=study.state,
            )
            return finished

        return await write(self._store, op, durable=True, study=study_name)

    async def best_trials(self, study_name: str, count: int) -> Front:
        """The best completed trials that meet the constraints, with their curves.

        For several objectives: the Pareto front (all of it when `count` is 0)
        with its hypervolume.

        The front is computed from every completed trial: a read, never on the
        path of Suggest or Observe.
        """
        if not 0 <= count <= MAX_BEST:
            raise InvalidArgument("count", f"must be in 0..{MAX_BEST}, got {count}")

        def op(txn: Transaction) -> Front:
            study = _find(txn, study_name)
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
            return replace(front, trials=tuple(fit))

        return await read(self._store, op)


def _check_count(field: str, count: int, limits: Limits) -> int:
    count = count or 1
    if not 1 <= count <= limits.max_suggest_count:
        raise InvalidArgument(field, f"must be in 0..{limits.max_suggest_count}, got {count}")
    return count


def _find(txn: Transaction, study_name: str) -> StudyRecord:
    study = txn.find_study(study_name)
    if study is None:
        raise NotFound(f"study {study_name!r} does not exist")
    return study


def _check_owner(trial: Trial, worker_id: str) -> None:
    if trial.worker_id != worker_id:
        raise FailedPrecondition(
            f"trial {trial.number} of study {trial.study_name!r} is leased to worker "
            f"{trial.worker_id!r}, not {worker_id!r}"
        )
