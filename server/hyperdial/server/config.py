"""Server settings: command-line flags, whose defaults come from HYPERDIAL_* variables.

This is the only module that reads the environment, so what the server runs
with is always the one `Settings` object it logs at startup.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import get_args

from hyperdial.server.service.limits import Limits
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
        "--create-database",
        action="store_true",
        default=_flag(env.get("HYPERDIAL_CREATE_DATABASE")),
        help="create the SQLite file if it does not exist (env HYPERDIAL_CREATE_DATABASE=true); "
        "without it the server refuses to start on a missing database, so a lost or moved "
        "one is noticed, except at the default path",
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
        "--compute-workers",
        type=int,
        default=int(env.get("HYPERDIAL_COMPUTE_WORKERS", defaults.compute_workers)),
        help="processes fitting bayes models, off the RPC threads; 0 = min(4, CPUs - 1), "
        "at least 1 (env HYPERDIAL_COMPUTE_WORKERS; default %(default)s)",
    )
    parser.add_argument(
        "--log-level",
        default=env.get("HYPERDIAL_LOG_LEVEL", defaults.log_level),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="(env HYPERDIAL_LOG_LEVEL; default %(default)s)",
    )
    parser.add_argument(
        "--auth-token-file",
        default=env.get("HYPERDIAL_AUTH_TOKEN_FILE"),
        help="require 'authorization: Bearer <token>' on every RPC but health checks; the "
        "file holds the accepted tokens, one per line (env HYPERDIAL_AUTH_TOKEN_FILE)",
    )
    parser.add_argument(
        "--tls-cert",
        default=env.get("HYPERDIAL_TLS_CERT"),
        help="PEM certificate chain: serve TLS instead of plaintext (with --tls-key)",
    )
    parser.add_argument(
        "--tls-key", default=env.get("HYPERDIAL_TLS_KEY"), help="PEM private key of --tls-cert"
    )
    parser.add_argument(
        "--tls-client-ca",
        default=env.get("HYPERDIAL_TLS_CLIENT_CA"),
        help="PEM CA bundle: require client certificates it signed (mutual TLS)",
    )
    for name, flag, meaning in _LIMIT_FLAGS:
        parser.add_argument(
            flag,
            type=int,
            default=int(env.get(_env_name(flag), getattr(defaults.limits, name))),
            help=f"{meaning} (env {_env_name(flag)}; default %(default)s)",
        )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=_optional_int(env.get("HYPERDIAL_METRICS_PORT")),
        help="serve Prometheus metrics at http://ADDRESS:PORT/metrics (0 picks a port and "
        "prints it; default off; env HYPERDIAL_METRICS_PORT)",
    )
    parser.add_argument(
        "--metrics-address",
        default=env.get("HYPERDIAL_METRICS_ADDRESS", defaults.metrics_address),
        help="where /metrics listens (default %(default)s; 0.0.0.0 in a container)",
    )
    parser.add_argument(
        "--metrics-token-file",
        default=env.get("HYPERDIAL_METRICS_TOKEN_FILE"),
        help="require 'Authorization: Bearer <token>' on /metrics, tokens as in "
        "--auth-token-file (default: the --auth-token-file tokens, if any; /healthz stays "
        "open; env HYPERDIAL_METRICS_TOKEN_FILE)",
    )
    parser.add_argument(
        "--no-metrics-per-study",
        dest="metrics_per_study",
        action="store_false",
        help="drop the study label from metrics (for servers with very many studies)",
    )
    args = parser.parse_args(argv)
    try:
        limits = Limits(**{name: getattr(args, name) for name, _, _ in _LIMIT_FLAGS})
    except ValueError as error:
        parser.error(str(error))
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    if args.tls_client_ca and not args.tls_cert:
        parser.error("--tls-client-ca needs --tls-cert and --tls-key")
    return Settings(
        address=args.address,
        database=args.database,
        durability=args.durability,
        grace_seconds=args.grace_seconds,
        log_level=args.log_level,
        auth_token_file=args.auth_token_file,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        tls_client_ca=args.tls_client_ca,
        limits=limits,
        metrics_port=args.metrics_port,
        metrics_address=args.metrics_address,
        metrics_per_study=args.metrics_per_study,
        metrics_token_file=args.metrics_token_file,
        compute_workers=args.compute_workers,
        create_database=args.create_database or None,
    )


def _flag(text: str | None) -> bool:
    return (text or "").strip().lower() in ("1", "true", "yes", "on")


def _optional_int(text: str | None) -> int | None:
    return None if text in (None, "") else int(text)


_LIMIT_FLAGS = (
    ("max_suggest_count", "--max-suggest-count", "most trials one Suggest may ask for"),
    ("max_parameters", "--max-parameters", "most parameters in a study's search space"),
    ("max_studies", "--max-studies", "most studies the server holds"),
    ("max_name_length", "--max-name-length", "longest study name or worker id (<= 128)"),
    (
        "max_config_bytes",
        "--max-config-bytes",
        "largest study config, as JSON (and at most a quarter of --max-message-bytes)",
    ),
    (
        "max_message_bytes",
        "--max-message-bytes",
        "largest request or response; answers are sized to fit it",
    ),
)


def _env_name(flag: str) -> str:
    return "HYPERDIAL_" + flag.removeprefix("--").replace("-", "_").upper()
