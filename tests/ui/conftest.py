"""Real studies on a real server, the UI in front of it, and Debian's chromium to look at it.

Screenshots go to $HYPERDIAL_SCREENSHOTS (the README's come from
`make ui-screenshots`), else to test-artifacts/ui/ in the checkout.
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.helpers import REPO

from hyperdial.client import Client, median_stopping, outcome_constraint
from hyperdial.client.study import Study
from hyperdial.client.ui.testing import CHROMIUM, CHROMIUM_ARGS, SPACE, large_study, loss, serve_ui
from hyperdial.server.testing import serve

playwright = pytest.importorskip("playwright.sync_api")


def curves_study(client: Client) -> Study:
    """A bayes study whose trials report curves, some stopped by the median rule, two running."""
    study = client.create_study(
        "curves",
        SPACE,
        algorithm="bayes",
        metric="val_loss",
        max_trials=16,
        options={"initial_trials": 6},
        stopping=median_stopping(min_trials=3, warmup_steps=1),
    )
    rng = random.Random(1)
    for _ in range(14):
        trial = study.next_trial("trainer")
        assert trial is not None
        final = loss(trial.params, rng)
        for step in range(8):
            value = final + 0.6 / (step + 1)
            if trial.report(step, value):
                trial.prune("stopped by the median rule")
                break
        else:
            trial.complete(value)
    for worker in ("left-running-1", "left-running-2"):
        running = study.next_trial(worker)
        assert running is not None
        running.report(0, 0.9)
    return study


def pareto_study(client: Client) -> Study:
    """Two objectives and a constraint on model size, some trials breaking it."""
    study = client.create_study(
        "pareto",
        SPACE,
        algorithm="random",
        objectives=[("val_loss", "minimize"), ("latency_ms", "minimize")],
        constraints=[outcome_constraint("params_k", max=150)],
    )
    rng = random.Random(2)
    for trial in study.suggest(30, worker_id="trainer"):
        units = trial.params["units"]
        trial.complete(
            metrics={
                "val_loss": loss(trial.params, rng) + 20 / units,
                "latency_ms": units / 10 + rng.uniform(0, 2),
                "params_k": units * 0.8,
            }
        )
    return study


@dataclass(frozen=True)
class Studies:
    """The server, a client of it, and the UI in front of it."""

    client: Client
    url: str


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: make test installs Debian's chromium")
    return CHROMIUM


@pytest.fixture(scope="session")
def studies(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studies]:
    database = f"sqlite:///{tmp_path_factory.mktemp('ui') / 'ui.db'}"
    with serve(database) as running, Client(running.address) as client:
        large_study(client)
        curves_study(client)
        pareto_study(client)
        with serve_ui(client, refresh_seconds=0.5) as url:
            yield Studies(client, url)


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[object]:
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def console_errors() -> list[str]:
    """What the page logged as errors; a test that provokes one checks it and clears it."""
    return []


@pytest.fixture
def page(browser, console_errors: list[str]) -> Iterator[object]:
    """A fresh page; the test fails if the page logged an error it did not expect."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    opened = context.new_page()
    opened.on(
        "console",
        lambda message: console_errors.append(message.text) if message.type == "error" else None,
    )
    opened.on("pageerror", lambda error: console_errors.append(str(error)))
    yield opened
    context.close()
    assert console_errors == []


def screenshots() -> Path:
    folder = Path(os.environ.get("HYPERDIAL_SCREENSHOTS") or REPO / "test-artifacts" / "ui")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
