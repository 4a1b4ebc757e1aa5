"""Runs learning suggesters (bayes) off the RPC threads, one computation per study at a time.

Model fitting and acquisition take from a tenth of a second to seconds of CPU.
They run in worker processes, so they hold neither the event loop, nor the
store's writer, nor the GIL that every other RPC needs: a random or grid
study answers in its usual time while a bayes study is computing.

Per study, an asyncio lock serializes computations (two Suggests for one study
would otherwise fit the same model twice and might propose the same point), and
a lock in the database does the same across replicas.
Where other workers' trials are running, the next suggestion is computed in
the background as soon as trials are handed out, with the running ones
pending, so a worker that finishes its trial usually finds its next
configuration ready. When it may be used is `Precomputed.usable`'s rule.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import multiprocessing
import os
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache

from hyperdial.server.algorithms.base import History, SuggestBatch, make_suggester
from hyperdial.server.domain import AlgorithmConfig
from hyperdial.server.space import SearchSpace
from hyperdial.server.store.base import Store

log = logging.getLogger(__name__)

MAX_PRECOMPUTED = 4096
LOCK_POLL_SECONDS = 0.05
# Past this wait a replica computes anyway: the hand-out re-checks the study's trial count,
# so a duplicate computation costs CPU, never a duplicate trial.
LOCK_WAIT_SECONDS = 120.0


@asynccontextmanager
async def held_across_replicas(store: Store, study_id: int) -> AsyncIterator[None]:
    """Holds the study's computation lock in the database, so replicas take turns fitting."""
    lock = None
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while lock is None and time.monotonic() < deadline:
        lock = await asyncio.to_thread(store.try_lock_computation, study_id)
        if lock is None:
            await asyncio.sleep(LOCK_POLL_SECONDS)
    if lock is None:
        log.warning(
            "study %d: another replica computed for %.0f s; computing anyway",
            study_id,
            LOCK_WAIT_SECONDS,
        )
    try:
        yield
    finally:
        if lock is not None:
            await asyncio.to_thread(lock.release)


def default_workers() -> int:
    """Compute worker processes: one per core but the serving process's, at most 4."""
    return max(1, min(4, (os.cpu_count() or 1) - 1))


def threads_per_worker(workers: int) -> int:
    """Torch threads per compute worker: the cores left once the serving process has one.

    More threads than free cores oversubscribe them: each parallel op then waits
    for a descheduled thread, and a GP fit of many small ops ran 4x slower
    beside one busy core (2 cores, measured).
    """
    return max(1, ((os.cpu_count() or 1) - 1) // workers)


def _start_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _import_algorithms() -> None:
    importlib.import_module("hyperdial.server.algorithms.bayes")


# A worker process keeps the suggesters it built: a study's next computation reuses its own.
_suggester = lru_cache(maxsize=64)(make_suggester)


def _compute(
    space: SearchSpace, algorithm: AlgorithmConfig, history: History, count: int, seed: int
) -> tuple[SuggestBatch, float]:
    """Runs in a worker process: the suggester's answer and the seconds it took."""
    started = time.perf_counter()
    batch = _suggester(space, algorithm).suggest(space, history, count, seed)
    return batch, time.perf_counter() - started


class ComputePool:
    """Worker processes for suggesters that learn; started on first use."""

    def __init__(self, workers: int = 0) -> None:
        self._workers = workers or default_workers()
        self._threads = threads_per_worker(self._workers)
        self._executor: ProcessPoolExecutor | None = None

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                self._workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(self._threads,),
            )
        return self._executor

    def warm(self) -> None:
        """Starts the workers and their imports now, so the first fit does not wait for them."""
        if self._executor is None:
            for _ in range(self._workers):
                self._pool().submit(_import_algorithms)

    async def run(
        self,
        space: SearchSpace,
        algorithm: AlgorithmConfig,
        history: History,
        count: int,
        seed: int,
    ) -> tuple[SuggestBatch, float]:
        """The suggestions for `history`, computed in a worker process, and their cost."""
        future = self._pool().submit(_compute, space, algorithm, history, count, seed)
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        """Stops the workers; a computation in flight is abandoned."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


@dataclass(frozen=True)
class Precomputed:
    """Suggestions computed when the study had handed out `version` trials and `results` had ended.

    They are handed out only while no other trial was handed out since (it might
    be the same configuration), and either no result arrived since or other
    workers' trials are still running: then waiting for a fresh model would
    keep a worker idle, while the running trials are in the model anyway.
    """

    version: int
    results: int
    batch: SuggestBatch

    def usable(self, version: int, results: int, others_running: bool) -> bool:
        """Whether the study, now at `version` with `results` ended, may take this batch."""
        return self.version == version and (self.results == results or others_running)


class StudyComputations:
    """Per-study locks, precomputed suggestions and the background tasks computing them."""

    def __init__(self) -> None:
        self._locks: dict[int, asyncio.Lock] = {}
        self._ready: OrderedDict[int, Precomputed] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()

    def lock(self, study_id: int) -> asyncio.Lock:
        """The lock held while computing for (and handing out trials of) the study."""
        lock = self._locks.get(study_id)
        if lock is None:
            lock = self._locks[study_id] = asyncio.Lock()
        return lock

    def take(
        self, study_id: int, version: int, results: int, others_running: bool, count: int
    ) -> SuggestBatch | None:
        """A precomputed batch `usable` now (see `Precomputed`), holding `count` suggestions."""
        ready = self._ready.pop(study_id, None)
        if ready is None or len(ready.batch.suggestions) < count:
            return None
        if not ready.usable(version, results, others_running):
            return None
        return SuggestBatch(ready.batch.suggestions[:count], ready.batch.finished)

    def keep(self, study_id: int, ready: Precomputed) -> None:
        """Stores a precomputed batch (the oldest studies' are dropped beyond a bound)."""
        self._ready[study_id] = ready
        self._ready.move_to_end(study_id)
        while len(self._ready) > MAX_PRECOMPUTED:
            self._ready.popitem(last=False)

    def in_background(self, work: Callable[[], Awaitable[None]]) -> None:
        """Runs `work()` as a task whose failure is logged, not raised."""

        async def guarded() -> None:
            try:
                await work()
            except asyncio.CancelledError:
                raise
            except Exception:  # a failed precomputation only costs latency
                log.warning("precomputing a suggestion failed", exc_info=True)

        task = asyncio.get_running_loop().create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Cancels background computations."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
