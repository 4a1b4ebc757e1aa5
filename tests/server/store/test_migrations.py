"""Schema migrations: the newest revision matches the table definitions; old databases upgrade."""

import json

import alembic.command
import alembic.config
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from hyperdial.server.domain import DEFAULT_MAX_REISSUES, Goal, Objective, StudyConfig
from hyperdial.server.space import FloatParam, SearchSpace
from hyperdial.server.store.schema import metadata
from hyperdial.server.store.sql import SqlStore

CONFIG = StudyConfig(SearchSpace((FloatParam("x", 0, 1),)), (Objective("loss", Goal.MINIMIZE),))


def _migrate_to(url: str, revision: str) -> None:
    engine = create_engine(url)
    config = alembic.config.Config()
    config.set_main_option("script_location", "hyperdial.server.store:migrations")
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        alembic.command.upgrade(config, revision)
    engine.dispose()


def test_the_newest_revision_matches_the_table_definitions(database_url) -> None:
    SqlStore(database_url, create=True).close()
    engine = create_engine(database_url)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert differences == []


@pytest.mark.parametrize("adopt", [False, True])
def test_a_version_1_database_upgrades_and_keeps_its_data(database_url, adopt) -> None:
    _migrate_to(database_url, "0001")
    old_config = json.loads(CONFIG.to_json())
    del old_config["max_reissues"]  # revision 0001 stored configs without it
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO studies (name, config_json, state, created_at, draws, trial_count, "
                "budget_used) VALUES ('old', :config, 'ACTIVE', 1.0, 1, 1, 1)"
            ),
            {"config": json.dumps(old_config)},
        )
        conn.execute(
            text(
                "INSERT INTO trials (study_id, number, state, params_json, worker_id, value, "
                "reason, created_at, finished_at, lease_expires_at, grid_index, requeued, "
                "request_id) SELECT id, 1, 'COMPLETED', '{\"x\": 0.5}', 'w', 0.25, '', 1.0, "
                "2.0, NULL, NULL, false, 'r' FROM studies WHERE name = 'old'"
            )
        )
        conn.execute(
            text(
                "INSERT INTO measurements (trial_id, step, value) "
                "SELECT id, 3, 0.5 FROM trials WHERE number = 1"
            )
        )
        if adopt:  # a database from before migrations existed: no alembic_version table
            conn.execute(text("DROP TABLE alembic_version"))
    engine.dispose()

    store = SqlStore(database_url, create=True)
    try:
        study = store.read(lambda txn: txn.find_study("old"))
        assert study is not None
        assert study.config.max_reissues == DEFAULT_MAX_REISSUES
        assert study.steps == 1  # counted from the stored curve (0009)
        assert study.config.to_json() == CONFIG.to_json()
        (trial,) = store.read(lambda txn: txn.list_trials(study, [], 0, 10))
        assert (trial.params, trial.value, trial.request_id) == ({"x": 0.5}, 0.25, "r")
        # Its learning curve too: SQLite copies tables to alter them, and dropping the old
        # copy with foreign keys on would cascade to every row that refers to it.
        curve = store.read(lambda txn: txn.measurements(study, 1))
        assert [(m.step, m.value) for m in curve] == [(3, 0.5)]
    finally:
        store.close()
    engine = create_engine(database_url)
    with engine.connect() as conn:
        indexes = {i["name"] for i in inspect(conn).get_indexes("trials")}
        tables = set(inspect(conn).get_table_names())
    engine.dispose()
    assert "ix_trials_grid" in indexes
    assert "schema_info" not in tables
