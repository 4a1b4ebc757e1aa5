"""A trial's command as a child process in its own process group, its output read by line.

The group is what makes stopping reliable: SIGTERM and, after the grace
period, SIGKILL go to the command and to every process it started, and once
the command has exited whatever it left behind in the group is killed too, so
no process outlives its trial. (A process that leaves the group on purpose,
with `setsid`, is out of reach; so it is for every process supervisor.)
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

# Longest piece of a line read at once: a command that prints without newlines still
# gets its output passed through, in pieces, instead of filling the agent's memory.
MAX_LINE_BYTES = 64 * 1024
STDERR_TAIL_LINES = 20
PIPE_CLOSE_SECONDS = 5.0

LineHandler = Callable[[str, str], None]  # (source "stdout" | "stderr" | "eof", text)


class ChildStartError(OSError):
    """The command could not be started (not found, not executable, …)."""


class Child:
    """One running command: its output is passed through, logged and handed to `on_line`."""

    def __init__(
        self,
        argv: Sequence[str],
        environment: Mapping[str, str],
        log_path: Path,
        prefix: str,
        on_line: LineHandler,
    ) -> None:
        self._on_line = on_line
        self._prefix = prefix
        self._log = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 (closed in finish)
        self._log_lock = threading.Lock()
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        try:
            self.process = subprocess.Popen(
                list(argv),
                env=dict(environment),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as error:
            self._log.close()
            raise ChildStartError(error.errno, f"could not start {argv[0]!r}: {error}") from None
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self._pumps = [
            threading.Thread(target=self._pump, args=(self.process.stdout, "stdout"), daemon=True),
            threading.Thread(target=self._pump, args=(self.process.stderr, "stderr"), daemon=True),
        ]
        for pump in self._pumps:
            pump.start()

    def _pump(self, stream: IO[bytes], source: str) -> None:
        echo = sys.stdout if source == "stdout" else sys.stderr
        for raw in iter(lambda: stream.readline(MAX_LINE_BYTES), b""):
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            with self._log_lock:
                if not self._log.closed:
                    self._log.write(text + "\n")
            if source == "stderr":
                self._stderr_tail.append(text)
            echo.write(f"{self._prefix}{text}\n")
            self._on_line(source, text)
        echo.flush()
        self._on_line("eof", source)

    def running(self) -> bool:
        """Whether the command has not exited yet."""
        return self.process.poll() is None

    def stop(self, grace_seconds: float) -> None:
        """SIGTERM to the group; SIGKILL if the command has not exited after `grace_seconds`."""
        self._signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.process.wait()

    def finish(self) -> int:
        """The exit status, once the command has exited; kills what it left in its group."""
        status = self.process.wait()
        self._signal(signal.SIGKILL)
        for pump in self._pumps:
            # Only a process that left the group can hold the pipes open this long.
            pump.join(timeout=PIPE_CLOSE_SECONDS)
        with self._log_lock:
            self._log.close()
        return status

    def stderr_tail(self) -> str:
        """The last lines the command wrote to stderr."""
        return "\n".join(self._stderr_tail)

    def _signal(self, signum: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):  # an empty group: nothing left to stop
            os.killpg(self.process.pid, signum)


def describe_status(status: int) -> str:
    """An exit status in words: `exited with status 2`, `killed by SIGSEGV`."""
    if status < 0:
        try:
            return f"killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"killed by signal {-status}"
    return f"exited with status {status}"
