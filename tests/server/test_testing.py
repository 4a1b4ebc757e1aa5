"""The test server's diagnosis of a stop that hangs: where each thread and task waits."""

from __future__ import annotations

import asyncio
import threading

from hyperdial.server.testing import where_everything_waits


async def closing_the_store(never: asyncio.Future[None]) -> None:
    await never


def test_a_hung_stop_is_told_by_the_task_and_what_it_waits_on() -> None:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="server-under-test", daemon=True)
    thread.start()
    try:
        never = asyncio.run_coroutine_threadsafe(_future(), loop).result(timeout=10)
        hung = asyncio.run_coroutine_threadsafe(closing_the_store(never), loop)
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0), loop).result(timeout=10)  # it started
        report = where_everything_waits(loop)
        hung.cancel()
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
    assert "thread server-under-test:" in report
    assert "test_testing.py:12 in closing_the_store" in report
    assert "wait_for=<Future pending" in report


async def _future() -> asyncio.Future[None]:
    return asyncio.get_running_loop().create_future()
