"""SQL store on SQLAlchemy 2 Core: SQLite (default, WAL) or PostgreSQL by URL.

All writes of a server go through one writer thread (`writer.py`: group
commit, recovery from database faults). Reads use a separate connection pool
and, on SQLite's WAL, never wait for the writer. Every database error leaves
the store as Conflict or Unavailable (`failures.py`), never as a raw driver
error.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TypeVar

import alembic.command
import alembic.config
from sqlalchemy import Connection, Engine, create_engine, event, func, inspect, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from hyperdial.server.domain import (
    Goal,
    Measurement,
    StudyConfig,
    StudyState,
    Trial,
    TrialState,
)
from hyperdial.server.errors import Conflict, NotFound, StartupError
from hyperdial.server.pareto import pareto_front
from hyperdial.server.store.base import (
    ComputationLock,
    Durability,
    NewTrial,
    RequeuedPoint,
    StudyRecord,
    StudySnapshotRow,
)
from hyperdial.server.store.failures import classify, is_database_error
from hyperdial.server.store.prepared import (
    STUDY_COLUMNS,
    TRIAL_COLUMNS,
    Prepared,
    Statements,
)
from hyperdial.server.store.schema import measurements, studies, trials
from hyperdial.server.store.sqlite_file import DatabaseFile
from hyperdial.server.store.writer import Writer

T = TypeVar("T")
log = logging.getLogger(__name__)

_MIGRATION_LOCK = 0x68797065  # any constant; the advisory lock that serializes migrations


def _computation_lock_class(schema: str) -> int:
    """The first key of a schema's "computing study X" advisory locks.

    Advisory locks are per database; keying them by schema keeps two
    deployments in one database (or two test schemas) from waiting on each
    other's study ids.
    """
    return zlib.crc32(f"hyperdial-compute:{schema}".encode()) % 2**31


class _NoLock:
    """SQLite serves one process: the service's in-process lock is all there is to hold."""

    def release(self) -> None:
        """Nothing to release."""


class _AdvisoryLock:
    """A PostgreSQL session advisory lock, held on its own connection until released.

    The lock lives as long as the connection: if the replica holding it dies,
    PostgreSQL ends the session and the lock goes with it.
    """

    def __init__(self, conn: Connection, kind: int, study_id: int) -> None:
        self._conn = conn
        self._kind = kind
        self._study_id = study_id

    def release(self) -> None:
        """Unlocks and returns the connection to the pool (a broken one is discarded)."""
        try:
            self._conn.execute(
                text("SELECT pg_advisory_unlock(:kind, :study)"),
                {"kind": self._kind, "study": self._study_id},
            )
            self._conn.commit()
        except SQLAlchemyError:
            log.warning("releasing the computation lock of study %d failed", self._study_id)
            self._conn.invalidate()
        finally:
            self._conn.close()


_parse_config = lru_cache(maxsize=1024)(StudyConfig.from_json)


