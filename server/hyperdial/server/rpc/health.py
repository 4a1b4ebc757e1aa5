"""Health that means "can write": SERVING only while the store's writer commits.

A replica whose database connection broke, whose SQLite file vanished or
whose disk went read-only can still answer reads, but every Suggest and
Observe would fail. Orchestrators only see the health service, so it must
say so: a probe write goes through the store's writer (the same queue every
request uses) every `interval` seconds, and health turns NOT_SERVING when it
fails or takes longer than `timeout`, and SERVING again once one commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from grpc_health.v1 import health, health_pb2

log = logging.getLogger(__name__)

PROBE_INTERVAL_SECONDS = 2.0
PROBE_TIMEOUT_SECONDS = 5.0


class StoreHealth:
    """Keeps the health service's status of `services` in step with the store's writes.

    Args:
        servicer: the gRPC health service to set.
        services: the service names it reports ("" is the whole server).
        probe: one write through the store's writer (it raises on failure).
        on_change: told True/False when writability changes (a metric).
    """

    def __init__(
        self,
        servicer: health.aio.HealthServicer,
        services: Sequence[str],
        probe: Callable[[], Awaitable[None]],
        *,
        interval: float = PROBE_INTERVAL_SECONDS,
        timeout: float = PROBE_TIMEOUT_SECONDS,
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        self._servicer = servicer
        self._services = tuple(services)
        self._probe = probe
        self._interval = interval
        self._timeout = timeout
        self._on_change = on_change
        self._task: asyncio.Task[None] | None = None
        #: Whether the last probe committed in time.
        self.serving = False

    async def start(self) -> None:
        """Probes once (the server starts SERVING only if that commits), then keeps probing."""
        await self._set(await self._writable(), first=True)
        self._task = asyncio.create_task(self._watch(), name="hyperdial-store-health")

    async def stop(self) -> None:
        """Stops probing (before the graceful shutdown sets NOT_SERVING for good)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self._set(await self._writable())

    async def _writable(self) -> bool:
        try:
            await asyncio.wait_for(self._probe(), self._timeout)
        except Exception as error:  # any failure of the probe means "cannot write"
            if self.serving or self._task is None:
                reason = str(error) or f"no commit within {self._timeout:g} s"
                log.error("the store does not take writes (%s): health is NOT_SERVING", reason)
            return False
        return True

    async def _set(self, serving: bool, *, first: bool = False) -> None:
        if serving == self.serving and not first:
            return
        if serving and not first:
            log.warning("the store takes writes again: health is SERVING")
        self.serving = serving
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in self._services:
            await self._servicer.set(name, status)
        if self._on_change is not None:
            self._on_change(serving)
