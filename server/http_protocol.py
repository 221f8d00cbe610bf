"""uvicorn's httptools protocol, telling the app when the server begins to shut down.

On SIGTERM uvicorn stops accepting and waits for every response to complete, but a stream
(graphql-sse, multipart subscriptions) never completes on its own: it would hold the shutdown for
the whole grace period and then be cut off without a word. The protocol offers the app an
`asyncio.Event`, set when the server asks the connection to shut down, as an ASGI scope extension
(the spec's place for server-specific features); a stream ends on it (see `streams_guard`)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from server.live.uvicorn_fast_path import upgrade

SHUTDOWN = "racewire.shutdown"


def shutdown_of(scope: Mapping[str, Any]) -> asyncio.Event | None:
    """The event set when the server shuts down; None under a server that does not offer it."""
    extensions = scope.get("extensions") or {}
    event = extensions.get(SHUTDOWN)
    return event if isinstance(event, asyncio.Event) else None


class RacewireHttpProtocol(HttpToolsProtocol):
    # uvicorn's own signature is narrower than asyncio.Protocol's (a Transport, not a BaseTransport).
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.stopping = asyncio.Event()
        super().connection_made(transport)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        # asgiref's types make every extension's value a dict; Racewire's own is an asyncio.Event.
        self.scope.setdefault("extensions", {})[SHUTDOWN] = self.stopping  # type: ignore[assignment]

    def handle_websocket_upgrade(self) -> None:
        if not upgrade(self):  # Racewire's WebSocket protocol takes the parsed request as it is
            super().handle_websocket_upgrade()

    def shutdown(self) -> None:
        self.stopping.set()
        super().shutdown()
