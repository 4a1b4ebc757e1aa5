"""SQL store on SQLAlchemy 2 Core: SQLite (default, WAL) or PostgreSQL by URL.

This module opens the database (URL, engines, migrations, the startup write)
and hands out transactions. All writes of a server go through one writer
thread (`writer.py`: group commit, recovery from database faults); reads use
a separate connection pool and, on SQLite's WAL, never wait for the writer.
Every database error leaves the store as Conflict or Unavailable
(`failures.py`), never as a raw driver error. Ops see `transaction.py`;
replicas take turns computing through `locks.py`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any, TypeVar

import alembic.command
import alembic.config
from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

from hyperdial.server.errors import StartupError
from hyperdial.server.store.base import ComputationLock, Durability
from hyperdial.server.store.failures import classify, first_line, is_database_error
from hyperdial.server.store.locks import ComputationLocks
from hyperdial.server.store.prepared import Statements
from hyperdial.server.store.sqlite_file import DatabaseFile
from hyperdial.server.store.transaction import SqlTransaction
from hyperdial.server.store.writer import Writer

T = TypeVar("T")

_MIGRATION_LOCK = 0x68797065  # any constant; the advisory lock that serializes migrations


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
            reason = first_line(error)
            raise StartupError(f"cannot use the database {self._shown}: {reason}") from None
        if self._file is not None:
            self._file.pin()
        self._locks = ComputationLocks(self._read_engine)

    def _migrate(self) -> None:
        """Brings the database to the newest schema revision, creating it when empty.

        Then writes without changing anything: a read-only database fails here,
        at startup, rather than at every write once the server says SERVING.
        """
        config = alembic.config.Config()
        config.set_main_option("script_location", "hyperdial.server.store:migrations")
        with self._write_engine.connect() as conn, _foreign_keys_off(conn), conn.begin():
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
        return self._locks.try_lock(study_id)

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


@contextlib.contextmanager
def _foreign_keys_off(conn: Connection) -> Iterator[None]:
    """SQLite's foreign keys off while migrations run, outside their transaction.

    SQLite alters a table by copying it and dropping the old copy; with foreign
    keys on, that drop deletes every row that refers to the table (a trial's
    learning curve). The pragma is a no-op inside a transaction, so it is set
    on the driver's connection before one begins, and checked afterwards.
    """
    dbapi = conn.connection.dbapi_connection if conn.dialect.name == "sqlite" else None
    if dbapi is None:
        yield
        return
    dbapi.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
        broken = dbapi.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise StartupError(f"the migrated database breaks foreign keys: {broken[:3]}")
    finally:
        dbapi.execute("PRAGMA foreign_keys=ON")


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
