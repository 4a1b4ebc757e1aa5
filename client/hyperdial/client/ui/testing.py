"""For tests and benchmarks: the UI on an ephemeral loopback port, and a study to show in it."""

from __future__ import annotations

import contextlib
import math
import random
import socket
import threading
import time
from collections.abc import Iterator, Mapping

import uvicorn

from hyperdial.client.client import Client
from hyperdial.client.params import ParamValue, categorical, float_param, int_param
from hyperdial.client.study import Study
from hyperdial.client.ui.app import create_app


@contextlib.contextmanager
def serve_ui(client: Client, refresh_seconds: float = 1.0) -> Iterator[str]:
    """Serves the UI over `client` for the `with` block; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        create_app(client, refresh_seconds), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="hyperdial-ui", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the UI did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# Debian's chromium, as the browser tests and bench/ui.py drive it. Without the networking
# flags chromium keeps calling home, and a closed network refuses it.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# The space of the studies the tests and bench/ui.py show: a network's usual four.
SPACE = [
    float_param("lr", 1e-4, 1e-1, log=True),
    int_param("units", 16, 256, log=True),
    categorical("optimizer", ["adam", "sgd"]),
    float_param("dropout", 0.0, 0.5),
]
LARGE_STUDY_TRIALS = 10_000


def loss(params: Mapping[str, ParamValue], rng: random.Random) -> float:
    """A made-up validation loss: best near lr 3e-3, a little worse with more dropout."""
    lr, dropout = float(params["lr"]), float(params["dropout"])
    return 0.1 + 0.2 * abs(math.log10(lr) + 2.5) + 0.1 * dropout + rng.gauss(0, 0.01)


def _random_params(rng: random.Random) -> dict[str, ParamValue]:
    return {
        "lr": 10 ** rng.uniform(-4, -1),
        "units": round(2 ** rng.uniform(4, 8)),
        "optimizer": rng.choice(["adam", "sgd"]),
        "dropout": rng.uniform(0, 0.5),
    }


def large_study(client: Client, name: str = "large", trials: int = LARGE_STUDY_TRIALS) -> Study:
    """A random study with `trials` completed trials (imported: it takes seconds, not minutes)."""
    study = client.create_study(name, SPACE, algorithm="random", metric="val_loss")
    rng = random.Random(0)
    configurations = [_random_params(rng) for _ in range(trials)]
    study.import_trials([(p, loss(p, rng)) for p in configurations])
    return study
