"""Shared fixtures: real databases (an SQLite file; a PostgreSQL schema), real servers, clients."""

from __future__ import annotations

import faulthandler
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers import ServerProcess, postgres_schema

from hyperdial.client import Client
from hyperdial.server.testing import RunningServer, serve

# Once the session has ended, the interpreter has this long to exit; past it, every
# thread's stack is printed and the run fails, instead of hanging on a leftover
# thread or child process until CI's own limit.
EXIT_SECONDS = 120


def pytest_unconfigure(config: pytest.Config) -> None:
    faulthandler.dump_traceback_later(EXIT_SECONDS, exit=True)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hyperdial.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each backend in turn: an SQLite file, or a fresh PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hyperdial.db'}"
        return
    with postgres_schema() as url:
        yield url


@pytest.fixture
def server(database_url: str) -> Iterator[RunningServer]:
    with serve(database_url) as running:
        yield running


@pytest.fixture
def client(server: RunningServer) -> Iterator[Client]:
    # The deadline only catches hangs: a bayes suggestion takes seconds when the
    # two cores of a CI machine are shared with other work.
    with Client(server.address, timeout=60, retry_seconds=5) as connected:
        yield connected


@pytest.fixture
def server_process() -> Iterator[type[ServerProcess]]:
    started: list[ServerProcess] = []

    class Tracked(ServerProcess):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            started.append(self)

    yield Tracked
    for proc in started:
        if proc.process.poll() is None:
            proc.process.kill()
            proc.process.wait()
