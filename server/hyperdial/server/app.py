"""Composition root: builds the store, the services and the gRPC server around them."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from hyperdial.server.config import Settings
from hyperdial.server.rpc.servicer import HyperdialServicer
from hyperdial.server.service.studies import StudyService
from hyperdial.server.service.suggesters import SuggesterCache
from hyperdial.server.service.trials import TrialService
from hyperdial.server.store.sql import SqlStore
from hyperdial.v1 import hyperdial_pb2, hyperdial_pb2_grpc

log = logging.getLogger(__name__)

SERVICE_NAME = hyperdial_pb2.DESCRIPTOR.services_by_name["HyperdialService"].full_name


@dataclass
class App:
    """A started server and what it owns."""

    server: grpc.aio.Server
    health: health.aio.HealthServicer
    store: SqlStore
    port: int

    async def stop(self, grace_seconds: float) -> None:
        """Reports NOT_SERVING, lets in-flight RPCs finish, then closes the store."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace_seconds)
        await asyncio.to_thread(self.store.close)


async def build(settings: Settings) -> App:
    """Starts a server as `settings` say; the caller owns stopping it."""
    store = SqlStore(settings.database, durability=settings.durability)
    servicer = HyperdialServicer(StudyService(store), TrialService(store, SuggesterCache()))
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", settings.max_message_bytes),
            ("grpc.max_send_message_length", settings.max_message_bytes),
        ]
    )
    hyperdial_pb2_grpc.add_HyperdialServiceServicer_to_server(servicer, server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME], server
    )
    try:
        port = server.add_insecure_port(settings.address)
    except RuntimeError as error:
        store.close()
        raise OSError(f"cannot listen on {settings.address}: {error}") from error
    await server.start()
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return App(server=server, health=health_servicer, store=store, port=port)
