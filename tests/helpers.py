"""Helpers for tests that need more than a fixture: the repo root, a server child process."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hyperdial.client.tools.local import LocalServer

REPO = Path(__file__).resolve().parent.parent
POSTGRES = os.environ.get("HYPERDIAL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh schema on the test PostgreSQL server, as a hyperdial database URL; dropped after.

    Skips the test when no server answers, except under CI, where it fails.
    """
    import psycopg

    schema = f"hd_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(POSTGRES, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES}: {error}")
    with admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            url = POSTGRES.replace("postgresql://", "postgresql+psycopg://", 1)
            yield f"{url}?options=-csearch_path%3D{schema}"
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


class ServerProcess(LocalServer):
    """`hyperdial server` as a child process, as users run it, with a short grace period."""

    def __init__(self, database_url: str, port: int = 0) -> None:
        super().__init__(database_url, port=port, args=["--grace-seconds", "2"])
