"""`python -m hyperdial.server.probe`, the image's HEALTHCHECK: is the server serving?

It reads the server's own settings (the HYPERDIAL_* variables), so it probes
where the server listens, not a fixed 127.0.0.1:50051. With the metrics port on,
it asks its plain-HTTP /healthz, which works whatever the gRPC port's TLS; with
plaintext gRPC, the standard gRPC health service. A TLS-only server without a
metrics port cannot be probed from inside without a client certificate chain:
the probe says so and fails, rather than calling a server healthy unseen.
Exit status 0: serving; 1: not serving, unreachable, or not probeable.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hyperdial.server.config import Settings, parse_settings

TIMEOUT_SECONDS = 2.0


def _local(address: str) -> str:
    """The loopback form of a listening address (0.0.0.0 and [::] are not dialable)."""
    host, _, port = address.rpartition(":")
    if host in ("0.0.0.0", "[::]", "::", ""):
        host = "127.0.0.1"
    return f"{host}:{port}"


def probe(settings: Settings) -> str | None:
    """None when the server answers SERVING; otherwise why not."""
    if settings.metrics_port:
        url = f"http://{_local(f'{settings.metrics_address}:{settings.metrics_port}')}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as answer:
                return None if answer.status == 200 else f"{url} answered {answer.status}"
        except (urllib.error.URLError, OSError) as error:
            return f"{url}: {error}"
    if settings.tls_cert:
        return "the gRPC port speaks TLS only: turn on --metrics-port to health-check it"
    target = _local(settings.address)
    with grpc.insecure_channel(target) as channel:
        try:
            status = (
                health_pb2_grpc.HealthStub(channel)
                .Check(health_pb2.HealthCheckRequest(), timeout=TIMEOUT_SECONDS)
                .status
            )
        except grpc.RpcError as error:
            return f"{target}: {error.code().name}"
    serving = status == health_pb2.HealthCheckResponse.SERVING
    return (
        None
        if serving
        else f"{target}: {health_pb2.HealthCheckResponse.ServingStatus.Name(status)}"
    )


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> None:
    """Exits 0 when the server answers SERVING, 1 with the reason otherwise."""
    problem = probe(parse_settings(list(argv or []), environ))
    if problem is not None:
        sys.exit(f"hyperdial probe: {problem}")


if __name__ == "__main__":
    main(sys.argv[1:])
