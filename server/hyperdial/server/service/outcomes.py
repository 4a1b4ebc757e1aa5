"""What workers report about their trials: progress, the final outcome, imported results.

Observe is idempotent (a retry with the same request id, or the same
outcome, gets the first answer) and durable when it returns. Counters move
only after the transaction that changed the trial committed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from hyperdial.server.domain import Goal, Outcome, StudyState, Suggested, Trial, TrialState
from hyperdial.server.errors import FailedPrecondition, InvalidArgument
from hyperdial.server.metrics import ServerMetrics
from hyperdial.server.service.common import check_name, write
from hyperdial.server.service.handout import HandOut, HandOutResult, lease_until
from hyperdial.server.service.leases import Leases, check_count
from hyperdial.server.service.limits import DEFAULT_LIMITS, Limits
from hyperdial.server.space import ParamValue
from hyperdial.server.stopping.rules import Peers, make_rule
from hyperdial.server.store.base import Finish, NewTrial, Store, StudyRecord, Transaction

MAX_IMPORTED = 10_000
MAX_REQUEST_ID_LENGTH = 128
IMPORT_WORKER = "import"


@dataclass(frozen=True)
class _Observed:
    """What an Observe transaction did: the trial, whether it ended it now, what follows."""

    trial: Trial
    ended_now: bool
    algorithm: str
    following: HandOutResult | None


def check_owner(trial: Trial, worker_id: str) -> None:
    """FailedPrecondition unless `trial` is leased to `worker_id`."""
    if trial.worker_id != worker_id:
        raise FailedPrecondition(
            f"trial {trial.number} of study {trial.study_name!r} is leased to worker "
            f"{trial.worker_id!r}, not {worker_id!r}"
        )


def _finish(
    study: StudyRecord, number: int, worker_id: str, request_id: str, outcome: Outcome, now: float
) -> Finish:
    resolved = outcome.resolve(study.config)
    return Finish(
        number=number,
        worker_id=worker_id,
        state=outcome.state,
        value=resolved.value,
        reason=outcome.reason,
        request_id=request_id,
        finished_at=now,
        metrics=resolved.metrics,
        feasible=resolved.feasible,
        worker_stopped=outcome.worker_stopped,
    )


def _give_back_slot(txn: Transaction, study: StudyRecord) -> None:
    """A stopped worker's trial will be handed out again: its budget slot comes back."""
    txn.update_study(
        study.id,
        draws=study.draws,
        trial_count=study.trial_count,
        budget_used=study.budget_used - 1,
        state=StudyState.ACTIVE,
    )


def _best_so_far(txn: Transaction, study: StudyRecord, number: int) -> float | None:
    """A stopped trial's best reported value: what it is stored with, and modelled by."""
    values = [m.value for m in txn.measurements(study, number)]
    if not values:
        return None
    return max(values) if study.config.objective.goal is Goal.MAXIMIZE else min(values)


