"""Composition root: builds the store, the services and the gRPC server around them."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

import grpc
from grpc_health.v1 import health, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from hyperdial.server.config import Settings
from hyperdial.server.errors import StartupError
from hyperdial.server.metrics import ServerMetrics
from hyperdial.server.rpc.health import StoreHealth
from hyperdial.server.rpc.interceptors import BearerTokenAuth, MalformedRequests, RpcMetrics
from hyperdial.server.rpc.servicer import HyperdialServicer
from hyperdial.server.service.compute import ComputePool
from hyperdial.server.service.progress import StudyProgress
from hyperdial.server.service.studies import StudyService
from hyperdial.server.service.suggesters import SuggesterCache
from hyperdial.server.service.trials import TrialServices
from hyperdial.server.store.sql import SqlStore
from hyperdial.server.tokens import Tokens, load_tokens
from hyperdial.v1 import hyperdial_pb2, hyperdial_pb2_grpc

log = logging.getLogger(__name__)

SERVICE_NAME = hyperdial_pb2.DESCRIPTOR.services_by_name["HyperdialService"].full_name


@dataclass
class App:
    """A started server and what it owns."""

    server: grpc.aio.Server
    health: health.aio.HealthServicer
    store_health: StoreHealth
    store: SqlStore
    trials: TrialServices
    port: int
    metrics: ServerMetrics
    metrics_http: WSGIServer | None = None
    metrics_port: int | None = None

    async def stop(self, grace_seconds: float) -> None:
        """Reports NOT_SERVING, lets in-flight RPCs finish, then closes the store."""
        await self.store_health.stop()
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace_seconds)
        await self.trials.close()
        if self.metrics_http is not None:
            self.metrics_http.shutdown()
            self.metrics_http.server_close()
        await asyncio.to_thread(self.store.close)


def _server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """TLS credentials from the PEM files in `settings`, or None for plaintext.

    The files are loaded into an `ssl` context first: gRPC would only say
    "Failed to bind to address" about a malformed certificate or key.
    """
    if not settings.tls_cert or not settings.tls_key:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    _load_pem("--tls-cert/--tls-key", context.load_cert_chain, settings.tls_cert, settings.tls_key)
    with open(settings.tls_cert, "rb") as cert, open(settings.tls_key, "rb") as key:
        pair = (key.read(), cert.read())
    client_ca = None
    if settings.tls_client_ca:
        _load_pem("--tls-client-ca", context.load_verify_locations, settings.tls_client_ca)
        with open(settings.tls_client_ca, "rb") as ca:
            client_ca = ca.read()
    return grpc.ssl_server_credentials(
        [pair], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


def _load_pem(flags: str, load: Callable[..., None], *paths: str) -> None:
    try:
        load(*paths)
    except ssl.SSLError as error:
        raise StartupError(
            f"{flags}: {', '.join(paths)} is not a PEM certificate chain with its private key "
            f"({error.reason or error})"
        ) from None
    except OSError as error:
        unreadable = error.filename or paths[0]
        raise StartupError(f"{flags}: cannot read {unreadable}: {error.strerror}") from None


@dataclass(frozen=True)
class _Secrets:
    """What the settings' files hold, read before anything starts so a bad file stops it."""

    credentials: grpc.ServerCredentials | None
    tokens: Tokens | None
    metrics_tokens: Tokens | None

    @classmethod
    def load(cls, settings: Settings) -> _Secrets:
        tokens = load_tokens(settings.auth_token_file) if settings.auth_token_file else None
        metrics_file = settings.metrics_token_file
        return cls(
            _server_credentials(settings),
            tokens,
            load_tokens(metrics_file) if metrics_file else tokens,
        )


def _grpc_server(
    settings: Settings, metrics: ServerMetrics, tokens: Tokens | None, servicer: HyperdialServicer
) -> tuple[grpc.aio.Server, health.aio.HealthServicer]:
    """The gRPC server with the API, health checks and reflection; not yet listening."""
    # Metrics outermost (every answer counts, refusals too); authentication next: it sees
    # the guarded handler and denies per call's metadata.
    interceptors: list[grpc.aio.ServerInterceptor] = [RpcMetrics(metrics), MalformedRequests()]
    if tokens is not None:
        interceptors.insert(1, BearerTokenAuth(tokens))
    server = grpc.aio.server(
        interceptors=interceptors,
        options=[
            ("grpc.max_receive_message_length", settings.limits.max_message_bytes),
            ("grpc.max_send_message_length", settings.limits.max_message_bytes),
        ],
    )
    hyperdial_pb2_grpc.add_HyperdialServiceServicer_to_server(servicer, server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME], server
    )
    return server, health_servicer


def _listen(
    server: grpc.aio.Server, settings: Settings, credentials: grpc.ServerCredentials | None
) -> int:
    try:
        if credentials is None:
            return server.add_insecure_port(settings.address)
        return server.add_secure_port(settings.address, credentials)
    except RuntimeError:
        raise StartupError(
            f"--address {settings.address}: cannot listen there (in use, or not HOST:PORT)"
        ) from None


async def _serve_metrics(app: App, settings: Settings, tokens: Tokens | None) -> None:
    tls = (settings.tls_cert, settings.tls_key) if settings.tls_cert and settings.tls_key else None
    assert settings.metrics_port is not None
    try:
        app.metrics_http, app.metrics_port = app.metrics.serve(
            settings.metrics_address,
            settings.metrics_port,
            tokens=tokens,
            tls=tls,
            healthy=lambda: app.store_health.serving,
        )
    except OSError as error:
        await app.stop(0)
        raise StartupError(
            f"--metrics-port {settings.metrics_port}: cannot listen on "
            f"{settings.metrics_address}: {error.strerror or error}"
        ) from None


async def build(settings: Settings) -> App:
    """Starts a server as `settings` say; the caller owns stopping it.

    Raises:
        StartupError: something in `settings` cannot be used; the message says what.
    """
    metrics = ServerMetrics(per_study=settings.metrics_per_study)
    secrets = _Secrets.load(settings)
    store = await asyncio.to_thread(
        SqlStore,
        settings.database,
        durability=settings.durability,
        on_commit=metrics.write_batch.observe,
        create=settings.creates_database,
    )
    metrics.watch_studies(StudyProgress(store).snapshots)
    compute = ComputePool(settings.compute_workers)
    suggesters = SuggesterCache()
    trials = TrialServices(store, suggesters, settings.limits, metrics=metrics, compute=compute)
    studies = StudyService(store, settings.limits, compute=compute, suggesters=suggesters)
    try:
        servicer = HyperdialServicer(studies, trials)
        server, health_servicer = _grpc_server(settings, metrics, secrets.tokens, servicer)
        port = _listen(server, settings, secrets.credentials)
    except StartupError:
        store.close()
        raise
    await server.start()
    store_health = StoreHealth(
        health_servicer,
        ("", SERVICE_NAME),
        lambda: asyncio.wrap_future(store.write(lambda txn: txn.touch(), durable=False)),
        on_change=metrics.store_writable.set,
    )
    await store_health.start()
    app = App(server, health_servicer, store_health, store, trials, port, metrics)
    if settings.metrics_port is not None:
        await _serve_metrics(app, settings, secrets.metrics_tokens)
    return app
