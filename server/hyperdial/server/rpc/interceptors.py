"""Bearer-token authentication for every RPC but the health checks."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import grpc

# Load balancers and orchestrators probe health without credentials.
OPEN_METHOD_PREFIXES = ("/grpc.health.v1.Health/",)
DENIED = "missing or invalid bearer token: send metadata 'authorization: Bearer <token>'"


async def _deny(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
    await context.abort(grpc.StatusCode.UNAUTHENTICATED, DENIED)


if TYPE_CHECKING:  # generic only in the type stubs
    Handler = grpc.RpcMethodHandler[Any, Any]


def _denying(handler: Handler) -> Handler:
    """A handler of the same kind as `handler` that answers UNAUTHENTICATED."""
    kinds = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }
    make = kinds[(handler.request_streaming, handler.response_streaming)]
    return make(
        _deny,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


class BearerTokenAuth(grpc.aio.ServerInterceptor):
    """Lets a call through only with `authorization: Bearer <one of tokens>`.

    Every known token is compared in constant time, whatever the outcome, so
    response times say nothing about how much of a guess was right.
    """

    def __init__(self, tokens: Sequence[str]) -> None:
        if not tokens:
            raise ValueError("bearer-token auth needs at least one token")
        self._tokens = [token.encode() for token in tokens]

    def authorized(self, metadata: Sequence[tuple[str, str | bytes]] | None) -> bool:
        """Whether the call's metadata carries a known bearer token."""
        presented = next((v for k, v in metadata or () if k == "authorization"), "")
        text = presented.decode(errors="replace") if isinstance(presented, bytes) else presented
        scheme, _, token = text.partition(" ")
        candidate = token.strip().encode()
        matched = False
        for known in self._tokens:
            matched |= hmac.compare_digest(candidate, known)
        return matched and scheme.lower() == "bearer"

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        """See grpc.aio.ServerInterceptor."""
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None or method.startswith(OPEN_METHOD_PREFIXES):
            return handler
        metadata = handler_call_details.invocation_metadata
        return handler if self.authorized(metadata) else _denying(handler)


def load_tokens(path: str) -> list[str]:
    """Tokens from a file: one per line; blank lines and lines starting with # are skipped."""
    with open(path, encoding="utf-8") as lines:
        tokens = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    if not tokens:
        raise ValueError(f"{path} holds no token")
    return tokens
