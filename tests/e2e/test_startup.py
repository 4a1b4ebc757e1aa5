"""`hyperdial server` refuses what it cannot serve: one clear line on stderr, exit code 2."""

import contextlib
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers import postgres_schema

from hyperdial.client import Client, float_param
from hyperdial.client.tools.local import LocalServer

# gRPC's C core logs a failed bind itself (e.g. "E1127 18:22:46.895 add_port.cc:83] …").
_GRPC_CORE_LOG = re.compile(r"^[DIWE]\d{4} ")


def _start(*args: str) -> subprocess.CompletedProcess[str]:
    """Runs the server as users do; it must exit on its own with what it says."""
    command = [sys.executable, "-m", "hyperdial.server", "--address", "127.0.0.1:0"]
    command += ["--log-level", "WARNING", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def _refused(result: subprocess.CompletedProcess[str], *words: str) -> str:
    assert result.returncode == 2, result
    lines = [line for line in result.stderr.splitlines() if not _GRPC_CORE_LOG.match(line)]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("hyperdial server: ")
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unsupported_database_urls_are_one_line(tmp_path: Path) -> None:
    _refused(_start("--database", "mysql://root@127.0.0.1/test"), "--database", "mysql")
    _refused(_start("--database", "not a url"), "--database")
    _refused(_start("--database", "sqlite://"), "needs a file")


def test_an_unreachable_postgresql_is_one_line() -> None:
    url = f"postgresql://postgres@127.0.0.1:{_free_port()}/test"
    line = _refused(_start("--database", url), "cannot use the database", "127.0.0.1")
    assert "Traceback" not in line


def test_malformed_tls_files_are_one_line(tmp_path: Path, pki) -> None:
    database = f"sqlite:///{tmp_path / 'x.db'}"
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    tls = ["--database", database, "--create-database"]
    key = pki["server_key"]
    _refused(_start(*tls, "--tls-cert", str(garbage), "--tls-key", key), "--tls-cert")
    # A key that does not belong to the certificate.
    _refused(
        _start(*tls, "--tls-cert", pki["server_cert"], "--tls-key", pki["client_key"]),
        "--tls-cert",
    )
    missing = str(tmp_path / "missing.pem")
    _refused(_start(*tls, "--tls-cert", missing, "--tls-key", pki["server_key"]), "missing.pem")
    _refused(
        _start(*tls, *("--tls-cert", pki["server_cert"], "--tls-key", pki["server_key"]),
               "--tls-client-ca", str(garbage)),
        "--tls-client-ca",
    )  # fmt: skip


def test_a_token_file_without_tokens_is_one_line(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("# only a comment\n   # and an indented one\n\n")
    database = f"sqlite:///{tmp_path / 'x.db'}"
    args = ("--database", database, "--create-database", "--auth-token-file", str(tokens))
    _refused(_start(*args), "holds no token")


def test_a_missing_sqlite_file_is_created_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "data" / "hyperdial.db"
    url = f"sqlite:///{path}"
    _refused(_start("--database", url), "no database", str(path), "--create-database")
    assert not path.exists()
    with LocalServer(url) as server, Client(server.address) as client:  # --create-database
        client.create_study("s", [float_param("x", 0, 1)])
    # Once it exists, no flag is needed.
    with LocalServer(url, create_database=False) as server, Client(server.address) as client:
        assert [s.name for s in client.list_studies()] == ["s"]


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[None]:
    """The file cannot be written, even by root (which ignores permission bits)."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        yield
        return
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("running as root where chattr +i is refused: no way to make a file read-only")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_a_read_only_sqlite_database_is_refused_at_startup(tmp_path: Path) -> None:
    path = tmp_path / "hyperdial.db"
    url = f"sqlite:///{path}"
    LocalServer(url).stop()  # creates and migrates it
    with _read_only(path):
        _refused(_start("--database", url), "cannot use the database", "readonly")


def test_a_read_only_postgresql_database_is_refused_at_startup() -> None:
    with postgres_schema() as url:
        LocalServer(url).stop()  # migrates the schema
        read_only = url + "%20-cdefault_transaction_read_only%3Don"
        _refused(_start("--database", read_only), "cannot use the database", "read-only")


@pytest.mark.parametrize("flag", ["--address", "--metrics-port"])
def test_a_port_in_use_is_one_line(tmp_path: Path, flag: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ["--database", f"sqlite:///{tmp_path / 'x.db'}", "--create-database"]
        if flag == "--address":
            args += ["--address", f"127.0.0.1:{port}"]
        else:
            args += ["--metrics-port", str(port)]
        _refused(_start(*args), flag)
