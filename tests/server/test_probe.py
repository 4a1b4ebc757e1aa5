"""The container's health probe finds the server where its settings say it listens."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace

import pytest

from hyperdial.server.config import Settings
from hyperdial.server.probe import probe
from hyperdial.server.testing import serve


def test_plaintext_grpc_is_probed_where_the_server_listens(sqlite_url: str) -> None:
    with serve(sqlite_url) as server:
        port = server.address.rpartition(":")[2]
        assert probe(Settings(address=f"0.0.0.0:{port}")) is None  # the bind-all form too
        ran = subprocess.run(
            [sys.executable, "-m", "hyperdial.server.probe"],
            env={**os.environ, "HYPERDIAL_ADDRESS": f"0.0.0.0:{port}"},
            capture_output=True,
            text=True,
            check=False,
        )
        assert ran.returncode == 0, ran.stderr
    gone = probe(Settings(address=f"127.0.0.1:{port}"))
    assert gone is not None
    assert "UNAVAILABLE" in gone


def test_the_metrics_port_answers_for_a_server_behind_tls(sqlite_url: str) -> None:
    with serve(sqlite_url, Settings(metrics_port=0)) as server:
        metrics_port = server.app.metrics_port
        assert metrics_port
        behind_tls = Settings(tls_cert="server.pem", tls_key="server.key")
        assert probe(replace(behind_tls, metrics_port=metrics_port)) is None
    answer = probe(Settings(tls_cert="server.pem", tls_key="server.key"))
    assert answer is not None
    assert "--metrics-port" in answer


def test_the_command_fails_with_the_reason() -> None:
    ran = subprocess.run(
        [sys.executable, "-m", "hyperdial.server.probe"],
        env={**os.environ, "HYPERDIAL_ADDRESS": "127.0.0.1:1"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert ran.returncode == 1
    assert "hyperdial probe: 127.0.0.1:1: UNAVAILABLE" in ran.stderr


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'probe.db'}"
