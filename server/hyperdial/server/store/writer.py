"""The store's one writer thread: group commit, per-op savepoints, recovery from faults.

Every write of a server goes through one thread that drains a queue and
commits everything waiting in one transaction: sixteen clients' Observes
share one fsync instead of paying one each. Each op runs in a savepoint, so
one op's error rolls back only that op and reaches only its caller.

The thread must outlive any fault, because every Suggest and Observe waits
on it. When the database fails a batch (its connection was ended, the disk
is full, a deadlock), the batch's callers get a retryable error, the
connection is replaced, and the next batch starts afresh. A caller that gave
up before its op ran (its RPC was cancelled) is skipped, not run.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine, RootTransaction

from hyperdial.server.errors import Conflict, HyperdialError, Unavailable
from hyperdial.server.store.base import Durability
from hyperdial.server.store.failures import classify, is_database_error, session_ended

T = TypeVar("T")
Txn = TypeVar("Txn")
log = logging.getLogger(__name__)

MAX_BATCH = 512


@dataclass
class Write(Generic[Txn, T]):
    """One queued op, the study row it locks (its `key`), and its caller's future."""

    op: Callable[[Txn], T]
    durable: bool
    key: str
    future: Future[T]


class Writer(Generic[Txn]):
    """Runs queued write ops in batches on one connection of `engine`.

    Args:
        engine: where the connection comes from (and a fresh one after a fault).
        begin: makes the transaction object ops receive, on a connection.
        durability: "full" fsyncs a batch that holds a durable write.
        guard: runs before each batch and after its commit, before anyone is
            answered; raising `Unavailable` refuses the batch or withholds its
            answers (e.g. the SQLite file vanished).
        on_commit: told each committed batch's size (metrics).
    """

    def __init__(
        self,
        engine: Engine,
        begin: Callable[[Connection], Txn],
        *,
        durability: Durability,
        guard: Callable[[], None] | None = None,
        on_commit: Callable[[int], None] | None = None,
    ) -> None:
        self._engine = engine
        self._begin = begin
        self._durability = durability
        self._guard = guard
        self._on_commit = on_commit
        self._backend = engine.dialect.name
        self._dbapi: Any = engine.dialect.dbapi
        self._synchronous = ""
        self._closed = False
        self._queue: queue.SimpleQueue[Write[Txn, Any] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._run, name="hyperdial-store-writer", daemon=True
        )
        self._thread.start()

    def submit(self, op: Callable[[Txn], T], *, durable: bool, key: str = "") -> Future[T]:
        """Queues `op`; the future resolves after its batch commits (or with its error)."""
        future: Future[T] = Future()
        if self._closed:
            future.set_exception(Unavailable("the store is closed"))
            return future
        self._queue.put(Write(op, durable, key, future))
        return future

    def close(self) -> None:
        """Finishes the queued writes and stops the thread."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join()

    def _run(self) -> None:
        connection: Connection | None = None
        stop = False
        while not stop:
            batch, stop = self._next_batch()
            if batch:
                connection = self._commit_or_fail(connection, batch)
        _discard(connection)

    def _next_batch(self) -> tuple[list[Write[Txn, Any]], bool]:
        """Everything queued (up to MAX_BATCH) whose caller still waits, and whether to stop."""
        item = self._queue.get()
        batch: list[Write[Txn, Any]] = []
        while item is not None:
            # Once running, a future can no longer be cancelled under the writer.
            if item.future.set_running_or_notify_cancel():
                batch.append(item)
            if len(batch) >= MAX_BATCH:
                return batch, False
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return batch, False
        return batch, True

    def _commit_or_fail(
        self, connection: Connection | None, batch: list[Write[Txn, Any]]
    ) -> Connection | None:
        """Commits `batch`, or fails every op in it; returns the connection to go on with.

        A connection found dead before the commit was sent (PostgreSQL ended
        the session, say) is replaced and the batch run once more: nothing of
        it was committed, so the callers never see that fault.
        """
        try:
            if self._guard is not None:
                self._guard()
        except Unavailable as refused:
            self._fail(batch, refused)
            return connection
        for attempt in (1, 2):
            try:
                if connection is None:
                    connection = self._engine.connect()
                    self._synchronous = ""
                if self._commit(connection, batch):
                    return connection
                break
            except _LostBeforeCommit as lost:
                _discard(connection)
                connection = None
                if attempt == 1:
                    log.warning(
                        "the database connection was lost before a batch of %d writes "
                        "committed (%s); running it again on a new connection",
                        len(batch),
                        lost.__cause__,
                    )
                    continue
                self._fail(batch, lost.__cause__ or lost)
            except Exception as error:  # the thread must survive anything a batch raises
                self._fail(batch, error)
                break
        if connection is not None:
            _discard(connection)
        return None

    def _fail(self, batch: list[Write[Txn, Any]], error: BaseException) -> None:
        """Answers every op of a failed batch that has no answer yet."""
        failure: HyperdialError
        if isinstance(error, Unavailable):  # the guard refused the batch
            failure = error
        elif is_database_error(error, self._dbapi):
            failure = classify(error, f"a batch of {len(batch)} writes")
        else:
            log.error("a batch of %d writes failed unexpectedly", len(batch), exc_info=error)
            failure = Unavailable("the database write failed; retry later")
        for write in batch:
            if not write.future.done():
                write.future.set_exception(failure)

    def _commit(self, connection: Connection, batch: list[Write[Txn, Any]]) -> bool:
        """Runs `batch` in one transaction, each op in a savepoint; one commit, one fsync.

        Ops run ordered by the study they lock (arrival order within a study):
        replicas on one PostgreSQL database then take row locks in the same
        order, so their batches cannot deadlock each other.

        Returns whether the connection is still fit for the next batch.

        Raises:
            _LostBeforeCommit: the connection died before the commit was sent.
        """
        durable = self._durability == "full" and any(w.durable for w in batch)
        batch.sort(key=lambda write: write.key)
        try:
            if self._backend == "sqlite":
                self._set_synchronous(connection, "FULL" if durable else "NORMAL")
            transaction = connection.begin()
            try:
                outcomes, healthy = self._run_ops(connection, transaction, batch, durable)
            except Exception:
                _rollback(transaction)
                raise
        except Exception as error:
            if self._disconnected(error, connection):
                raise _LostBeforeCommit from error
            raise
        if transaction.is_active:
            transaction.commit()  # a failure here leaves the outcome unknown: no rerun
        if self._guard is not None:
            self._guard()
        if self._on_commit is not None:
            self._on_commit(len(batch))
        for write, (ok, outcome) in zip(batch, outcomes, strict=True):
            if ok:
                write.future.set_result(outcome)
            else:
                write.future.set_exception(outcome)
        return healthy

    def _run_ops(
        self,
        connection: Connection,
        transaction: RootTransaction,
        batch: list[Write[Txn, Any]],
        durable: bool,
    ) -> tuple[list[tuple[bool, Any]], bool]:
        """Each op's (succeeded, result or error), and whether the connection stays sound.

        A batch of one op needs no savepoint: if it fails, the transaction is
        rolled back whole. A disconnect is raised, not kept as an op's error.
        """
        cursor = _cursor(connection)
        if self._backend == "postgresql" and not durable:
            # The commit may return before the WAL is flushed: safe for a crash of
            # this server, which is all a non-durable write promises.
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
        txn = self._begin(connection)
        isolate = len(batch) > 1
        outcomes: list[tuple[bool, Any]] = []
        healthy = True
        for write in batch:
            if isolate:
                cursor.execute("SAVEPOINT op")
            try:
                result = write.op(txn)
            except Exception as error:
                if not is_database_error(error, self._dbapi):
                    outcomes.append((False, error))
                elif self._disconnected(error, connection):
                    raise
                else:
                    failure = classify(error, "a write")
                    # A lost race leaves the connection sound; anything else may not.
                    healthy = healthy and isinstance(failure, Conflict)
                    outcomes.append((False, failure))
                if isolate:
                    cursor.execute("ROLLBACK TO SAVEPOINT op")
                else:
                    transaction.rollback()
            else:
                outcomes.append((True, result))
            if isolate:
                cursor.execute("RELEASE SAVEPOINT op")
        return outcomes, healthy

    def _disconnected(self, error: BaseException, connection: Connection) -> bool:
        """Whether `error` means the connection itself is gone."""
        if getattr(error, "connection_invalidated", False):
            return True
        if not is_database_error(error, self._dbapi):
            return False
        if session_ended(error):
            return True
        original: Any = getattr(error, "orig", None) or error
        dbapi_connection = connection.connection.dbapi_connection
        return bool(self._engine.dialect.is_disconnect(original, dbapi_connection, None))

    def _set_synchronous(self, connection: Connection, level: str) -> None:
        if level != self._synchronous:
            # On the raw connection: SQLAlchemy would wrap the pragma in a transaction.
            _cursor(connection).execute(f"PRAGMA synchronous={level}")
            self._synchronous = level


def _cursor(connection: Connection) -> Any:
    dbapi = connection.connection.dbapi_connection
    assert dbapi is not None
    return dbapi.cursor()


class _LostBeforeCommit(Exception):
    """The writer's connection died before its batch's commit was sent."""


def _discard(connection: Connection | None) -> None:
    """Drops a connection (one that failed, or at the end): a later batch gets a new one."""
    if connection is None:
        return
    try:
        connection.invalidate()
        connection.close()
    except Exception:  # already broken; nothing more to release
        log.debug("closing a failed writer connection raised", exc_info=True)


def _rollback(transaction: RootTransaction) -> None:
    """Rolls back what a failed batch began; on a dead connection there is nothing to undo."""
    try:
        if transaction.is_active:
            transaction.rollback()
    except Exception:
        log.debug("rolling back a failed batch raised", exc_info=True)
