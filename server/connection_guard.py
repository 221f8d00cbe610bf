"""What guards one WebSocket connection beside the protocol handler: the message rate, persisted
queries in `subscribe` payloads, the token's expiry, and refusing a connection over the limit."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from json import JSONDecodeError
from typing import Any

from graphql import GraphQLError
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import NonJsonMessageReceived, NonTextMessageReceived
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from schema.context import Context
from server.rate_limits import TokenBucket
from server.ws_messages import INVALID_MESSAGE_CLOSE, problem_with

CONTEXT_KEY = "racewire.context"
FORBIDDEN_CLOSE = 4403
TOO_MANY_CLOSE = 4429


@dataclass
class ConnectionContext(Context):
    # Set for a WebSocket connection: the socket, when its token expires, and the timer closing it then.
    websocket: WebSocket | None = None
    expires_at: float | None = None
    expiry: asyncio.Task[None] | None = None


async def close_at_expiry(context: ConnectionContext, at: float) -> None:
    await asyncio.sleep(max(0.0, at - time.time()))
    if context.websocket is not None:
        with contextlib.suppress(Exception):  # already closed by the peer
            await context.websocket.close(code=FORBIDDEN_CLOSE, reason="Token expired")


async def refuse(scope: Scope, receive: Receive, send: Send, *, code: int, reason: str) -> None:
    """Accepts only to close with a code the client can read (a refused handshake says only 403)."""
    websocket = WebSocket(scope, receive, send)
    offered = [p.strip() for p in websocket.headers.get("sec-websocket-protocol", "").split(",")]
    await websocket.accept(subprotocol=GRAPHQL_TRANSPORT_WS_PROTOCOL if GRAPHQL_TRANSPORT_WS_PROTOCOL in offered else None)
    await websocket.close(code=code, reason=reason)


class GuardedWebSocket(ASGIWebSocketAdapter):
    def __init__(self, view: Any, request: WebSocket, response: WebSocket) -> None:
        super().__init__(view, request, response)
        self._bucket = TokenBucket(view.settings.ws_messages_per_second, view.settings.ws_message_burst)
        self._acknowledged = False

    async def iter_json(self, *, ignore_parsing_errors: bool = False) -> AsyncGenerator[object, None]:
        # Strawberry's own loop, inlined rather than wrapped: its generator, and the text of the
        # last message it keeps, would stay alive as long as an idle connection waits (~0.6 KB).
        try:
            while self.ws.application_state != WebSocketState.DISCONNECTED:
                try:
                    message = self.view.decode_json(await self.ws.receive_text())
                except JSONDecodeError as error:
                    if not ignore_parsing_errors:
                        raise NonJsonMessageReceived from error
                    continue
                if self._bucket.take() > 0:
                    await self.close(TOO_MANY_CLOSE, "Too many messages")
                    return
                if (problem := problem_with(message)) is not None:
                    await self.close(INVALID_MESSAGE_CLOSE, problem)
                    return
                message = await self._with_persisted_query(message)
                if message is not None:
                    yield message
                del message  # not kept while the connection idles until the next one
        except KeyError as error:
            raise NonTextMessageReceived from error
        except WebSocketDisconnect:
            pass

    async def send_json(self, message: Any) -> None:
        if isinstance(message, dict) and message.get("type") == "connection_ack":
            self._acknowledged = True
        await super().send_json(message)

    async def _with_persisted_query(self, message: object) -> object | None:
        """The message with its persisted query filled in; None once refused with an `error` message.
        Before the ack it is left to the handler, which closes the connection (4401)."""
        if not (self._acknowledged and isinstance(message, dict) and message.get("type") in ("subscribe", "start")):
            return message
        payload = message.get("payload")
        if not isinstance(payload, dict):
            return message
        extensions = payload.get("extensions")
        query = payload.get("query")
        if not isinstance(extensions, (dict, type(None))) or not isinstance(query, (str, type(None))):
            return message
        try:
            resolved = self.view.persisted.resolve(query, extensions)
        except GraphQLError as error:
            await self.send_json({"id": message.get("id"), "type": "error", "payload": [error.formatted]})
            return None
        if resolved is query:
            return message  # not a copy: the handler keeps the last message while the connection idles
        return {**message, "payload": {**payload, "query": resolved}}
