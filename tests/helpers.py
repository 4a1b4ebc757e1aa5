"""Helpers for tests that need more than a fixture: the repo root, a server child process."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


class ServerProcess:
    """`hyperdial server` as a child process, as users run it."""

    def __init__(self, database_url: str, port: int = 0) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hyperdial.server",
                "--address",
                f"127.0.0.1:{port}",
                "--database",
                database_url,
                "--log-level",
                "WARNING",
                "--grace-seconds",
                "2",
            ],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        match = re.search(r"listening on (\S+):(\d+)", line)
        assert match, f"unexpected first line from the server: {line!r}"
        self.port = int(match.group(2))
        self.address = f"127.0.0.1:{self.port}"

    def stop(self, signal_name: str = "SIGTERM") -> int:
        self.process.send_signal(getattr(signal, signal_name))
        return self.process.wait(timeout=30)
