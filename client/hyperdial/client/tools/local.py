"""A hyperdial server as a child process on loopback: for notebooks, demos and tests.

It runs `python -m hyperdial.server` (which must be installed: the `server`
extra) rather than importing it, so the client keeps no dependency on the
server's code.
"""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType


class LocalServer:
    """Starts `hyperdial server` on 127.0.0.1 and knows its address.

    Args:
        database: SQLAlchemy URL of the store, e.g. `sqlite:///hyperdial.db`.
        port: 0 picks a free port (the server prints the one it bound).
        args: more `hyperdial server` flags, e.g. `["--durability", "process"]`.
        create_database: create the SQLite file if it is missing (`--create-database`).
        log: a file the server's log (stderr) is appended to; default: this process's stderr.
    """

    def __init__(
        self,
        database: str,
        *,
        port: int = 0,
        args: Sequence[str] = (),
        create_database: bool = True,
        log: str | Path | None = None,
    ) -> None:
        command = [sys.executable, "-m", "hyperdial.server", "--address", f"127.0.0.1:{port}"]
        command += ["--database", database, "--log-level", "WARNING", *args]
        if create_database:
            command.append("--create-database")
        with contextlib.ExitStack() as files:
            stderr = None if log is None else files.enter_context(open(log, "a"))
            self.process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=stderr, text=True
            )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        match = re.search(r"listening on (\S+):(\d+)", line)
        if match is None:
            self.process.kill()
            self.process.wait()
            raise RuntimeError(f"hyperdial server did not start (it said {line!r}); see its log")
        self.port = int(match.group(2))
        self.address = f"127.0.0.1:{self.port}"

    def stop(self, how: signal.Signals = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Sends `how` (SIGTERM: graceful; SIGKILL: a crash) and returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(how)
        return self.process.wait(timeout=timeout)

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
