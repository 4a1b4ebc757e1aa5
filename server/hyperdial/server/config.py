"""Server settings: command-line flags, whose defaults come from HYPERDIAL_* variables.

This is the only module that reads the environment, so what the server runs
with is always the one `Settings` object it logs at startup.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, get_args

from hyperdial.server.service.limits import Limits
from hyperdial.server.store.base import Durability

DEFAULT_DATABASE = "sqlite:///hyperdial.db"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_PASSWORD = re.compile(r"(://[^:/@]*:)[^@]*@")


@dataclass(frozen=True)
class Settings:
    """Everything the server is configured with."""

    address: str = "127.0.0.1:50051"
    database: str = DEFAULT_DATABASE
    durability: Durability = "full"
    grace_seconds: float = 10.0
    log_level: str = "INFO"
    auth_token_file: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_client_ca: str | None = None
    limits: Limits = field(default_factory=Limits)
    metrics_port: int | None = None
    metrics_address: str = "127.0.0.1"
    metrics_per_study: bool = True
    metrics_token_file: str | None = None
    compute_workers: int = 0
    create_database: bool | None = None

    @property
    def creates_database(self) -> bool:
        """Whether a missing SQLite file may be created: if asked, or at the default path."""
        if self.create_database is not None:
            return self.create_database
        return self.database == DEFAULT_DATABASE

    def redacted(self) -> dict[str, object]:
        """The settings with any database password hidden, for the startup log."""
        shown = dict(self.__dict__, limits=self.limits.__dict__)
        shown["database"] = _PASSWORD.sub(r"\1***@", self.database)
        return shown


@dataclass(frozen=True)
class _Option:
    """One flag; its variable is HYPERDIAL_ and the flag's name, its default the Settings'."""

    flag: str
    help: str
    type: Callable[[str], Any] = str
    choices: Sequence[str] | None = None
    switch: bool = False  # a flag without a value, also set by a true-ish variable
    in_limits: bool = False

    @property
    def name(self) -> str:
        """The Settings (or Limits) field it sets."""
        return self.flag.removeprefix("--").replace("-", "_")

    @property
    def env(self) -> str:
        """The variable that sets its default."""
        return "HYPERDIAL_" + self.name.upper()


_OPTIONS = (
    _Option(
        "--address",
        "HOST:PORT to listen on; port 0 picks a free one and prints it (loopback only by "
        "default: use 0.0.0.0:PORT in a container)",
    ),
    _Option(
        "--database",
        "SQLAlchemy URL: an SQLite file (in the working directory by default) or "
        "postgresql+psycopg://…",
    ),
    _Option(
        "--create-database",
        "create the SQLite file if it does not exist; without it the server refuses to start "
        "on a missing database, so a lost or moved one is noticed, except at the default path",
        switch=True,
    ),
    _Option(
        "--durability",
        "full: every acknowledged Observe is fsync'd (survives power loss); process: survives "
        "a crash of the server process, not of the machine, and is faster",
        choices=get_args(Durability),
    ),
    _Option("--grace-seconds", "on SIGTERM, time given to in-flight RPCs", type=float),
    _Option(
        "--compute-workers",
        "processes fitting bayes models, off the RPC threads; 0 = min(4, CPUs - 1), at least 1",
        type=int,
    ),
    _Option("--log-level", "how much the server logs", choices=LOG_LEVELS),
    _Option(
        "--auth-token-file",
        "require 'authorization: Bearer <token>' on every RPC but health checks; the file "
        "holds the accepted tokens, one per line",
    ),
    _Option(
        "--tls-cert", "PEM certificate chain: serve TLS instead of plaintext (with --tls-key)"
    ),
    _Option("--tls-key", "PEM private key of --tls-cert"),
    _Option(
        "--tls-client-ca", "PEM CA bundle: require client certificates it signed (mutual TLS)"
    ),
    _Option("--max-suggest-count", "most trials one Suggest may ask for", int, in_limits=True),
    _Option("--max-parameters", "most parameters in a study's search space", int, in_limits=True),
    _Option("--max-studies", "most studies the server holds", int, in_limits=True),
    _Option("--max-name-length", "longest study name or worker id (<= 128)", int, in_limits=True),
    _Option(
        "--max-config-bytes",
        "largest study config, as JSON (and at most a quarter of --max-message-bytes)",
        int,
        in_limits=True,
    ),
    _Option(
        "--max-message-bytes",
        "largest request or response; answers are sized to fit it",
        int,
        in_limits=True,
    ),
    _Option(
        "--metrics-port",
        "serve Prometheus metrics at http://ADDRESS:PORT/metrics (0 picks a port and prints "
        "it; off when unset)",
        type=int,
    ),
    _Option("--metrics-address", "where /metrics listens (0.0.0.0 in a container)"),
    _Option(
        "--metrics-token-file",
        "require 'Authorization: Bearer <token>' on /metrics, tokens as in --auth-token-file "
        "(default: the --auth-token-file tokens, if any; /healthz stays open)",
    ),
)


def _add(parser: argparse.ArgumentParser, option: _Option, default: Any, text: str | None) -> None:
    if option.switch:
        on = _flag(text) or bool(default)
        parser.add_argument(
            option.flag, action="store_true", default=on, help=f"{option.help} (env {option.env})"
        )
        return
    shown = "" if default is None else "; default %(default)s"
    parser.add_argument(
        option.flag,
        type=option.type,
        choices=option.choices,
        default=default if text in (None, "") else option.type(text),
        help=f"{option.help} (env {option.env}{shown})",
    )


def parse_settings(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Flags override HYPERDIAL_* variables, which override the defaults."""
    env = os.environ if environ is None else environ
    defaults = Settings()
    parser = argparse.ArgumentParser(
        prog="hyperdial server", description="Run the hyperdial tuning server."
    )
    for option in _OPTIONS:
        holder: Any = defaults.limits if option.in_limits else defaults
        try:
            _add(parser, option, getattr(holder, option.name), env.get(option.env))
        except ValueError:
            parser.error(f"{option.env}: not a valid {option.type.__name__}")
    parser.add_argument(
        "--no-metrics-per-study",
        dest="metrics_per_study",
        action="store_false",
        help="drop the study label from metrics (for servers with very many studies)",
    )
    args = vars(parser.parse_args(argv))
    limited = {o.name: args.pop(o.name) for o in _OPTIONS if o.in_limits}
    try:
        limits = Limits(**limited)
    except ValueError as error:
        parser.error(str(error))
    if bool(args["tls_cert"]) != bool(args["tls_key"]):
        parser.error("--tls-cert and --tls-key go together")
    if args["tls_client_ca"] and not args["tls_cert"]:
        parser.error("--tls-client-ca needs --tls-cert and --tls-key")
    args["create_database"] = args["create_database"] or None
    return Settings(limits=limits, **args)


def _flag(text: str | None) -> bool:
    return (text or "").strip().lower() in ("1", "true", "yes", "on")