def _time(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def _study(row: Mapping[Any, Any]) -> StudyRecord:
    return StudyRecord(
        id=row["id"],
        name=row["name"],
        config=_parse_config(row["config_json"]),
        state=StudyState(row["state"]),
        created_at=row["created_at"],
        draws=row["draws"],
        trial_count=row["trial_count"],
        budget_used=row["budget_used"],
    )


def _trial(study_name: str, row: Mapping[Any, Any]) -> Trial:
    return Trial(
        study_name=study_name,
        number=row["number"],
        state=TrialState(row["state"]),
        params=json.loads(row["params_json"]),
        worker_id=row["worker_id"],
        created_at=datetime.fromtimestamp(row["created_at"], UTC),
        lease_expires_at=_time(row["lease_expires_at"]),
        finished_at=_time(row["finished_at"]),
        value=row["value"],
        reason=row["reason"],
        request_id=row["request_id"],
        metrics=json.loads(row["metrics_json"]) if row["metrics_json"] else {},
        violates_constraints=not row["feasible"],
    )


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
        return None if row is None else _study(dict(zip(STUDY_COLUMNS, row, strict=True)))

    def _trial_rows(self, study_name: str, statement: Prepared, **values: Any) -> list[Trial]:
        rows = self._run(statement, **values).fetchall()
        return [_trial(study_name, dict(zip(TRIAL_COLUMNS, row, strict=True))) for row in rows]

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
        return None if row is None else _study(row)

    def lock_study(self, name: str) -> StudyRecord:
        """See `Transaction.lock_study`."""
        study = self._study_row(self._sql.lock_study, name=name)
        if study is None:
            raise NotFound(f"study {name!r} does not exist")
        return study

    def study_snapshots(self) -> list[StudySnapshotRow]:
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
            hypervolume = None
            if study.config.multi_objective:
                finished = self.list_trials(study, [TrialState.COMPLETED], 0, 1 << 62)
                hypervolume = pareto_front(study.config, finished).hypervolume
            rows.append(
                StudySnapshotRow(
                    name=study.name,
                    algorithm=study.config.algorithm.name,
                    active=study.state is StudyState.ACTIVE,
                    trial_counts=counts.get(study.id, {}),
                    best_value=None if study.config.multi_objective else low if minimize else high,
                    hypervolume=hypervolume,
                )
            )
        return rows

    def count_studies(self) -> int:
        """See `Transaction.count_studies`."""
        return int(self._conn.execute(select(func.count()).select_from(studies)).scalar_one())

    def list_studies(self, after_id: int, limit: int) -> list[StudyRecord]:
        """See `Transaction.list_studies`."""
        query = select(studies).where(studies.c.id > after_id).order_by(studies.c.id).limit(limit)
        return [_study(row) for row in self._conn.execute(query).mappings()]

    def delete_study(self, study_id: int) -> None:
        """See `Transaction.delete_study`."""
        self._conn.execute(studies.delete().where(studies.c.id == study_id))

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
        query = (
            select(trials.c.state, func.count())
            .where(trials.c.study_id == study_id)
            .group_by(trials.c.state)
        )
        return {TrialState(state): count for state, count in self._conn.execute(query)}

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
        query = (
            select(trials.c.id, trials.c.params_json, trials.c.grid_index)
            .where(
                trials.c.study_id == study_id,
                trials.c.state == TrialState.STALE.value,
                trials.c.grid_index.is_not(None),
                trials.c.requeued.is_(False),
            )
            .order_by(trials.c.number)
            .limit(limit)
        )
        rows = self._conn.execute(query).all()
        if rows:
            self._conn.execute(
                trials.update().where(trials.c.id.in_([r.id for r in rows])).values(requeued=True)
            )
        return [
            RequeuedPoint(json.loads(r.params_json), r.grid_index)
            for r in rows
            if self._stale_count(study_id, r.grid_index) <= max_reissues
        ]

    def _stale_count(self, study_id: int, grid_index: int) -> int:
        query = select(func.count()).where(
            trials.c.study_id == study_id,
            trials.c.grid_index == grid_index,
            trials.c.state == TrialState.STALE.value,
        )
        return int(self._conn.execute(query).scalar_one())

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
            }
            for k, item in enumerate(new)
        ]
        for row in rows:
            self._run(self._sql.insert_trial, **row)
        created, expires = _time(now), _time(lease_until)
        assert created is not None
        return [
            Trial(
                study_name=study.name,
                number=first_number + k,
                state=TrialState.PENDING,
                params=item.params,
                worker_id=worker_id,
                created_at=created,
                lease_expires_at=expires,
            )
            for k, item in enumerate(new)
        ]

    def get_trial(self, study: StudyRecord, number: int) -> Trial:
        """See `Transaction.get_trial`."""
        found = self._trial_rows(study.name, self._sql.get_trial, study_id=study.id, number=number)
        if not found:
            raise NotFound(f"trial {number} of study {study.name!r} does not exist")
        return found[0]

    def finish_pending_trial(
        self,
        study: StudyRecord,
        number: int,
        worker_id: str,
        state: TrialState,
        value: float | None,
        reason: str,
        request_id: str,
        now: float,
        metrics: Mapping[str, float] | None = None,
        feasible: bool = True,
    ) -> Trial | None:
        """See `Transaction.finish_pending_trial`."""
        found = self._trial_rows(
            study.name,
            self._sql.finish_pending_trial,
            study_id=study.id,
            number=number,
            worker_id=worker_id,
            state=state.value,
            value=value,
            metrics_json=json.dumps(dict(metrics), sort_keys=True) if metrics else None,
            feasible=feasible,
            reason=reason,
            request_id=request_id,
            now=now,
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
        self._conn.execute(
            measurements.delete().where(
                measurements.c.trial_id == trial_id, measurements.c.step == step
            )
        )
        self._conn.execute(
            measurements.insert().values(
                trial_id=trial_id, step=step, value=value, study_id=study.id
            )
        )
        self._run(self._sql.renew_lease, trial_id=trial_id, until=lease_until)

    def measurements(self, study: StudyRecord, number: int) -> tuple[Measurement, ...]:
        """See `Transaction.measurements`."""
        query = (
            select(measurements.c.step, measurements.c.value)
            .join(trials, trials.c.id == measurements.c.trial_id)
            .where(trials.c.study_id == study.id, trials.c.number == number)
            .order_by(measurements.c.step)
        )
        return tuple(Measurement(step, value) for step, value in self._conn.execute(query))

    def values_at_step(self, study: StudyRecord, step: int, exclude: int) -> list[float]:
        """See `Transaction.values_at_step`."""
        query = (
            select(measurements.c.value)
            .join(trials, trials.c.id == measurements.c.trial_id)
            .where(
                measurements.c.study_id == study.id,
                measurements.c.step == step,
                trials.c.number != exclude,
            )
        )
        return [value for (value,) in self._conn.execute(query)]

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
        return [_trial(study.name, row) for row in self._conn.execute(query).mappings()]

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
        return [_trial(study.name, row) for row in self._conn.execute(query).mappings()]


SUPPORTED_BACKENDS = ("sqlite", "postgresql")
# libpq: give up connecting after 10 s; notice a peer that vanished within about a minute.
_POSTGRES_CONNECT_ARGS = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}


