"""Real servers for tests and benchmarks: `serve()` runs one on 127.0.0.1 in a thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import sys
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, replace

from hyperdial.server.app import App, build
from hyperdial.server.config import Settings

# How long a test server may take to start or to stop (`App.stop` with a 1 s grace).
SECONDS_TO_START_OR_STOP = 60


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
        started = asyncio.run_coroutine_threadsafe(build(settings), loop)
        app = started.result(timeout=SECONDS_TO_START_OR_STOP)
        try:
            yield RunningServer(address=f"127.0.0.1:{app.port}", app=app)
        finally:
            stopped = asyncio.run_coroutine_threadsafe(app.stop(1.0), loop)
            try:
                stopped.result(timeout=SECONDS_TO_START_OR_STOP)
            except concurrent.futures.TimeoutError:
                raise TimeoutError(
                    f"the test server did not stop in {SECONDS_TO_START_OR_STOP} s; "
                    f"where it was:\n{where_everything_waits(loop)}"
                ) from None
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def where_everything_waits(loop: asyncio.AbstractEventLoop) -> str:
    """Every thread's stack and every unfinished task's await chain: what a hung stop waits on.

    Read from another thread while the loop runs: a diagnosis, not a snapshot.
    """
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    parts = [
        f"thread {names.get(ident, ident)}:\n{''.join(traceback.format_stack(frame))}"
        for ident, frame in sys._current_frames().items()
    ]
    with contextlib.suppress(RuntimeError):  # the task set changed while it was read
        parts += [
            f"{task!r}:\n{_awaits(task.get_coro())}" for task in list(asyncio.all_tasks(loop))
        ]
    return "\n".join(parts)


def _awaits(awaitable: object) -> str:
    """A coroutine's await chain, a line a frame (the task's repr says what the last awaits)."""
    lines = []
    while awaitable is not None:
        frame = getattr(awaitable, "cr_frame", None) or getattr(awaitable, "gi_frame", None)
        if frame is None:
            break
        lines.append(f"  {frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}")
        awaitable = getattr(awaitable, "cr_await", None) or getattr(
            awaitable, "gi_yieldfrom", None
        )
    return "\n".join(lines)
