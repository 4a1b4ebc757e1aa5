"""The trial and study services on a real SQLite store, with a clock the test moves."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from hyperdial.server.domain import Goal, Objective, StudyConfig
from hyperdial.server.metrics import ServerMetrics
from hyperdial.server.service.studies import StudyService
from hyperdial.server.service.suggesters import SuggesterCache
from hyperdial.server.service.trials import TrialServices
from hyperdial.server.space import FloatParam, IntParam, SearchSpace
from hyperdial.server.store.sql import SqlStore

T = TypeVar("T")

SPACE = SearchSpace((FloatParam("x", 0.0, 1.0), IntParam("n", 1, 3, grid_points=3)))
LEASE_SECONDS = 60.0


def config(**changes: Any) -> StudyConfig:
    """A random-search study over SPACE with a 60 s lease, as `changes` say otherwise."""
    values: dict[str, Any] = {
        "space": SPACE,
        "objectives": (Objective("loss", Goal.MINIMIZE),),
        "lease_seconds": LEASE_SECONDS,
    }
    return StudyConfig(**(values | changes))


class FakeClock:
    """Epoch seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Services:
    """What a test drives: the services, their clock and metrics, and a loop to run them on."""

    studies: StudyService
    trials: TrialServices
    clock: FakeClock
    metrics: ServerMetrics
    loop: asyncio.AbstractEventLoop

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Runs one service call to its end."""
        return self.loop.run_until_complete(work)

    def counted(self, name: str, **labels: str) -> float:
        """A counter's value (0 when never incremented)."""
        value = self.metrics.registry.get_sample_value(f"{name}_total", labels)
        return value or 0.0


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    store = SqlStore(f"sqlite:///{tmp_path / 'hyperdial.db'}", create=True)
    clock, metrics = FakeClock(), ServerMetrics()
    suggesters = SuggesterCache()
    loop = asyncio.new_event_loop()
    trials = TrialServices(store, suggesters, clock=clock, metrics=metrics)
    studies = StudyService(store, clock=clock, suggesters=suggesters)
    try:
        yield Services(studies, trials, clock, metrics, loop)
    finally:
        loop.run_until_complete(trials.close())
        loop.close()
        store.close()