class SqlStore:
    """The `Store` protocol on SQLite (file, WAL) or PostgreSQL.

    Args:
        url: SQLAlchemy URL, e.g. `sqlite:///hyperdial.db` or
            `postgresql+psycopg://user@host/db` (`postgresql://` means the same).
        durability: "full" fsyncs every commit that holds a durable write
            (power-loss safe); "process" leaves flushing to the OS (safe when
            the server process dies, not when the machine does).
        on_commit: called with the number of writes in each committed batch.
        create: whether a missing SQLite file may be created (a PostgreSQL
            database is always initialized: it exists only if someone made it).

    Raises:
        StartupError: the URL, the database or its writability is not usable.
    """

    def __init__(
        self,
        url: str,
        *,
        durability: Durability = "full",
        on_commit: Callable[[int], None] | None = None,
        create: bool = False,
    ) -> None:
        parsed = _parse_url(url)
        self.backend = parsed.get_backend_name()
        self.durability: Durability = durability
        self._shown = parsed.render_as_string(hide_password=True)
        self._file: DatabaseFile | None = None
        if self.backend == "sqlite":
            database = parsed.database or ""
            if database in ("", ":memory:") or database.startswith("file::memory:"):
                raise StartupError("an SQLite store needs a file: sqlite:///path/to/hyperdial.db")
            self._file = DatabaseFile(database, create=create)
            sqlite_args = {"check_same_thread": False}
            self._read_engine = create_engine(parsed, pool_size=8, connect_args=sqlite_args)
            self._write_engine = create_engine(
                parsed, poolclass=StaticPool, connect_args=sqlite_args
            )
            _configure_sqlite(self._read_engine, begin="BEGIN")
            _configure_sqlite(self._write_engine, begin="BEGIN IMMEDIATE")
        else:
            # Named in pg_stat_activity, unless the URL names it otherwise.
            connect_args = {"application_name": "hyperdial-server", **_POSTGRES_CONNECT_ARGS}
            for given in parsed.query:
                connect_args.pop(given, None)
            options = {"pool_pre_ping": True, "connect_args": connect_args}
            self._read_engine = create_engine(parsed, pool_size=8, **options)
            self._write_engine = create_engine(parsed, pool_size=1, **options)
        self._dbapi: Any = self._write_engine.dialect.dbapi
        self._open()
        dialect = self._write_engine.dialect
        self._statements = Statements(dialect, lock_rows=self.backend != "sqlite")
        self._read_statements = Statements(dialect, lock_rows=False)
        self._writer: Writer[SqlTransaction] = Writer(
            self._write_engine,
            lambda conn: SqlTransaction(conn, self._statements),
            durability=durability,
            guard=None if self._file is None else self._file.check,
            on_commit=on_commit,
        )

    def _open(self) -> None:
        """Migrates the schema and proves the database takes writes, or says why not."""
        try:
            self._migrate()
        except Exception as error:
            self._read_engine.dispose()
            self._write_engine.dispose()
            if not is_database_error(error, self._dbapi):
                raise
            reason = _reason(error)
            raise StartupError(f"cannot use the database {self._shown}: {reason}") from None
        if self._file is not None:
            self._file.pin()
        self._lock_class = 0
        if self.backend == "postgresql":
            with self._read_engine.connect() as conn:
                self._lock_class = _computation_lock_class(
                    str(conn.execute(text("SELECT current_schema()")).scalar())
                )

    def _migrate(self) -> None:
        """Brings the database to the newest schema revision, creating it when empty.

        Then writes without changing anything: a read-only database fails here,
        at startup, rather than at every write once the server says SERVING.
        """
        config = alembic.config.Config()
        config.set_main_option("script_location", "hyperdial.server.store:migrations")
        with self._write_engine.begin() as conn:
            if self.backend == "postgresql":
                # Replicas starting together migrate one after the other.
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
            tables = set(inspect(conn).get_table_names())
            config.attributes["connection"] = conn
            if "schema_info" in tables and "alembic_version" not in tables:
                alembic.command.stamp(config, "0001")  # made before migrations existed
            alembic.command.upgrade(config, "head")
            SqlTransaction(conn, Statements(conn.dialect, lock_rows=False)).touch()

    def write(
        self, op: Callable[[SqlTransaction], T], *, durable: bool, key: str = ""
    ) -> Future[T]:
        """See `Store.write`."""
        return self._writer.submit(op, durable=durable, key=key)

    def read(self, op: Callable[[SqlTransaction], T]) -> T:
        """See `Store.read`."""
        try:
            with self._read_engine.connect() as conn:
                try:
                    with conn.begin():
                        return op(SqlTransaction(conn, self._read_statements))
                except self._dbapi.Error:
                    conn.invalidate()  # raised past SQLAlchemy: the connection may be dead
                    raise
        except Exception as error:
            if is_database_error(error, self._dbapi):
                raise classify(error, "a read") from error
            raise

    def try_lock_computation(self, study_id: int) -> ComputationLock | None:
        """See `Store.try_lock_computation`."""
        if self.backend != "postgresql":
            return _NoLock()
        try:
            conn = self._read_engine.connect()
        except SQLAlchemyError as error:
            raise classify(error, "taking a computation lock") from error
        try:
            held = conn.execute(
                text("SELECT pg_try_advisory_lock(:kind, :study)"),
                {"kind": self._lock_class, "study": study_id % 2**31},
            ).scalar()
            conn.commit()
        except SQLAlchemyError as error:
            conn.close()
            raise classify(error, "taking a computation lock") from error
        if not held:
            conn.close()
            return None
        return _AdvisoryLock(conn, self._lock_class, study_id % 2**31)

    def close(self) -> None:
        """See `Store.close`."""
        self._writer.close()
        self._read_engine.dispose()
        self._write_engine.dispose()
        if self._file is not None:
            self._file.close()


