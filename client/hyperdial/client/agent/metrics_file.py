"""`HYPERDIAL_METRICS_FILE`: metric lines a command appends to a file instead of printing.

The agent reads what was appended every `POLL_SECONDS` while the command
runs, a line once it ends with a newline, and whatever is left once the
command has exited.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

POLL_SECONDS = 0.05


class MetricsFile:
    """Follows one file, handing each complete line to `on_line`."""

    def __init__(self, path: Path, on_line: Callable[[str], None]) -> None:
        self._path = path
        self._on_line = on_line
        self._offset = 0
        self._partial = b""
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._follow, daemon=True)

    def start(self) -> None:
        """Starts following the file (it need not exist yet)."""
        self._thread.start()

    def stop(self) -> None:
        """Stops following; hands over the rest of the file, a last line without newline too."""
        self._done.set()
        self._thread.join()
        self._read()
        if self._partial:
            self._on_line(self._partial.decode("utf-8", errors="replace"))
            self._partial = b""

    def _follow(self) -> None:
        while not self._done.wait(POLL_SECONDS):
            self._read()

    def _read(self) -> None:
        try:
            with open(self._path, "rb") as file:
                file.seek(self._offset)
                data = file.read()
        except FileNotFoundError:
            return
        self._offset += len(data)
        *lines, self._partial = (self._partial + data).split(b"\n")
        for line in lines:
            self._on_line(line.decode("utf-8", errors="replace"))
