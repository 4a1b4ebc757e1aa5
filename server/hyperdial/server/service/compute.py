"""Runs learning suggesters (bayes) off the RPC threads, one computation per study at a time.

Model fitting and acquisition take from a tenth of a second to seconds of CPU.
They run in worker processes, so they hold neither the event loop, nor the
store's writer, nor the GIL that every other RPC needs: a random or grid
study answers in its usual time while a bayes study is computing.

Per study, an asyncio lock serializes hand-outs of computed trials (two
Suggests for one study would otherwise fit the same model twice and might
propose the same point), and a lock in the database serializes computations
across replicas. Where other workers' trials are running, the next suggestions
are computed ahead in the background, a queue of them with the running trials
pending (`suggestions_ahead`: more running trials, more at once from one fit),
so workers that finish their trials usually find their next configurations
ready. When a queue may be used is `Precomputed.usable`'s rule.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import multiprocessing
import os
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, TypeVar

from hyperdial.server.algorithms.base import History, SuggestBatch, Suggestion, make_suggester
from hyperdial.server.domain import AlgorithmConfig
from hyperdial.server.resources import Resources, granted
from hyperdial.server.space import SearchSpace
from hyperdial.server.store.base import Store

if TYPE_CHECKING:  # imported in the workers only: torch and BoTorch stay out of the server
    from hyperdial.server.algorithms.recommend import Recommendation

log = logging.getLogger(__name__)

MAX_PRECOMPUTED = 4096
# A queue of precomputed suggestions holds one per this many running trials, at most MAX_AHEAD.
RUNNING_PER_QUEUED = 4
MAX_AHEAD = 16
LOCK_POLL_SECONDS = 0.05
WORKER_EXIT_SECONDS = 5.0
_T = TypeVar("_T")
# Past this wait a replica computes anyway: the hand-out re-checks the study's trial count,
# so a duplicate computation costs CPU, never a duplicate trial.
LOCK_WAIT_SECONDS = 120.0
# Peak resident memory under a bayes study with 1,000 observations, measured (2 cores):
# the serving process 396 MiB, one compute worker (torch, BoTorch, the model) 472 MiB.
SERVING_PROCESS_BYTES = 420 << 20
COMPUTE_WORKER_BYTES = 500 << 20


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


def default_workers(resources: Resources | None = None) -> int:
    """Compute worker processes: one per granted core but the serving process's, at most 4.

    Fewer where the memory limit holds fewer: each worker takes up to
    `COMPUTE_WORKER_BYTES` beside the serving process's `SERVING_PROCESS_BYTES`.
    """
    granted_now = resources or granted()
    workers = min(4, granted_now.cpus - 1)
    if granted_now.memory_bytes is not None:
        room = granted_now.memory_bytes - SERVING_PROCESS_BYTES
        workers = min(workers, room // COMPUTE_WORKER_BYTES)
    return max(1, workers)


def threads_per_worker(workers: int, resources: Resources | None = None) -> int:
    """Torch threads per compute worker: the granted cores left once the serving process has one.

    More threads than free cores oversubscribe them: each parallel op then waits
    for a descheduled thread, and a GP fit of many small ops ran 4x slower
    beside one busy core (2 cores, measured).
    """
    return max(1, ((resources or granted()).cpus - 1) // workers)


# How often a worker checks that the server that started it is still there.
PARENT_CHECK_SECONDS = 1.0


def _start_worker(threads: int, server: int) -> None:
    import torch

    torch.set_num_threads(threads)
    threading.Thread(target=_exit_with, args=(server,), name="server-watch", daemon=True).start()


def _exit_with(server: int) -> None:
    """Ends this worker once its server is gone, however it went.

    A server killed outright (SIGKILL, the OOM killer) cannot stop its workers,
    and each holds hundreds of MB: the worker sees it is no longer the
    server's child (`getppid` changes) and exits within PARENT_CHECK_SECONDS.
    """
    while os.getppid() == server:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)


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


def _recommend(space: SearchSpace, history: History, seed: int) -> Recommendation | None:
    """Runs in a worker process: see `recommend.recommend`."""
    from hyperdial.server.algorithms.recommend import recommend

    return recommend(space, history, seed=seed)


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
                initargs=(self._threads, os.getpid()),
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

    async def recommend(
        self, space: SearchSpace, history: History, seed: int
    ) -> Recommendation | None:
        """The model's recommended trial among `history.completed`, computed in a worker."""
        future = self._pool().submit(_recommend, space, history, seed)
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        """Stops the workers now; a computation in flight is abandoned.

        The workers are killed, as Python 3.14's `kill_workers` does:
        after `shutdown(wait=False)` alone, a worker whose manager thread is gone
        waits for work forever, and the interpreter joins it at exit.
        """
        executor, self._executor = self._executor, None
        if executor is None:
            return
        workers = list(executor._processes.values())
        executor.shutdown(wait=False, cancel_futures=True)
        # SIGKILL: a worker holds nothing worth a graceful exit, and under a loaded CI
        # machine SIGTERM and 5 s were not always enough to end one mid-computation.
        for worker in workers:
            if worker.is_alive():
                worker.kill()
        for worker in workers:
            worker.join(timeout=WORKER_EXIT_SECONDS)


