"""The store's writer under database faults: it survives, answers retryable errors, recovers."""

import threading

import psycopg
import pytest
from tests.helpers import POSTGRES, postgres_schema

from hyperdial.server.domain import Goal, Objective, StudyConfig
from hyperdial.server.errors import Conflict, NotFound, Unavailable
from hyperdial.server.space import FloatParam, SearchSpace
from hyperdial.server.store.sql import SqlStore

CONFIG = StudyConfig(SearchSpace((FloatParam("x", 0, 1),)), (Objective("loss", Goal.MINIMIZE),))


def _writer_pid(store: SqlStore) -> int:
    return store.write(
        lambda txn: txn._conn.exec_driver_sql("SELECT pg_backend_pid()").scalar(), durable=False
    ).result(timeout=10)


def _terminate(pid: int) -> None:
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


@pytest.fixture
def pg_store():
    with postgres_schema() as url:
        store = SqlStore(url, create=True)
        yield store
        store.close()


def _blocker():
    started, gate = threading.Event(), threading.Event()

    def blocking(txn) -> None:
        started.set()
        gate.wait(10)

    return blocking, started, gate


@pytest.mark.parametrize("others", [0, 3])
def test_a_batch_whose_connection_was_ended_runs_again_on_a_new_one(pg_store, others) -> None:
    """Nothing was committed when the connection died: rerunning the batch is safe.

    Without more statements the loss shows only at COMMIT, whose outcome is
    unknown: that batch is not rerun but answered UNAVAILABLE (its callers retry).
    """
    store = pg_store
    store.write(lambda txn: txn.create_study("s", CONFIG, 1.0), durable=True).result(timeout=10)
    pid = _writer_pid(store)
    hold_first, first_started, release_first = _blocker()
    hold_second, second_started, release_second = _blocker()
    first = store.write(hold_first, durable=False)
    assert first_started.wait(10)
    # Queued while the writer is busy: the next batch, the blocker first.
    batch = [store.write(hold_second, durable=False, key="")]
    batch += [
        store.write(lambda txn: txn.lock_study("s"), durable=True, key="s") for _ in range(others)
    ]
    release_first.set()
    first.result(timeout=10)
    assert second_started.wait(10)
    _terminate(pid)  # mid-batch: the rest of it runs on a dead connection
    release_second.set()
    if others:
        assert [f.result(timeout=30) is None for f in batch] == [True] + [False] * others
    else:
        with pytest.raises(Unavailable):
            batch[0].result(timeout=30)
    assert _writer_pid(store) != pid


def test_a_batch_that_keeps_losing_its_connection_fails_retryably(pg_store) -> None:
    store = pg_store
    store.write(lambda txn: txn.create_study("s", CONFIG, 1.0), durable=True).result(timeout=10)
    hold, started, release = _blocker()
    blocker = store.write(hold, durable=False)
    assert started.wait(10)

    def suicidal(txn) -> None:  # ends its own session, on every connection it is given
        txn._conn.exec_driver_sql("SELECT pg_terminate_backend(pg_backend_pid())")

    batch = [
        store.write(suicidal, durable=True),
        store.write(lambda txn: txn.lock_study("s"), durable=True, key="s"),
    ]
    release.set()
    blocker.result(timeout=10)
    for future in batch:
        with pytest.raises(Unavailable):
            future.result(timeout=30)
    # The writer goes on with a new connection.
    assert store.write(lambda txn: txn.lock_study("s"), durable=True, key="s").result(30)


def test_a_deadlock_between_replicas_is_a_retryable_conflict() -> None:
    """Two stores on one database lock two studies in opposite orders inside single ops."""
    with postgres_schema() as url:
        stores = [SqlStore(url, create=True), SqlStore(url, create=True)]
        try:
            for name in ("a", "b"):
                stores[0].write(
                    lambda txn, n=name: txn.create_study(n, CONFIG, 1.0), durable=True
                ).result(timeout=10)
            both_locked = threading.Barrier(2, timeout=10)

            def opposite(first: str, second: str):
                def op(txn):
                    txn.lock_study(first)
                    both_locked.wait()
                    return txn.lock_study(second)

                return op

            futures = [
                stores[0].write(opposite("a", "b"), durable=True),
                stores[1].write(opposite("b", "a"), durable=True),
            ]
            outcomes = []
            for future in futures:
                try:
                    outcomes.append(future.result(timeout=30).name)
                except Conflict as error:
                    outcomes.append(error)
            # PostgreSQL breaks the cycle by failing one of them; that one may be retried.
            assert sum(isinstance(o, Conflict) for o in outcomes) == 1
            assert sum(isinstance(o, str) for o in outcomes) == 1
            # Both writers go on.
            for store in stores:
                assert store.write(lambda txn: txn.lock_study("a"), durable=True).result(10)
        finally:
            for store in stores:
                store.close()


def test_a_cancelled_write_is_skipped_and_the_writer_goes_on(database_url: str) -> None:
    store = SqlStore(database_url, create=True)
    try:
        started, gate = threading.Event(), threading.Event()

        def blocking(txn) -> None:
            started.set()
            gate.wait(10)

        first = store.write(blocking, durable=False)
        assert started.wait(10)
        cancelled = store.write(lambda txn: txn.create_study("never", CONFIG, 1.0), durable=True)
        assert cancelled.cancel()  # the caller gave up (e.g. its RPC's deadline passed)
        gate.set()
        first.result(timeout=10)
        kept = store.write(lambda txn: txn.create_study("kept", CONFIG, 1.0), durable=True)
        assert kept.result(timeout=10).name == "kept"
        assert store.read(lambda txn: txn.find_study("never")) is None
    finally:
        store.close()


def test_database_errors_inside_an_op_are_unavailable_not_internal(database_url: str) -> None:
    store = SqlStore(database_url, create=True)
    try:

        def broken_sql(txn) -> None:
            txn._cursor.execute("SELECT * FROM no_such_table")

        with pytest.raises(Unavailable):
            store.write(broken_sql, durable=True).result(timeout=10)
        with pytest.raises(Unavailable):
            store.read(broken_sql)
        with pytest.raises(NotFound):
            store.write(lambda txn: txn.lock_study("ghost"), durable=True).result(timeout=10)
        assert store.write(lambda txn: txn.create_study("s", CONFIG, 1.0), durable=True).result(10)
    finally:
        store.close()
