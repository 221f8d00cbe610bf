"""The WebSocket rules, for HTTP streams (graphql-sse, Apollo's multipart subscriptions).

A stream is a connection that carries one operation: it takes a slot of the per-address
connection cap that WebSockets count in too (refused with HTTP 429 without one), a browser on a
foreign origin may not open one (the WebSocket Origin rule), and it ends with an error the client
can act on when its token expires or the server shuts down. The per-operation limits (query
limits, `raceIds`, the mutation rate per token, persisted and trusted documents) hold on its one
operation as on any request; the per-connection message and operation limits of a WebSocket have
nothing to count on a stream beyond the cap itself."""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import AsyncGenerator, Callable, Collection, Mapping
from typing import Any

from graphql import GraphQLError
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send
from strawberry.http import GraphQLHTTPResponse
from strawberry.http.streaming import HTTPStreamTransport, MultipartSubscriptionTransport, SSETransport
from strawberry.http.websocket_origin import is_same_origin, normalize_origin
from strawberry.types import ExecutionResult

from server.http_errors import RequestError, error_response
from server.http_protocol import shutdown_of
from server.rate_limits import ConnectionCounter

TextStream = Callable[[], AsyncGenerator[str, None]]
Encode = Callable[[object], str]


class End(enum.Enum):
    EXPIRED = ("UNAUTHENTICATED", "token expired: reconnect with a fresh token and resume with `after: <cursor>`")
    SHUTDOWN = ("SERVICE_UNAVAILABLE", "server shutting down: reconnect and resume with `after: <cursor>`")

    @property
    def result(self) -> GraphQLHTTPResponse:
        code, message = self.value
        return {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}


def client_address(scope: Scope) -> str:
    return str((scope.get("client") or ("unknown", 0))[0])


async def refused_operation(error: GraphQLError) -> AsyncGenerator[ExecutionResult, None]:
    """A stream's operation refused before it runs: one result with the error, as a stream says it."""
    yield ExecutionResult(data=None, errors=[error])


class StreamGuard:
    def __init__(
        self, connections: ConnectionCounter, *, allowed_origins: Collection[str], leeway: float, encode: Encode
    ) -> None:
        self.connections = connections
        self.allowed_origins = allowed_origins
        self.leeway = leeway
        self.encode = encode
        self.open = 0
        self._transports: tuple[HTTPStreamTransport, ...] = (SSETransport(), MultipartSubscriptionTransport())

    def origin_allowed(self, headers: Mapping[str, str]) -> bool:
        """Strawberry's WebSocket rule: no `Origin` (not a browser) or the same origin passes; else the list."""
        origin = headers.get("origin")
        if (
            origin is None
            or headers.get("sec-fetch-site") == "same-origin"
            or is_same_origin(origin, headers.get("host"))
        ):
            return True
        return "*" in self.allowed_origins or normalize_origin(origin) in self.allowed_origins

    def response(
        self, stream: TextStream, *, headers: Mapping[str, str], status_code: int, expires_at: float | None
    ) -> Response:
        transport = self._transport_for(headers.get("Content-Type", ""))
        at = None if expires_at is None else expires_at + self.leeway
        return _SlotStream(self, stream, transport, expires_at=at, status_code=status_code, headers=headers)

    def _transport_for(self, content_type: str) -> HTTPStreamTransport | None:
        return next((t for t in self._transports if t.headers["Content-Type"] == content_type), None)


class _SlotStream(StreamingResponse):
    """Holds one of its address's connection slots while it streams; without one, a 429."""

    def __init__(
        self,
        guard: StreamGuard,
        stream: TextStream,
        transport: HTTPStreamTransport | None,
        *,
        expires_at: float | None,
        status_code: int,
        headers: Mapping[str, str],
    ) -> None:
        super().__init__(self._ending(), status_code=status_code, headers=headers)  # runs once iterated
        self._guard = guard
        self._stream = stream
        self._transport = transport
        self._expires_at = expires_at
        self._stopping: asyncio.Event | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        address = client_address(scope)
        if not self._guard.connections.acquire(address):
            refusal = error_response(
                RequestError(429, "too many connections from this address", code="RATE_LIMITED"), "application/json"
            )
            await refusal(scope, receive, send)
            return
        self._guard.open += 1
        self._stopping = shutdown_of(scope)
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._guard.open -= 1
            self._guard.connections.release(address)

    async def _ending(self) -> AsyncGenerator[str, None]:
        """The stream until it ends, or until the token expires or the server shuts down: then a
        final error result (and, on expiry, `complete`: the operation is over for this token)."""
        inner = self._stream()
        end = asyncio.ensure_future(_end_of(self._expires_at, self._stopping))
        step: asyncio.Future[str] | None = None
        try:
            while True:
                step = asyncio.ensure_future(anext(inner))
                await asyncio.wait((step, end), return_when=asyncio.FIRST_COMPLETED)
                if not step.done():
                    break
                try:
                    chunk = step.result()
                except StopAsyncIteration:
                    return
                yield chunk
            await _cancelled(step)
            for chunk in self._final(end.result()):
                yield chunk
        finally:
            end.cancel()
            if step is not None:
                await _cancelled(step)
            await inner.aclose()

    def _final(self, end: End) -> list[str]:
        if self._transport is None:
            return []
        final = [self._transport.encode_next(end.result, self._guard.encode)]
        # On shutdown no `complete`: the operation is not over, its stream was cut, so clients reconnect
        # (graphql-sse retries; Apollo reports the premature end), as a WebSocket's 1012 tells them.
        return [*final, self._transport.encode_complete()] if end is End.EXPIRED else final


async def _cancelled(step: asyncio.Future[str]) -> None:
    """Cancels the pending read of the inner stream and waits for it (which ends that stream)."""
    step.cancel()
    await asyncio.wait((step,))
    if not step.cancelled():
        step.exception()  # retrieved: the stream is being ended, whatever it was about to say


async def _end_of(expires_at: float | None, stopping: asyncio.Event | None) -> End:
    timeout = None if expires_at is None else max(0.0, expires_at - time.time())
    waiter: asyncio.Future[Any] = asyncio.ensure_future(stopping.wait()) if stopping else asyncio.Future()
    try:
        await asyncio.wait_for(waiter, timeout)
    except TimeoutError:
        return End.EXPIRED
    return End.SHUTDOWN
