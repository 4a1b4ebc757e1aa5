"""The per-study computation lock: one replica at a time, and never held by a dead one."""

from __future__ import annotations

import time

import psycopg
from tests.helpers import POSTGRES, postgres_schema

from hyperdial.server.store.sql import SqlStore


def test_replicas_take_turns_and_a_dead_holder_frees_the_study() -> None:
    with postgres_schema() as url:
        first, second = SqlStore(url, create=True), SqlStore(url, create=True)
        try:
            held = first.try_lock_computation(7)
            assert held is not None
            assert second.try_lock_computation(7) is None
            other_study = second.try_lock_computation(8)
            assert other_study is not None
            other_study.release()
            held.release()
            again = second.try_lock_computation(7)
            assert again is not None
            # The holder's session dies (a replica killed mid-computation): the lock goes too.
            with psycopg.connect(POSTGRES, autocommit=True) as admin:
                killed = admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND objid = 7"
                ).fetchall()
            assert killed
            taken = None
            deadline = time.monotonic() + 10  # the killed backend takes a moment to exit
            while taken is None and time.monotonic() < deadline:
                taken = first.try_lock_computation(7)
                time.sleep(0.05)
            assert taken is not None
            taken.release()
            again.release()  # on a dead connection: logged, not raised
        finally:
            first.close()
            second.close()


def test_sqlite_has_one_process_and_always_grants_the_lock(sqlite_url: str) -> None:
    store = SqlStore(sqlite_url, create=True)
    try:
        one, two = store.try_lock_computation(1), store.try_lock_computation(1)
        assert one is not None
        assert two is not None
        one.release()
        two.release()
    finally:
        store.close()