def _parse_url(url: str) -> URL:
    """The URL, with `postgresql://` meaning our driver; StartupError if we cannot serve it."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StartupError(
            f"--database {url!r} is not a database URL; use sqlite:///PATH or "
            "postgresql://USER@HOST/DB"
        ) from None
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        raise StartupError(
            f"--database: {backend!r} databases are not supported; use sqlite:///PATH or "
            "postgresql://USER@HOST/DB"
        )
    if backend == "postgresql":
        if "+" not in parsed.drivername:
            return parsed.set(drivername="postgresql+psycopg")
        if parsed.get_driver_name() != "psycopg":
            raise StartupError(
                f"--database: the driver {parsed.get_driver_name()!r} is not installed; "
                "use postgresql+psycopg://USER@HOST/DB"
            )
    elif parsed.drivername != "sqlite":
        raise StartupError(f"--database: use sqlite:///PATH, not {parsed.drivername}://")
    return parsed


def _reason(error: BaseException) -> str:
    """The first line of a database error's own message."""
    original = getattr(error, "orig", None) or error
    text = str(original).strip()
    return text.splitlines()[0] if text else type(original).__name__


def _configure_sqlite(engine: Engine, *, begin: str) -> None:
    """WAL, foreign keys, and transactions that SQLAlchemy (not pysqlite) begins."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA foreign_keys=ON")
        dbapi_connection.execute("PRAGMA busy_timeout=10000")

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Straight to the driver: exec_driver_sql costs ~100 µs per transaction here.
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        dbapi.execute(begin)
