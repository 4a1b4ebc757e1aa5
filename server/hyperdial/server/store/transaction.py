"""One transaction on the SQL store: the `Transaction` protocol and its row mapping.

The hot-path statements (Suggest, ReportProgress, Observe) run precompiled on
the DBAPI cursor (`prepared.py`); the rest is SQLAlchemy Core. Rows become
frozen domain objects here, so nothing a caller holds changes with the database.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, func, select, text
from sqlalchemy.exc import IntegrityError

from hyperdial.server.domain import (
    Goal,
    Measurement,
    StudyConfig,
    StudySnapshot,
    StudyState,
    Trial,
    TrialState,
)
from hyperdial.server.errors import Conflict, NotFound
from hyperdial.server.space import ParamValue
from hyperdial.server.store import curves, queue, reissues, summary
from hyperdial.server.store.base import (
    Finish,
    NewTrial,
    RequeuedPoint,
    RetryPoint,
    StudyRecord,
)
from hyperdial.server.store.prepared import (
    STUDY_COLUMNS,
    TRIAL_COLUMNS,
    Prepared,
    Statements,
)
from hyperdial.server.store.rows import study_record, trial_from_row
from hyperdial.server.store.schema import studies, trials


class SqlTransaction:
    """The `Transaction` protocol over one SQLAlchemy connection in a transaction."""

    def __init__(self, conn: Connection, statements: Statements) -> None:
        self._conn = conn
        self._sql = statements
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        self._cursor = dbapi.cursor()

    def _run(self, statement: Prepared, **values: Any) -> Any:
        self._cursor.execute(statement.sql, statement.args(values))
        return self._cursor

    def _study_row(self, statement: Prepared, **values: Any) -> StudyRecord | None:
        row = self._run(statement, **values).fetchone()
        return None if row is None else study_record(dict(zip(STUDY_COLUMNS, row, strict=True)))

    def _trial_rows(self, study_name: str, statement: Prepared, **values: Any) -> list[Trial]:
        rows = self._run(statement, **values).fetchall()
        columns = (dict(zip(TRIAL_COLUMNS, row, strict=True)) for row in rows)
        return [trial_from_row(study_name, named) for named in columns]

    def touch(self) -> None:
        """See `Transaction.touch`."""
        self._conn.execute(text("UPDATE alembic_version SET version_num = version_num"))

    def create_study(self, name: str, config: StudyConfig, now: float) -> StudyRecord:
        """See `Transaction.create_study`."""
        values = {
            "name": name,
            "config_json": config.to_json(),
            "state": StudyState.ACTIVE.value,
            "created_at": now,
            "draws": 0,
            "trial_count": 0,
            "budget_used": 0,
        }
        try:
            inserted = self._conn.execute(studies.insert().values(values)).inserted_primary_key
        except IntegrityError:
            # Another replica created the same name since this transaction looked.
            raise Conflict(f"study {name!r} was created concurrently; retry") from None
        assert inserted is not None
        study_id = int(inserted[0])
        return StudyRecord(
            id=study_id,
            name=name,
            config=config,
            state=StudyState.ACTIVE,
            created_at=now,
            draws=0,
            trial_count=0,
            budget_used=0,
        )

    def find_study(self, name: str) -> StudyRecord | None:
        """See `Transaction.find_study`."""
        row = self._conn.execute(select(studies).where(studies.c.name == name)).mappings().first()
        return None if row is None else study_record(row)

    def lock_study(self, name: str) -> StudyRecord:
        """See `Transaction.lock_study`."""
        study = self._study_row(self._sql.lock_study, name=name)
        if study is None:
            raise NotFound(f"study {name!r} does not exist")
        return study

    def study_snapshots(self) -> list[StudySnapshot]:
        """See `Transaction.study_snapshots`; one grouped scan of the trials index."""
        counts: dict[int, dict[str, int]] = {}
        grouped = select(trials.c.study_id, trials.c.state, func.count()).group_by(
            trials.c.study_id, trials.c.state
        )
        for study_id, state, count in self._conn.execute(grouped):
            counts.setdefault(study_id, {})[state] = count
        completed = (trials.c.state == TrialState.COMPLETED.value) & trials.c.feasible
        extremes = (
            select(trials.c.study_id, func.min(trials.c.value), func.max(trials.c.value))
            .where(completed)
            .group_by(trials.c.study_id)
        )
        best = {row[0]: (row[1], row[2]) for row in self._conn.execute(extremes)}
        rows = []
        for study in self.list_studies(0, 1 << 62):
            low, high = best.get(study.id, (None, None))
            minimize = study.config.objective.goal is Goal.MINIMIZE
            rows.append(
                StudySnapshot(
                    name=study.name,
                    algorithm=study.config.algorithm.name,
                    active=study.state is StudyState.ACTIVE,
                    trial_counts=counts.get(study.id, {}),
                    best_value=None if study.config.multi_objective else low if minimize else high,
                    multi_objective=study.config.multi_objective,
                )
            )
        return rows

    def count_studies(self) -> int:
        """See `Transaction.count_studies`."""
        return int(self._conn.execute(select(func.count()).select_from(studies)).scalar_one())

    def list_studies(self, after_id: int, limit: int) -> list[StudyRecord]:
        """See `Transaction.list_studies`."""
        query = select(studies).where(studies.c.id > after_id).order_by(studies.c.id).limit(limit)
        return [study_record(row) for row in self._conn.execute(query).mappings()]

    def delete_study(self, study_id: int) -> None:
        """See `Transaction.delete_study`."""
        self._conn.execute(studies.delete().where(studies.c.id == study_id))

    def request_stop(self, study: StudyRecord, number: int) -> None:
        """See `Transaction.request_stop`."""
        self._conn.execute(
            trials.update()
            .where(trials.c.study_id == study.id, trials.c.number == number)
            .values(stop_requested=True)
        )

    def replace_config(self, study_id: int, config: StudyConfig) -> None:
        """See `Transaction.replace_config`."""
        self._conn.execute(
            studies.update().where(studies.c.id == study_id).values(config_json=config.to_json())
        )

    def update_study(
        self, study_id: int, *, draws: int, trial_count: int, budget_used: int, state: StudyState
    ) -> None:
        """See `Transaction.update_study`."""
        self._run(
            self._sql.update_study,
            study_id=study_id,
            draws=draws,
            trial_count=trial_count,
            budget_used=budget_used,
            state=state.value,
        )

    def trial_counts(self, study_id: int) -> dict[TrialState, int]:
        """See `Transaction.trial_counts`."""
        return summary.trial_counts(self._conn, study_id)

    def last_activity(self, study_id: int) -> float | None:
        """See `Transaction.last_activity`."""
        return summary.last_activity(self._conn, study_id)

    def pending_trials(self, study: StudyRecord, worker_id: str, limit: int) -> list[Trial]:
        """See `Transaction.pending_trials`."""
        return self._trial_rows(
            study.name,
            self._sql.pending_of_worker,
            study_id=study.id,
            worker_id=worker_id,
            limit=limit,
        )

    def renew_leases(self, study_id: int, numbers: Sequence[int], until: float) -> None:
        """See `Transaction.renew_leases`."""
        self._conn.execute(
            trials.update()
            .where(trials.c.study_id == study_id, trials.c.number.in_(numbers))
            .values(lease_expires_at=until)
        )

    def expire_leases(self, study_id: int, now: float) -> int:
        """See `Transaction.expire_leases`."""
        return int(self._run(self._sql.expire_leases, study_id=study_id, now=now).rowcount)

    def take_requeued(self, study_id: int, limit: int, max_reissues: int) -> list[RequeuedPoint]:
        """See `Transaction.take_requeued`."""
        return reissues.take_requeued(self._conn, study_id, limit, max_reissues)

    def take_retries(self, study_id: int, limit: int, max_retries: int) -> list[RetryPoint]:
        """See `Transaction.take_retries`."""
        return reissues.take_retries(self._conn, study_id, limit, max_retries)

    def set_paused(self, study_id: int, paused: bool) -> None:
        """See `Transaction.set_paused`."""
        queue.set_paused(self._conn, study_id, paused)

    def enqueue(
        self, study_id: int, assignments: Sequence[dict[str, ParamValue]], now: float
    ) -> None:
        """See `Transaction.enqueue`."""
        queue.enqueue(self._conn, study_id, assignments, now)

    def queued_assignments(self, study_id: int) -> list[dict[str, ParamValue]]:
        """See `Transaction.queued_assignments`."""
        return queue.queued_assignments(self._conn, study_id)

    def take_queued(self, study_id: int, limit: int) -> list[dict[str, ParamValue]]:
        """See `Transaction.take_queued`."""
        return queue.take_queued(self._conn, study_id, limit)

    def insert_trials(
        self,
        study: StudyRecord,
        first_number: int,
        new: Sequence[NewTrial],
        worker_id: str,
        now: float,
        lease_until: float,
    ) -> list[Trial]:
        """See `Transaction.insert_trials`."""
        rows = [
            {
                "study_id": study.id,
                "number": first_number + k,
                "state": TrialState.PENDING.value,
                "params_json": json.dumps(item.params),
                "worker_id": worker_id,
                "value": None,
                "reason": "",
                "created_at": now,
                "finished_at": None,
                "lease_expires_at": lease_until,
                "grid_index": item.grid_index,
                "requeued": False,
                "request_id": "",
                "metrics_json": None,
                "feasible": True,
                "retry_of": item.retry_of,
                "worker_stopped": False,
                "stop_requested": False,
                "step_budget": item.step_budget,
                "steps": 0,
            }
            for k, item in enumerate(new)
        ]
        for row in rows:
            self._run(self._sql.insert_trial, **row)
        return [
            Trial(
                study_name=study.name,
                number=first_number + k,
                state=TrialState.PENDING,
                params=item.params,
                worker_id=worker_id,
                created_at=now,
                lease_expires_at=lease_until,
                step_budget=item.step_budget,
            )
            for k, item in enumerate(new)
        ]

    def get_trial(self, study: StudyRecord, number: int) -> Trial:
        """See `Transaction.get_trial`."""
        found = self._trial_rows(study.name, self._sql.get_trial, study_id=study.id, number=number)
        if not found:
            raise NotFound(f"trial {number} of study {study.name!r} does not exist")
        return found[0]

    def finish_pending_trial(self, study: StudyRecord, finish: Finish) -> Trial | None:
        """See `Transaction.finish_pending_trial`."""
        metrics = finish.metrics
        found = self._trial_rows(
            study.name,
            self._sql.finish_pending_trial,
            study_id=study.id,
            number=finish.number,
            worker_id=finish.worker_id,
            state=finish.state.value,
            value=finish.value,
            metrics_json=json.dumps(dict(metrics), sort_keys=True) if metrics else None,
            feasible=finish.feasible,
            worker_stopped=finish.worker_stopped,
            reason=finish.reason,
            request_id=finish.request_id,
            now=finish.finished_at,
        )
        return found[0] if found else None

    def add_measurement(
        self, study: StudyRecord, number: int, step: int, value: float, lease_until: float
    ) -> None:
        """See `Transaction.add_measurement`."""
        row = self._run(self._sql.get_trial, study_id=study.id, number=number).fetchone()
        if row is None:
            raise NotFound(f"trial {number} of study {study.name!r} does not exist")
        trial_id = row[TRIAL_COLUMNS.index("id")]
        added = curves.record(self._conn, study.id, trial_id, step, value)
        self._run(self._sql.record_progress, trial_id=trial_id, until=lease_until, added=added)

    def steps_reserved(self, study_id: int) -> int:
        """See `Transaction.steps_reserved`."""
        return curves.steps_reserved(self._conn, study_id)

    def measurements(self, study: StudyRecord, number: int) -> tuple[Measurement, ...]:
        """See `Transaction.measurements`."""
        return curves.measurements_of(self._conn, study.id, number)

    def curves(
        self, study: StudyRecord, first: int, last: int, states: tuple[TrialState, ...] = ()
    ) -> dict[int, tuple[Measurement, ...]]:
        """See `Transaction.curves`."""
        return curves.curves_of(self._conn, study.id, first, last, states)

    def finals_at_step(self, study: StudyRecord, step: int) -> list[tuple[float, float]]:
        """See `Transaction.finals_at_step`."""
        fidelity = study.config.fidelity
        full = fidelity.max_steps if fidelity else 0
        minimize = study.config.objective.goal is Goal.MINIMIZE
        return curves.finals_at_step(self._conn, study.id, step, full, minimize)

    def values_at_step(
        self, study: StudyRecord, step: int, exclude: int
    ) -> list[tuple[int, float]]:
        """See `Transaction.values_at_step`."""
        return curves.values_at_step(self._conn, study.id, step, exclude)

    def list_trials(
        self,
        study: StudyRecord,
        states: Sequence[TrialState],
        after_number: int,
        limit: int,
    ) -> list[Trial]:
        """See `Transaction.list_trials`."""
        query = select(trials).where(trials.c.study_id == study.id, trials.c.number > after_number)
        if states:
            query = query.where(trials.c.state.in_([s.value for s in states]))
        query = query.order_by(trials.c.number).limit(limit)
        return [trial_from_row(study.name, row) for row in self._conn.execute(query).mappings()]

    def best_trials(self, study: StudyRecord, limit: int) -> list[Trial]:
        """See `Transaction.best_trials`."""
        order = (
            trials.c.value.asc()
            if study.config.objective.goal is Goal.MINIMIZE
            else trials.c.value.desc()
        )
        query = (
            select(trials)
            .where(
                trials.c.study_id == study.id,
                trials.c.state == TrialState.COMPLETED.value,
                trials.c.feasible,
            )
            .order_by(order, trials.c.number)
            .limit(limit)
        )
        return [trial_from_row(study.name, row) for row in self._conn.execute(query).mappings()]
