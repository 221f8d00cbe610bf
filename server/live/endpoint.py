"""The WebSocket endpoint: the handshake (origin, subprotocol), then one LiveConnection for
graphql-transport-ws. The legacy graphql-ws, when a deployment offers it, is left to Strawberry's
own view and handler, as shipped, behind the same message rate limit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL

from schema.context import Context
from server.live import messages
from server.live.connection import LiveConnection, LiveSettings
from server.rate_limits import TokenBucket


class LiveEndpoint:
    def __init__(
        self,
        live: LiveSettings,
        *,
        subprotocols: list[str],
        origin_allowed: Callable[[Mapping[str, str]], bool],
        context_for: Callable[[WebSocket], Awaitable[Context]],
        legacy: ASGIApp | None,
    ) -> None:
        self.live = live
        self.subprotocols = subprotocols
        self._origin_allowed = origin_allowed
        self._context_for = context_for
        self._legacy = legacy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive=receive, send=send)
        if not self._origin_allowed(websocket.headers):
            await websocket.close(code=1008)  # before accepting: the server answers the handshake with 403
            return
        offered = scope.get("subprotocols") or []
        subprotocol = next((p for p in offered if p in self.subprotocols), None)
        if subprotocol == GRAPHQL_WS_PROTOCOL and self._legacy is not None:
            await self._legacy(scope, self._limited(receive, send), send)
            return
        await websocket.accept(subprotocol=subprotocol)
        if subprotocol != GRAPHQL_TRANSPORT_WS_PROTOCOL:
            await websocket.close(code=messages.SUBPROTOCOL_CLOSE, reason="Subprotocol not acceptable")
            return
        connection = LiveConnection(self.live, websocket, await self._context_for(websocket))
        await connection.run()

    def _limited(self, receive: Receive, send: Send) -> Receive:
        """The legacy protocol's receive, closing with 4429 past the message rate."""
        bucket = TokenBucket(self.live.messages_per_second, self.live.message_burst)

        async def limited() -> Message:
            message = await receive()
            if message["type"] == "websocket.receive" and bucket.take() > 0:
                await send({"type": "websocket.close", "code": messages.TOO_MANY_CLOSE, "reason": "Too many messages"})
                return {"type": "websocket.disconnect", "code": messages.TOO_MANY_CLOSE}
            return message

        return limited


async def refuse(scope: Scope, receive: Receive, send: Send, *, code: int, reason: str) -> None:
    """Accepts only to close with a code the client can read (a refused handshake says only 403)."""
    websocket = WebSocket(scope, receive, send)
    offered = scope.get("subprotocols") or []
    await websocket.accept(
        subprotocol=GRAPHQL_TRANSPORT_WS_PROTOCOL if GRAPHQL_TRANSPORT_WS_PROTOCOL in offered else None
    )
    await websocket.close(code=code, reason=reason)
