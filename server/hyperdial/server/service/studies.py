"""Study lifecycle: create (idempotent by name), get, list, change the budget, pause, delete."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace

from hyperdial.server.algorithms.base import make_suggester
from hyperdial.server.domain import Fidelity, Study, StudyConfig, StudyState
from hyperdial.server.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    ResourceExhausted,
)
from hyperdial.server.service.budget import spent, steps_left
from hyperdial.server.service.common import (
    check_name,
    decode_token,
    encode_token,
    find_study,
    page_size,
    read,
    write,
)
from hyperdial.server.service.compute import ComputePool
from hyperdial.server.service.limits import DEFAULT_LIMITS, Limits, fitting
from hyperdial.server.service.suggesters import SuggesterCache
from hyperdial.server.store.base import Store, StudyRecord, Transaction

# Room for what a study carries besides its config (counts, times, its best trial).
STUDY_OVERHEAD_BYTES = 4096


def _summary(txn: Transaction, record: StudyRecord) -> Study:
    # A Pareto front has no single best; GetBestTrials returns it.
    best = [] if record.config.multi_objective else txn.best_trials(record, 1)
    return Study(
        name=record.name,
        config=record.config,
        state=record.state,
        created_at=record.created_at,
        trial_counts=txn.trial_counts(record.id),
        best_trial=best[0] if best else None,
        paused=record.paused,
        queued_trials=record.queued,
        updated_at=txn.last_activity(record.id),
        steps_reported=record.steps,
        steps_reserved=txn.steps_reserved(record.id) if record.config.fidelity else 0,
    )


def _different(name: str, existing: StudyConfig, wanted: StudyConfig) -> str:
    """Why CreateStudy refuses: a budget alone can change, anything else cannot."""
    if replace(wanted, max_trials=existing.max_trials).to_json() == existing.to_json():
        return (
            f"study {name!r} exists with max_trials {existing.max_trials}, asked "
            f"{wanted.max_trials}: change its budget with UpdateStudy (hyperdial study "
            f"update {name} --max-trials {wanted.max_trials}) or choose another name"
        )
    if existing.fidelity and wanted.fidelity:
        steps = existing.fidelity.total_steps
        same_steps = replace(wanted, fidelity=replace(wanted.fidelity, total_steps=steps))
        if same_steps.to_json() == existing.to_json():
            asked = wanted.fidelity.total_steps
            return (
                f"study {name!r} exists with total_steps {steps}, asked {asked}: change "
                f"its step budget with UpdateStudy (hyperdial study update {name} "
                f"--total-steps {asked}) or choose another name"
            )
    return f"study {name!r} exists with a different config; choose another name"


def _study_bytes(record: StudyRecord) -> int:
    """A bound on a study's size in an answer.

    Its config, and its best trial's parameters, never larger than the config.
    """
    return 2 * len(record.config.to_json().encode()) + STUDY_OVERHEAD_BYTES


class StudyService:
    """Creates, reads and deletes studies."""

    def __init__(
        self,
        store: Store,
        limits: Limits = DEFAULT_LIMITS,
        clock: Callable[[], float] = time.time,
        compute: ComputePool | None = None,
        suggesters: SuggesterCache | None = None,
    ) -> None:
        self._compute = compute
        self._suggesters = suggesters or SuggesterCache()
        self._store = store
        self._limits = limits
        self._clock = clock

    async def create(self, name: str, config: StudyConfig) -> tuple[Study, bool]:
        """Creates a study, or returns the existing one if its config is identical.

        Returns:
            The study and whether this call created it.

        Raises:
            InvalidArgument: bad name or algorithm options (e.g. too large a grid).
            AlreadyExists: the name is taken by a study with another config.
        """
        check_name("name", name, self._limits.max_name_length)
        if len(config.space.params) > self._limits.max_parameters:
            raise InvalidArgument(
                "config.parameters",
                f"{len(config.space.params)} parameters; at most "
                f"{self._limits.max_parameters} are allowed",
            )
        wanted = config.to_json()
        if len(wanted.encode()) > self._limits.config_bytes:
            raise InvalidArgument(
                "config",
                f"takes {len(wanted.encode())} bytes as JSON; at most "
                f"{self._limits.config_bytes} are allowed (--max-config-bytes)",
            )
        # Validates the options (and enumerates a grid) before anything is stored.
        try:
            suggester = await asyncio.to_thread(make_suggester, config.space, config.algorithm)
        except InvalidArgument as error:
            raise error.within("config") from None
        if suggester.learns and self._compute is not None:
            self._compute.warm()

        def op(txn: Transaction) -> tuple[Study, int]:
            existing = txn.find_study(name)
            if existing is None:
                if txn.count_studies() >= self._limits.max_studies:
                    raise ResourceExhausted(
                        f"the server holds {self._limits.max_studies} studies, its limit; "
                        "delete some or raise --max-studies"
                    )
                created = txn.create_study(name, config, self._clock())
                return _summary(txn, created), created.id
            if existing.config.to_json() != wanted:
                raise AlreadyExists(_different(name, existing.config, config))
            return _summary(txn, existing), 0

        study, created_id = await write(self._store, op, durable=True, study=name)
        if created_id:
            # Suggest then finds it built (a grid enumerated) instead of building it again.
            self._suggesters.keep(created_id, suggester)
        return study, bool(created_id)

    async def get(self, name: str) -> Study:
        """The study with its progress. Raises NotFound."""

        def op(txn: Transaction) -> Study:
            return _summary(txn, find_study(txn, name))

        return await read(self._store, op)

    async def list(self, requested_page_size: int, page_token: str) -> tuple[list[Study], str]:
        """One page of studies by creation order and the token of the next page.

        A page holds at most `page_size` studies and what fits in an answer:
        studies with large configs come fewer to a page.
        """
        limit = page_size(requested_page_size)
        after = decode_token(page_token)

        def op(txn: Transaction) -> tuple[list[Study], str]:
            records = txn.list_studies(after, limit + 1)
            page = fitting(records[:limit], _study_bytes, self._limits.answer_bytes)
            token = encode_token(page[-1].id) if len(page) < len(records) else ""
            return [_summary(txn, r) for r in page], token

        return await read(self._store, op)

    async def update_budget(
        self, name: str, max_trials: int | None, total_steps: int | None = None
    ) -> Study:
        """Sets the study's trial and step budgets (None: unchanged).

        Raises NotFound, or FailedPrecondition below use (or for steps without a
        fidelity). Raising a spent budget reopens the study; lowering it to what
        is already used finishes it.
        """
        if max_trials is not None and max_trials < 0:
            raise InvalidArgument("max_trials", f"must be >= 0, got {max_trials}")
        if total_steps is not None and total_steps < 0:
            raise InvalidArgument("total_steps", f"must be >= 0, got {total_steps}")

        def op(txn: Transaction) -> Study:
            study = txn.lock_study(name)
            config = study.config
            if max_trials is not None:
                _check_trial_budget(study, max_trials)
                config = replace(config, max_trials=max_trials)
            if total_steps is not None:
                config = replace(config, fidelity=_step_budget(txn, study, total_steps))
            updated = replace(study, config=config)
            left = steps_left(txn, updated)
            state = (
                StudyState.FINISHED
                if spent(config, study.budget_used, left)
                else StudyState.ACTIVE
            )
            txn.replace_config(study.id, config)
            txn.update_study(
                study.id,
                draws=study.draws,
                trial_count=study.trial_count,
                budget_used=study.budget_used,
                state=state,
            )
            return _summary(txn, replace(updated, state=state))

        return await write(self._store, op, durable=True, study=name)

    async def set_paused(self, name: str, paused: bool) -> Study:
        """Pauses (no new trials) or resumes the study; the same twice changes nothing."""

        def op(txn: Transaction) -> Study:
            study = txn.lock_study(name)
            if study.paused != paused:
                txn.set_paused(study.id, paused)
            return _summary(txn, replace(study, paused=paused))

        return await write(self._store, op, durable=True, study=name)

    async def delete(self, name: str) -> None:
        """Deletes the study and its trials. Raises NotFound."""

        def op(txn: Transaction) -> None:
            txn.delete_study(txn.lock_study(name).id)

        await write(self._store, op, durable=True, study=name)


def _check_trial_budget(study: StudyRecord, max_trials: int) -> None:
    """Refuses a trial budget below the trials handed out and queued."""
    promised = study.budget_used + study.queued
    if max_trials and max_trials < promised:
        queued = f" and queued {study.queued} more" if study.queued else ""
        raise FailedPrecondition(
            f"max_trials: study {study.name!r} has handed out {study.budget_used} trials "
            f"against its budget{queued}; the budget cannot go below {promised}, "
            f"got {max_trials}"
        )


def _step_budget(txn: Transaction, study: StudyRecord, total_steps: int) -> Fidelity:
    """The study's fidelity with `total_steps`; refused without a fidelity or below use."""
    fidelity = study.config.fidelity
    if fidelity is None:
        raise FailedPrecondition(
            f"total_steps: study {study.name!r} declared no fidelity, so it budgets no steps"
        )
    used = study.steps + txn.steps_reserved(study.id)
    if total_steps and total_steps < used:
        raise FailedPrecondition(
            f"total_steps: study {study.name!r} has {study.steps} steps reported and "
            f"{used - study.steps} granted to running trials; the budget cannot go below "
            f"{used}, got {total_steps}"
        )
    return replace(fidelity, total_steps=total_steps)
