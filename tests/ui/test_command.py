"""`hyperdial ui` as users start it: its own process, serving the page and the API."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from hyperdial.client import Client, float_param
from hyperdial.client.tools.ui_cli import main


def test_a_bad_address_is_refused_with_the_flag_named() -> None:
    with pytest.raises(SystemExit, match="--address must be HOST:PORT"):
        main(["--address", "8080"])
    with pytest.raises(SystemExit, match="--refresh-seconds must be > 0"):
        main(["--refresh-seconds", "0"])


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read()


def test_the_command_serves_the_page_and_the_studies(server, client: Client) -> None:
    client.create_study("seen-by-the-ui", [float_param("x", 0.0, 1.0)])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [str(Path(sys.executable).parent / "hyperdial"), "ui", "--server", server.address]
    process = subprocess.Popen([*command, "--address", f"127.0.0.1:{port}"])
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                page = _get(f"http://127.0.0.1:{port}/")
                break
            except OSError:
                assert time.monotonic() < deadline
                assert process.poll() is None
                time.sleep(0.1)
        assert b'<script type="module" src="/static/app.js">' in page
        studies = json.loads(_get(f"http://127.0.0.1:{port}/api/studies"))["studies"]
        assert [s["name"] for s in studies] == ["seen-by-the-ui"]
        with pytest.raises(urllib.error.HTTPError) as missing:
            _get(f"http://127.0.0.1:{port}/api/studies/ghost")
        assert missing.value.code == 404
        assert "'ghost' does not exist" in json.loads(missing.value.read())["error"]
        with pytest.raises(urllib.error.HTTPError) as bad:
            _get(f"http://127.0.0.1:{port}/api/studies/seen-by-the-ui/trials?limit=0")
        assert bad.value.code == 400
        assert "limit" in json.loads(bad.value.read())["error"]
        assert b"Apache Software Foundation" in _get(
            f"http://127.0.0.1:{port}/static/vendor/echarts.min.js"
        )
    finally:
        process.terminate()
        # uvicorn shuts down gracefully, then lets the signal end the process as usual.
        assert process.wait(timeout=10) == -signal.SIGTERM
