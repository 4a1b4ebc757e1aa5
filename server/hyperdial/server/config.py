"""Server settings: command-line flags, whose defaults come from HYPERDIAL_* variables.

This is the only module that reads the environment, so what the server runs
with is always the one `Settings` object it logs at startup.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import get_args

from hyperdial.server.store.base import Durability

DEFAULT_DATABASE = "sqlite:///hyperdial.db"
_PASSWORD = re.compile(r"(://[^:/@]*:)[^@]*@")


@dataclass(frozen=True)
class Settings:
    """Everything the server is configured with."""

    address: str = "127.0.0.1:50051"
    database: str = DEFAULT_DATABASE
    durability: Durability = "full"
    grace_seconds: float = 10.0
    log_level: str = "INFO"
    max_message_bytes: int = 16 * 1024 * 1024

    def redacted(self) -> dict[str, object]:
        """The settings with any database password hidden, for the startup log."""
        shown = dict(self.__dict__)
        shown["database"] = _PASSWORD.sub(r"\1***@", self.database)
        return shown


def parse_settings(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Flags override HYPERDIAL_* variables, which override the defaults."""
    env = os.environ if environ is None else environ
    defaults = Settings()
    parser = argparse.ArgumentParser(
        prog="hyperdial server", description="Run the hyperdial tuning server."
    )
    parser.add_argument(
        "--address",
        default=env.get("HYPERDIAL_ADDRESS", defaults.address),
        help="HOST:PORT to listen on; port 0 picks a free one and prints it "
        "(env HYPERDIAL_ADDRESS; default %(default)s, loopback only: use 0.0.0.0:PORT "
        "in a container)",
    )
    parser.add_argument(
        "--database",
        default=env.get("HYPERDIAL_DATABASE", defaults.database),
        help="SQLAlchemy URL: an SQLite file (default %(default)s, in the working "
        "directory) or postgresql+psycopg://… (env HYPERDIAL_DATABASE)",
    )
    parser.add_argument(
        "--durability",
        choices=get_args(Durability),
        default=env.get("HYPERDIAL_DURABILITY", defaults.durability),
        help="full: every acknowledged Observe is fsync'd (survives power loss); process: "
        "survives a crash of the server process, not of the machine, and is faster "
        "(env HYPERDIAL_DURABILITY; default %(default)s)",
    )
    parser.add_argument(
        "--grace-seconds",
        type=float,
        default=float(env.get("HYPERDIAL_GRACE_SECONDS", defaults.grace_seconds)),
        help="on SIGTERM, time given to in-flight RPCs (default %(default)s)",
    )
    parser.add_argument(
        "--log-level",
        default=env.get("HYPERDIAL_LOG_LEVEL", defaults.log_level),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="(env HYPERDIAL_LOG_LEVEL; default %(default)s)",
    )
    args = parser.parse_args(argv)
    return Settings(
        address=args.address,
        database=args.database,
        durability=args.durability,
        grace_seconds=args.grace_seconds,
        log_level=args.log_level,
    )
