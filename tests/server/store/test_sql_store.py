"""The SQL store on a real SQLite file: group commit, failing ops, durability, indexes."""

import sqlite3
import threading
from pathlib import Path

import pytest

from hyperdial.server.domain import Goal, Objective, StudyConfig
from hyperdial.server.errors import NotFound, StartupError
from hyperdial.server.space import FloatParam, SearchSpace
from hyperdial.server.store.base import NewTrial
from hyperdial.server.store.prepared import Statements
from hyperdial.server.store.sql import SqlStore

CONFIG = StudyConfig(SearchSpace((FloatParam("x", 0, 1),)), (Objective("loss", Goal.MINIMIZE),))


@pytest.fixture
def store(database_url: str):
    opened = SqlStore(database_url, create=True)
    yield opened
    opened.close()


def test_writes_are_visible_to_a_new_store_on_the_same_database(database_url: str) -> None:
    url = database_url
    first = SqlStore(url, create=True)
    study = first.write(lambda txn: txn.create_study("s", CONFIG, 1.0), durable=True).result()
    first.write(
        lambda txn: txn.insert_trials(study, 1, [NewTrial({"x": 0.5}, None)], "w", 2.0, 3.0),
        durable=True,
    ).result()
    first.close()
    second = SqlStore(url, create=True)
    try:
        found = second.read(lambda txn: txn.find_study("s"))
        assert found is not None
        assert found.config == CONFIG
        trial = second.read(lambda txn: txn.get_trial(found, 1))
        assert trial.params == {"x": 0.5}
    finally:
        second.close()


def test_a_failing_op_rolls_back_alone(store: SqlStore) -> None:
    store.write(lambda txn: txn.create_study("kept", CONFIG, 1.0), durable=True).result()
    gate = threading.Event()

    def slow(txn):
        gate.wait(5)

    def half_then_fail(txn):
        txn.create_study("rolled-back", CONFIG, 1.0)
        raise NotFound("boom")

    blocker = store.write(slow, durable=False)
    # These queue behind `slow` and are committed together in the next batch.
    failing = store.write(half_then_fail, durable=True)
    fine = store.write(lambda txn: txn.create_study("also-kept", CONFIG, 1.0), durable=True)
    gate.set()
    blocker.result()
    with pytest.raises(NotFound):
        failing.result()
    assert fine.result().name == "also-kept"
    assert store.read(lambda txn: txn.find_study("rolled-back")) is None
    assert store.read(lambda txn: txn.find_study("kept")) is not None


def test_concurrent_writes_share_commits(database_url: str) -> None:
    batches: list[int] = []
    store = SqlStore(database_url, on_commit=batches.append, create=True)
    started, gate = threading.Event(), threading.Event()

    def blocking(txn) -> None:
        started.set()
        gate.wait(5)

    first = store.write(blocking, durable=True)
    assert started.wait(5)
    # Queued while the writer is busy: all fifty go in the next transaction.
    rest = [
        store.write(lambda txn, i=i: txn.create_study(f"s{i}", CONFIG, 1.0), durable=True)
        for i in range(50)
    ]
    gate.set()
    first.result()
    assert [f.result().name for f in rest] == [f"s{i}" for i in range(50)]
    assert batches == [1, 50]
    store.close()


def test_hot_statements_use_indexes(tmp_path: Path) -> None:
    """No hot-path statement scans the trials table: Suggest and Observe cost O(log n)."""
    path = tmp_path / "plans.db"
    store = SqlStore(f"sqlite:///{path}", create=True)
    store.close()
    from sqlalchemy.dialects import sqlite

    statements = Statements(sqlite.dialect(), lock_rows=False)
    connection = sqlite3.connect(path)
    values = dict.fromkeys(
        [
            *("name", "study_id", "worker_id", "limit", "now", "number", "state", "value"),
            *("reason", "request_id", "draws", "trial_count", "budget_used", "trial_id", "until"),
        ],
        1,
    )
    for name, statement in vars(statements).items():
        if name == "insert_trial":
            continue
        plan = connection.execute(
            "EXPLAIN QUERY PLAN " + statement.sql, statement.args(values)
        ).fetchall()
        details = " ".join(row[-1] for row in plan)
        assert "SCAN" not in details, (name, details)
        assert "TEMP B-TREE" not in details, (name, details)
    connection.close()


def test_memory_databases_are_refused() -> None:
    with pytest.raises(StartupError, match="needs a file"):
        SqlStore("sqlite://")


@pytest.mark.parametrize(
    ("durability", "durable", "level"),
    [("full", True, 2), ("full", False, 1), ("process", True, 1)],
)
def test_durable_writes_commit_with_fsync(tmp_path: Path, durability, durable, level) -> None:
    """In "full" mode a durable write commits with synchronous=FULL (2): fsync'd."""
    store = SqlStore(f"sqlite:///{tmp_path / 'sync.db'}", durability=durability, create=True)
    try:

        def synchronous(txn) -> int:
            return txn._conn.exec_driver_sql("PRAGMA synchronous").scalar()

        assert store.write(synchronous, durable=durable).result() == level
    finally:
        store.close()
