"""The images from the Dockerfile, run for real with podman (`make container-test` builds them).

The server container on loopback with a volume: healthy by its own HEALTHCHECK, a random
and a bayes study through the Python client, a restart that keeps every trial, a trainer
container from the trainer image working a study against it, and one serving the web UI.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator

import pytest

from hyperdial.client import Client, float_param, int_param

pytestmark = pytest.mark.container

SERVER_IMAGE = "localhost/hyperdial-server:test"
TRAINER_IMAGE = "localhost/hyperdial-trainer:test"
HEALTHY_WITHIN_SECONDS = 120


def _podman(*args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["podman", *args], capture_output=True, text=True, check=check, timeout=timeout
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_healthy(name: str) -> None:
    """Runs the image's own HEALTHCHECK until it passes."""
    deadline = time.monotonic() + HEALTHY_WITHIN_SECONDS
    while _podman("healthcheck", "run", name, check=False).returncode != 0:
        logs = _podman("logs", name, check=False)
        assert time.monotonic() < deadline, f"{name} never healthy:\n{logs.stdout}{logs.stderr}"
        time.sleep(1)


@pytest.fixture(scope="module")
def images() -> None:
    for image in (SERVER_IMAGE, TRAINER_IMAGE):
        if _podman("image", "exists", image, check=False).returncode != 0:
            if os.environ.get("CI"):
                pytest.fail(f"{image} is missing: `make container-test` builds it")
            pytest.skip(f"{image} is missing: run `make container-test`")


@pytest.fixture
def server(images: None) -> Iterator[tuple[str, str]]:
    """A server container on a free loopback port, its database on a fresh volume."""
    name, volume = f"hyperdial-ct-{uuid.uuid4().hex[:8]}", f"hyperdial-ct-{uuid.uuid4().hex[:8]}"
    port, metrics = _free_port(), _free_port()
    _podman(
        "run", "--detach", "--name", name, "--network", "host",
        "--env", f"HYPERDIAL_ADDRESS=127.0.0.1:{port}",
        "--env", f"HYPERDIAL_METRICS_PORT={metrics}",
        "--volume", f"{volume}:/data",
        SERVER_IMAGE,
    )  # fmt: skip
    try:
        _wait_healthy(name)
        yield name, f"127.0.0.1:{port}"
    finally:
        _podman("rm", "--force", "--time", "5", name, check=False)
        _podman("volume", "rm", "--force", volume, check=False)


def test_studies_survive_a_restart_and_a_trainer_container_works_one(server) -> None:
    name, address = server
    with Client(address, retry_seconds=60) as client:
        plain = client.create_study("random", [float_param("x", 0, 1)], algorithm="random")
        for trial in plain.suggest(10, worker_id="host"):
            trial.complete(trial.params["x"])
        learned = client.create_study(
            "bayes",
            [float_param("x", 0, 1), float_param("y", 0, 1)],
            algorithm="bayes",
            options={"initial_trials": 4},
            max_trials=8,
        )
        while (trial := learned.next_trial("host")) is not None:
            trial.complete((trial.params["x"] - 0.3) ** 2 + (trial.params["y"] - 0.6) ** 2)
        before = {s.name: s.trial_counts for s in client.list_studies()}
    _podman("restart", "--time", "20", name)  # SIGTERM: the server shuts down gracefully
    _wait_healthy(name)
    with Client(address, retry_seconds=60) as client:
        assert {s.name: s.trial_counts for s in client.list_studies()} == before
        assert before["random"]["COMPLETED"] == 10
        assert before["bayes"]["COMPLETED"] == 8
        space = [float_param("learning_rate", 1e-3, 1e-2, log=True), int_param("epochs", 2, 3)]
        trained = client.create_study("digits", space, max_trials=2)
        ran = _podman(
            "run", "--rm", "--network", "host", TRAINER_IMAGE,
            "trainer", "--server", address, "--study", "digits",
            "--device", "cpu", "--worker-id", "container",
            timeout=600,
        )  # fmt: skip
        assert "done: 2 completed" in ran.stderr + ran.stdout
        trials = list(trained.trials())
    assert [(t.state, t.worker_id) for t in trials] == [("COMPLETED", "container")] * 2


def test_the_trainer_image_serves_the_web_ui(server) -> None:
    _, address = server
    with Client(address, retry_seconds=60) as client:
        client.create_study("shown", [float_param("x", 0, 1)], algorithm="random")
    port = _free_port()
    name = f"hyperdial-ui-{uuid.uuid4().hex[:8]}"
    _podman(
        "run", "--detach", "--name", name, "--network", "host", TRAINER_IMAGE,
        "ui", "--server", address, "--address", f"127.0.0.1:{port}",
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies") as answer:
                    studies = json.loads(answer.read())["studies"]
                break
            except OSError:
                logs = _podman("logs", name, check=False)
                assert time.monotonic() < deadline, f"no UI:\n{logs.stdout}{logs.stderr}"
                time.sleep(0.5)
        assert [s["name"] for s in studies] == ["shown"]
    finally:
        _podman("rm", "--force", "--time", "5", name, check=False)


def test_the_trainer_image_serves_no_grpc_and_checks_no_health(images: None) -> None:
    inspected = _podman("image", "inspect", TRAINER_IMAGE, "--format", "{{.Config.Healthcheck}}")
    assert inspected.stdout.strip() in ("<nil>", "")
    server = _podman("image", "inspect", SERVER_IMAGE, "--format", "{{.Config.Healthcheck}}")
    assert "hyperdial.server.probe" in server.stdout