def suggestions_ahead(running: int, waiting: int = 0) -> int:
    """How many suggestions to compute ahead: `running` trials run, `waiting` Suggests wait.

    The more workers share a study, the more of them come back during one
    computation; one fit then serves them all.
    """
    return max(1, min(MAX_AHEAD, running // RUNNING_PER_QUEUED + waiting))


@dataclass(frozen=True)
class Precomputed:
    """Suggestions computed ahead, in order, when `results` trials of the study had ended.

    Each was computed with the running trials and the earlier ones pending. They
    are handed out while no result arrived since, or while other workers' trials
    still run: then waiting for a fresh model would keep a worker idle, while
    the running trials are in the model anyway. A member equal to a trial
    handed out or finished since is skipped.
    """

    results: int
    suggestions: tuple[Suggestion, ...]

    def usable(self, results: int, others_running: bool) -> bool:
        """Whether the study, now with `results` ended, may take from this queue."""
        return self.results == results or others_running


def _bounded_put(entries: OrderedDict[int, _T], study_id: int, value: _T) -> None:
    """Stores `value` as the newest entry, dropping the oldest studies' beyond a bound."""
    entries[study_id] = value
    entries.move_to_end(study_id)
    while len(entries) > MAX_PRECOMPUTED:
        entries.popitem(last=False)


class StudyComputations:
    """Per-study locks, queues of precomputed suggestions, model states, background work.

    A study's model state (`SuggestBatch.model_state`: bayes's fitted kernel
    hyperparameters) is kept in memory only, for the study's next computation
    to start from. One serving process keeps one chain per study, whichever
    compute worker runs each step, so a sequential study repeats exactly; after
    a restart, or on another replica, the next fit starts cold.
    """

    def __init__(self) -> None:
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}
        self._ready: OrderedDict[int, Precomputed] = OrderedDict()
        self._states: OrderedDict[int, object] = OrderedDict()
        self._precomputing: dict[int, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @asynccontextmanager
    async def turn(self, study_id: int) -> AsyncIterator[None]:
        """Holds the study's hand-out lock (computing while needed); counts who waits for it."""
        lock = self._locks.get(study_id)
        if lock is None:
            lock = self._locks[study_id] = asyncio.Lock()
        self._waiting[study_id] = self._waiting.get(study_id, 0) + 1
        try:
            await lock.acquire()
        finally:
            self._waiting[study_id] -= 1
        try:
            yield
        finally:
            lock.release()

    def waiting(self, study_id: int) -> int:
        """How many Suggests wait for the study's turn: a computation should serve them too."""
        return self._waiting.get(study_id, 0)

    def take(
        self,
        study_id: int,
        results: int,
        others_running: bool,
        count: int,
        is_new: Callable[[Suggestion], bool],
    ) -> SuggestBatch | None:
        """The next `count` precomputed suggestions that are `is_new`, if the queue is usable."""
        ready = self._ready.pop(study_id, None)
        if ready is None or not ready.usable(results, others_running):
            return None
        members = [s for s in ready.suggestions if is_new(s)]
        if len(members) < count:
            return None
        if len(members) > count:
            _bounded_put(self._ready, study_id, replace(ready, suggestions=tuple(members[count:])))
        return SuggestBatch(tuple(members[:count]))

    def queued(self, study_id: int) -> int:
        """How many precomputed suggestions the study has left."""
        ready = self._ready.get(study_id)
        return 0 if ready is None else len(ready.suggestions)

    def keep(self, study_id: int, ready: Precomputed) -> None:
        """Stores a study's new queue (the oldest studies' are dropped beyond a bound)."""
        _bounded_put(self._ready, study_id, ready)

    def model_state(self, study_id: int) -> object:
        """What the study's last computation left for the next to start from, or None."""
        return self._states.get(study_id)

    def remember(self, study_id: int, batch: SuggestBatch) -> None:
        """Keeps `batch`'s model state for the study's next computation."""
        if batch.model_state is not None:
            _bounded_put(self._states, study_id, batch.model_state)

    def precomputing(self, study_id: int) -> bool:
        """Whether a computation ahead is running for the study."""
        return study_id in self._precomputing

    async def precomputed(self, study_id: int) -> None:
        """Waits for the study's computation ahead, if one runs (its failure is logged there)."""
        task = self._precomputing.get(study_id)
        if task is not None:
            await asyncio.wait([task])

    def precompute(self, study_id: int, work: Callable[[], Awaitable[None]]) -> None:
        """Runs `work()` in the background as the study's one computation ahead."""
        if study_id in self._precomputing:
            return
        task = self.in_background(work)
        self._precomputing[study_id] = task
        task.add_done_callback(lambda _: self._precomputing.pop(study_id, None))

    def in_background(self, work: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
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
        return task

    async def close(self) -> None:
        """Cancels background computations."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
