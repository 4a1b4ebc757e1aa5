"""Server interceptors: bearer tokens, INVALID_ARGUMENT for unparsable bytes, RPC metrics."""

from __future__ import annotations

import abc
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf.message import DecodeError

from hyperdial.server.metrics import ServerMetrics
from hyperdial.server.tokens import Tokens

# Load balancers and orchestrators probe health without credentials.
OPEN_METHOD_PREFIXES = ("/grpc.health.v1.Health/",)
DENIED = "missing or invalid bearer token: send metadata 'authorization: Bearer <token>'"


async def _deny(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
    await context.abort(grpc.StatusCode.UNAUTHENTICATED, DENIED)


if TYPE_CHECKING:  # generic only in the type stubs
    Handler = grpc.RpcMethodHandler[Any, Any]


def _like(
    handler: Handler, behavior: Any, request_deserializer: Callable[[bytes], Any] | None = None
) -> Handler:
    """A handler of the same kind (unary or streaming each way) as `handler`."""
    kinds = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }
    make = kinds[(handler.request_streaming, handler.response_streaming)]
    return make(
        behavior,
        request_deserializer=request_deserializer or handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


def _behavior(handler: Handler) -> Any:
    """The one function that serves `handler`'s kind of call."""
    return (
        handler.unary_unary
        or handler.unary_stream
        or handler.stream_unary
        or handler.stream_stream
    )


class _WrappingInterceptor(grpc.aio.ServerInterceptor):
    """Wraps each method's handler once (by `wrap`) and reuses the wrapper for every call."""

    def __init__(self) -> None:
        self._wrapped: dict[Handler, Handler] = {}

    @abc.abstractmethod
    def wrap(self, handler: Handler, method: str) -> Handler:
        """The wrapper for `handler`, which serves `method` (e.g. "Suggest")."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        """See grpc.aio.ServerInterceptor."""
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        wrapped = self._wrapped.get(handler)
        if wrapped is None:
            method = handler_call_details.method.rsplit("/", 1)[-1]
            wrapped = self._wrapped[handler] = self.wrap(handler, method)
        return wrapped


def _denying(handler: Handler) -> Handler:
    """A handler of the same kind as `handler` that answers UNAUTHENTICATED."""
    return _like(handler, _deny)


class BearerTokenAuth(grpc.aio.ServerInterceptor):
    """Lets a call through only with `authorization: Bearer <one of tokens>`."""

    def __init__(self, tokens: Tokens) -> None:
        self._tokens = tokens

    def authorized(self, metadata: Sequence[tuple[str, str | bytes]] | None) -> bool:
        """Whether the call's metadata carries a known bearer token."""
        presented = next((v for k, v in metadata or () if k == "authorization"), "")
        return self._tokens.accepts(presented)

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


class _Malformed:
    """Stands in for a request whose bytes did not parse."""

    def __init__(self, error: DecodeError) -> None:
        self.message = f"the request is not a valid message of its type: {error}"


def _tolerant(deserialize: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    def parse(data: bytes) -> Any:
        try:
            return deserialize(data)
        except DecodeError as error:
            return _Malformed(error)

    return parse


async def _checked(
    requests: AsyncIterator[Any], context: grpc.aio.ServicerContext[Any, Any]
) -> AsyncIterator[Any]:
    async for request in requests:
        if isinstance(request, _Malformed):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.message)
        yield request


async def _responses(result: Any) -> AsyncIterator[Any]:
    """The responses of a streaming behavior, whichever form it takes.

    An async generator yields them; a coroutine writes them with
    `context.write` (or aborts, like the authentication denial).
    """
    if inspect.isawaitable(result):
        await result
        return
    async for response in result:
        yield response


class MalformedRequests(_WrappingInterceptor):
    """Answers INVALID_ARGUMENT for bytes that do not parse as the method's request.

    gRPC itself would answer UNKNOWN (e.g. for a string field holding invalid
    UTF-8): a client's mistake must read as one.
    """

    def wrap(self, handler: Handler, method: str) -> Handler:
        """See `_WrappingInterceptor.wrap`."""
        return handler if handler.request_deserializer is None else _guarded(handler)


def _guarded(handler: Handler) -> Handler:
    """`handler` with a deserializer that never raises and behaviors that refuse _Malformed."""
    assert handler.request_deserializer is not None
    inner = _behavior(handler)
    tolerant = _tolerant(handler.request_deserializer)
    if handler.request_streaming and handler.response_streaming:

        async def stream_stream(requests: Any, context: Any) -> AsyncIterator[Any]:
            async for response in _responses(inner(_checked(requests, context), context)):
                yield response

        return _like(handler, stream_stream, tolerant)
    if handler.request_streaming:

        async def stream_unary(requests: Any, context: Any) -> Any:
            return await inner(_checked(requests, context), context)

        return _like(handler, stream_unary, tolerant)
    if handler.response_streaming:

        async def unary_stream(request: Any, context: Any) -> AsyncIterator[Any]:
            if isinstance(request, _Malformed):
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.message)
            async for response in _responses(inner(request, context)):
                yield response

        return _like(handler, unary_stream, tolerant)

    async def unary_unary(request: Any, context: Any) -> Any:
        if isinstance(request, _Malformed):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.message)
        return await inner(request, context)

    return _like(handler, unary_unary, tolerant)


class RpcMetrics(_WrappingInterceptor):
    """Counts every RPC by method and status code and times it (a Work stream counts once)."""

    def __init__(self, metrics: ServerMetrics) -> None:
        super().__init__()
        self._metrics = metrics

    def wrap(self, handler: Handler, method: str) -> Handler:
        """See `_WrappingInterceptor.wrap`."""
        return self._timed(handler, method)

    def _timed(self, handler: Handler, method: str) -> Handler:
        metrics = self._metrics
        inner = _behavior(handler)

        def record(context: Any, began: float, failed: bool) -> None:
            code = context.code() if failed else None
            name = (
                code.name if isinstance(code, grpc.StatusCode) else ("UNKNOWN" if failed else "OK")
            )
            metrics.rpcs.labels(method, name).inc()
            metrics.rpc_seconds.labels(method).observe(time.perf_counter() - began)

        if handler.response_streaming:

            async def streaming(request: Any, context: Any) -> AsyncIterator[Any]:
                began, failed = time.perf_counter(), False
                try:
                    async for response in _responses(inner(request, context)):
                        yield response
                except BaseException:
                    failed = True
                    raise
                finally:
                    record(context, began, failed)

            return _like(handler, streaming)

        async def unary(request: Any, context: Any) -> Any:
            began, failed = time.perf_counter(), False
            try:
                return await inner(request, context)
            except BaseException:
                failed = True
                raise
            finally:
                record(context, began, failed)

        return _like(handler, unary)