class Outcomes:
    """ReportProgress, Observe and ImportTrials."""

    def __init__(
        self,
        store: Store,
        leases: Leases,
        hand_out: HandOut,
        limits: Limits = DEFAULT_LIMITS,
        clock: Callable[[], float] = time.time,
        metrics: ServerMetrics | None = None,
    ) -> None:
        self._store = store
        self._leases = leases
        self._hand_out = hand_out
        self._limits = limits
        self._clock = clock
        self._metrics = metrics

    async def report_progress(
        self, study_name: str, number: int, worker_id: str, step: int, value: float
    ) -> tuple[bool, float]:
        """Records an intermediate value and renews the lease.

        Returns:
            Whether the study's stopping rule says the trial should stop, and
            the new lease end (epoch seconds).
        """
        check_name("worker_id", worker_id, self._limits.max_name_length)
        if step < 0:
            raise InvalidArgument("step", f"must be >= 0, got {step}")
        if not math.isfinite(value):
            raise InvalidArgument("value", f"must be a finite number, got {value}")

        def op(txn: Transaction) -> tuple[bool, float]:
            study = txn.lock_study(study_name)
            trial = txn.get_trial(study, number)
            check_owner(trial, worker_id)
            if trial.state is not TrialState.PENDING:
                raise FailedPrecondition(
                    f"trial {number} of study {study_name!r} is {trial.state.value}; "
                    "progress is only accepted while it is PENDING"
                )
            until = lease_until(study, self._clock())
            txn.add_measurement(study, number, step, value, until)
            rule = make_rule(study.config.stopping, number)
            stop = trial.stop_requested  # StopTrial asked for it
            if not stop and rule is not None and rule.decides_at(step):
                curve = txn.measurements(study, number)
                # At the end of its step budget a trial ends anyway: it completes, not pruned.
                if not trial.step_budget or len(curve) < trial.step_budget:
                    peers = Peers(
                        values=lambda: txn.values_at_step(study, step, exclude=number),
                        finals=lambda: txn.finals_at_step(study, step),
                    )
                    goal = study.config.objective.goal
                    stop = rule.should_stop(goal, step, curve, peers)
            return stop, until

        return await write(self._store, op, durable=False, study=study_name)

    async def request_stop(self, study_name: str, number: int) -> None:
        """Asks a running trial to stop: its next ReportProgress answers stop.

        Raises NotFound, or FailedPrecondition for a trial that is not PENDING.
        Asking twice is asking once.
        """

        def op(txn: Transaction) -> None:
            study = txn.lock_study(study_name)
            trial = txn.get_trial(study, number)
            if trial.state is not TrialState.PENDING:
                raise FailedPrecondition(
                    f"trial {number} of study {study_name!r} is {trial.state.value}; "
                    "only a running (PENDING) trial can be asked to stop"
                )
            txn.request_stop(study, number)

        await write(self._store, op, durable=True, study=study_name)

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
        if len(request_id) > MAX_REQUEST_ID_LENGTH:
            raise InvalidArgument(
                "request_id", f"must be at most {MAX_REQUEST_ID_LENGTH} characters"
            )
        if next_count:
            next_count = check_count("next_count", next_count, self._limits)

        def op(txn: Transaction) -> _Observed:
            study = txn.lock_study(study_name)
            finish = _finish(study, number, worker_id, request_id, outcome, self._clock())
            if outcome.state is TrialState.PRUNED:
                finish = replace(finish, value=_best_so_far(txn, study, number))
            ended = txn.finish_pending_trial(study, finish)
            if ended is not None and outcome.worker_stopped and study.config.max_retries:
                _give_back_slot(txn, study)
            trial = ended or self._repeated(txn, study, finish, outcome)
            following = (
                self._leases.in_transaction(txn, study, worker_id, next_count, force_new=False)
                if next_count
                else None
            )
            return _Observed(trial, ended is not None, study.config.algorithm.name, following)

        observed = await write(self._store, op, durable=True, study=study_name)
        if observed.ended_now and self._metrics is not None:
            label = self._metrics.study_label(study_name)
            state = outcome.state.value
            self._metrics.observations.labels(label, observed.algorithm, state).inc()
        if observed.following is None:
            return observed.trial, None
        following = await self._hand_out.complete(study_name, worker_id, observed.following)
        return observed.trial, following

    @staticmethod
    def _repeated(txn: Transaction, study: StudyRecord, finish: Finish, outcome: Outcome) -> Trial:
        """The trial, when `finish` repeats how it already ended; otherwise why it cannot end.

        The common case is one conditional UPDATE; only when it matches nothing
        is the trial read to tell a retry from a conflict.
        """
        number = finish.number
        trial = txn.get_trial(study, number)
        check_owner(trial, finish.worker_id)
        if finish.request_id and trial.request_id == finish.request_id:
            return trial
        if trial.state is TrialState.STALE:
            raise FailedPrecondition(
                f"trial {number} of study {study.name!r} is STALE: its lease expired "
                "before this result arrived, and its slot was given back"
            )
        if outcome.matches(trial):
            return trial
        shown = f" with value {trial.value}" if trial.value is not None else ""
        raise FailedPrecondition(
            f"trial {number} of study {study.name!r} is already "
            f"{trial.state.value}{shown}; it cannot be observed as "
            f"{outcome.state.value}" + (f" {outcome.value}" if outcome.value is not None else "")
        )

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
                    finish = _finish(study, trial.number, IMPORT_WORKER, "", outcome, now)
                except InvalidArgument as error:
                    raise error.within(f"trials[{i}]") from None
                done = txn.finish_pending_trial(study, finish)
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
