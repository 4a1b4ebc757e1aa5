"""Advisory locks that let one replica at a time compute a study's suggestions.

On PostgreSQL a session advisory lock, keyed by (schema, study); on SQLite,
which serves one process, nothing beyond the service's in-process lock.
"""

from __future__ import annotations

import logging
import zlib

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from hyperdial.server.store.base import ComputationLock
from hyperdial.server.store.failures import classify

log = logging.getLogger(__name__)


class ComputationLocks:
    """The computation locks of the database behind `engine`."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._kind = 0
        if self._postgres:
            with engine.connect() as conn:
                schema = conn.execute(text("SELECT current_schema()")).scalar()
            self._kind = _lock_class(str(schema))

    def try_lock(self, study_id: int) -> ComputationLock | None:
        """See `Store.try_lock_computation`."""
        if not self._postgres:
            return _NoLock()
        key = study_id % 2**31
        try:
            conn = self._engine.connect()
        except SQLAlchemyError as error:
            raise classify(error, "taking a computation lock") from error
        try:
            held = conn.execute(
                text("SELECT pg_try_advisory_lock(:kind, :study)"),
                {"kind": self._kind, "study": key},
            ).scalar()
            conn.commit()
        except SQLAlchemyError as error:
            conn.close()
            raise classify(error, "taking a computation lock") from error
        if not held:
            conn.close()
            return None
        return _AdvisoryLock(conn, self._kind, key)


def _lock_class(schema: str) -> int:
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
