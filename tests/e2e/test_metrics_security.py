"""/metrics behind the server's tokens (or its own) and TLS; /healthz open to probes."""

import ssl
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from hyperdial.server.config import Settings
from hyperdial.server.testing import serve


def _get(url: str, token: str | None = None, context: ssl.SSLContext | None = None):
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _token_file(path: Path, *tokens: str) -> str:
    path.write_text("\n".join(tokens) + "\n")
    return str(path)


def test_metrics_take_the_servers_tokens(sqlite_url: str, tmp_path: Path) -> None:
    settings = Settings(metrics_port=0, auth_token_file=_token_file(tmp_path / "t", "grpc-token"))
    with serve(sqlite_url, settings) as server:
        base = f"http://127.0.0.1:{server.app.metrics_port}"
        status, body = _get(f"{base}/metrics")
        assert status == 401
        assert "hyperdial_" not in body
        assert _get(f"{base}/metrics", "wrong")[0] == 401
        status, body = _get(f"{base}/metrics", "grpc-token")
        assert status == 200
        assert "hyperdial_rpcs" in body
        assert "hyperdial_store_writable 1.0" in body
        assert _get(f"{base}/healthz") == (200, "SERVING\n")


def test_a_separate_scrape_token(sqlite_url: str, tmp_path: Path) -> None:
    settings = Settings(
        metrics_port=0,
        auth_token_file=_token_file(tmp_path / "grpc", "grpc-token"),
        metrics_token_file=_token_file(tmp_path / "scrape", "scrape-token"),
    )
    with serve(sqlite_url, settings) as server:
        base = f"http://127.0.0.1:{server.app.metrics_port}"
        assert _get(f"{base}/metrics", "grpc-token")[0] == 401
        assert _get(f"{base}/metrics", "scrape-token")[0] == 200


def test_metrics_without_tokens_stay_open(sqlite_url: str) -> None:
    with serve(sqlite_url, Settings(metrics_port=0)) as server:
        status, body = _get(f"http://127.0.0.1:{server.app.metrics_port}/metrics")
        assert status == 200
        assert "hyperdial_rpcs" in body


def test_metrics_over_tls(sqlite_url: str, pki) -> None:
    settings = Settings(metrics_port=0, tls_cert=pki["server_cert"], tls_key=pki["server_key"])
    with serve(sqlite_url, settings) as server:
        port = server.app.metrics_port
        trusting = ssl.create_default_context(cafile=pki["ca"])
        status, body = _get(f"https://127.0.0.1:{port}/metrics", context=trusting)
        assert status == 200
        assert "hyperdial_rpcs" in body
        with pytest.raises(OSError, match=r"reset|closed|EOF|Remote end"):  # no plaintext
            _get(f"http://127.0.0.1:{port}/metrics")
