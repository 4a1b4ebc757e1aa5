"""The store contract (`hyperdial.server.testing.store_contract`) on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers import postgres_schema

from hyperdial.server.store.sql import SqlStore
from hyperdial.server.testing.store_contract import StoreContract


class TestSqliteStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SqlStore]:
        opened = SqlStore(f"sqlite:///{tmp_path / 'hyperdial.db'}", create=True)
        yield opened
        opened.close()


class TestPostgresStore(StoreContract):
    @pytest.fixture
    def store(self) -> Iterator[SqlStore]:
        with postgres_schema() as url:
            opened = SqlStore(url)
            yield opened
            opened.close()
