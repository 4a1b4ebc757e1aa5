"""The compute pool: an error in a worker reaches its caller and spares the pool; closing
stops the worker processes at once, even mid-computation."""

from __future__ import annotations

import asyncio
import multiprocessing
import random
from concurrent.futures.process import BrokenProcessPool

import pytest

from hyperdial.server.algorithms.base import History, Observed
from hyperdial.server.domain import AlgorithmConfig
from hyperdial.server.errors import InvalidArgument
from hyperdial.server.service.compute import ComputePool
from hyperdial.server.space import FloatParam, SearchSpace

SPACE = SearchSpace(tuple(FloatParam(f"x{i}", 0.0, 1.0) for i in range(6)))
# Monte Carlo qLogNEI over 128 starts and 65,536 raw samples: minutes, not the seconds the
# test waits (the analytic LogEI with the same settings finished within them).
SLOW = AlgorithmConfig(
    "bayes",
    {"initial_trials": 2, "restarts": 128, "raw_samples": 65536, "acquisition": "qlognei"},
)


def _history(trials: int) -> History:
    draw = random.Random(0)
    completed = []
    for _ in range(trials):
        params = {parameter.name: draw.random() for parameter in SPACE.params}
        completed.append(Observed(params, sum((v - 0.3) ** 2 for v in params.values())))
    return History(draws=trials, completed=tuple(completed))


async def _refused_then_computed(pool: ComputePool) -> None:
    wrong = AlgorithmConfig("bayes", {"restarts": 1000})
    with pytest.raises(InvalidArgument) as refused:
        await pool.run(SPACE, wrong, _history(10), 1, seed=1)
    assert refused.value.field.endswith("restarts")
    quick = AlgorithmConfig("bayes", {"initial_trials": 2, "restarts": 2, "raw_samples": 64})
    batch, _ = await pool.run(SPACE, quick, _history(10), 1, seed=1)
    assert len(batch.suggestions) == 1


def test_an_error_in_a_worker_reaches_its_caller_and_the_pool_goes_on() -> None:
    pool = ComputePool(workers=1)
    try:
        asyncio.run(_refused_then_computed(pool))
    finally:
        pool.close()


def _workers(before: set[int]) -> set[int]:
    return {child.pid for child in multiprocessing.active_children()} - before - {None}


async def _close_mid_computation(pool: ComputePool, before: set[int]) -> None:
    computing = asyncio.ensure_future(pool.run(SPACE, SLOW, _history(60), 8, seed=1))
    while not _workers(before):
        await asyncio.sleep(0.05)
    await asyncio.sleep(3.0)  # the worker has imported torch and is computing
    # This pool's own workers: another test's server may start processes meanwhile.
    workers = _workers(before) & {p.pid for p in pool._pool()._processes.values()}
    assert workers
    assert not computing.done(), computing
    pool.close()
    # Killed: gone once the kernel has torn down their memory (GBs here), seconds at most.
    deadline = asyncio.get_running_loop().time() + 30
    while _workers(before) & workers and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.1)
    assert _workers(before) & workers == set()
    try:
        await asyncio.wait_for(computing, timeout=30)
    except BrokenProcessPool:
        return
    raise AssertionError("the computation finished, though its worker was stopped")


def test_close_terminates_a_worker_in_the_middle_of_a_computation() -> None:
    before = {child.pid for child in multiprocessing.active_children()} - {None}
    asyncio.run(_close_mid_computation(ComputePool(workers=1), before))
