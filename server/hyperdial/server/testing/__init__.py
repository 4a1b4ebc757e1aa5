"""Real servers for tests and benchmarks: `serve()` runs one on 127.0.0.1 in a thread."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace

from hyperdial.server.app import App, build
from hyperdial.server.config import Settings


@dataclass(frozen=True)
class RunningServer:
    """A server started by `serve`; `address` is HOST:PORT for a channel."""

    address: str
    app: App


@contextlib.contextmanager
def serve(database: str, settings: Settings | None = None) -> Iterator[RunningServer]:
    """Runs a real gRPC server on an ephemeral loopback port for the `with` block.

    A missing SQLite file is created unless `settings` say otherwise.
    """
    settings = settings or Settings()
    create = True if settings.create_database is None else settings.create_database
    settings = replace(settings, address="127.0.0.1:0", database=database, create_database=create)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="hyperdial-test-server", daemon=True)
    thread.start()
    try:
        app = asyncio.run_coroutine_threadsafe(build(settings), loop).result(timeout=60)
        try:
            yield RunningServer(address=f"127.0.0.1:{app.port}", app=app)
        finally:
            asyncio.run_coroutine_threadsafe(app.stop(1.0), loop).result(timeout=60)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
