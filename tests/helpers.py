"""Helpers for tests that need more than a fixture: the repo root, a server child process."""

from __future__ import annotations

from pathlib import Path

from hyperdial.client.local import LocalServer

REPO = Path(__file__).resolve().parent.parent


class ServerProcess(LocalServer):
    """`hyperdial server` as a child process, as users run it, with a short grace period."""

    def __init__(self, database_url: str, port: int = 0) -> None:
        super().__init__(database_url, port=port, args=["--grace-seconds", "2"])
