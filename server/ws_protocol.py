"""uvicorn's sans-I/O WebSocket protocol, lighter per connection, and able to take ready-made
frames: the fan-out frames an event once and writes the same bytes to every connection.

The protocol offers `write_frame` to the app as an ASGI extension in the scope (the ASGI spec's
place for server-specific features). It writes only when nothing else can be in the way: the
connection open, the socket taking data, and no permessage-deflate (a frame made once cannot
carry one connection's compression state). Otherwise it says no and the caller sends through
ASGI. Ordering with the connection's other messages is the caller's part (see Outbox)."""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request

if TYPE_CHECKING:
    from uvicorn._types import ASGIReceiveEvent, ASGISendEvent

WRITE_FRAME = "racewire.write_frame"
LOGGER = "racewire.websocket"
WriteFrame = Callable[[bytes], bool]


def text_frame(data: bytes) -> bytes:
    """One unmasked, final text frame, as a server sends it (RFC 6455 section 5.2)."""
    size = len(data)
    if size < 126:
        return struct.pack("!BB", 0x81, size) + data
    if size < 1 << 16:
        return struct.pack("!BBH", 0x81, 126, size) + data
    return struct.pack("!BBQ", 0x81, 127, size) + data


def write_frame_of(scope: Any) -> WriteFrame | None:
    extensions = scope.get("extensions") or {}
    return extensions.get(WRITE_FRAME)


class Inbox:
    """What the protocol asks of its asyncio.Queue, for its one reader, without a Queue's three
    deques and futures per connection."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[ASGIReceiveEvent] = []
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: ASGIReceiveEvent) -> None:
        self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def get(self) -> ASGIReceiveEvent:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.pop(0)

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)


class Writable:
    """The protocol's `writable` asyncio.Event (set, clear, is_set, wait), making its list of
    waiters only when someone waits: the socket is nearly always writable."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = True
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> bool:
        while not self._set:
            waiter = asyncio.get_running_loop().create_future()
            if self._waiters is None:
                self._waiters = []
            self._waiters.append(waiter)
            await waiter
        return True


class RacewireWebSocketProtocol(WebSocketsSansIOProtocol):
    _plain = False  # accepted, and without permessage-deflate

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Its own logger: the handshake's access line is INFO, and below the level set for this
        # logger when the access log is off, it is not even made (see logging_config).
        self.logger = logging.getLogger(LOGGER)
        self.queue = Inbox()  # type: ignore[assignment]
        self.writable = Writable()  # type: ignore[assignment]

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        if not self.close_sent:  # the handshake goes on to the app
            self.scope["extensions"][WRITE_FRAME] = self.write_frame  # type: ignore[index]

    async def send(self, message: ASGISendEvent) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept":
            # websockets' parser keeps the handshake request as a local of its generator for the
            # life of the connection: its headers are copied into the scope, and read no more.
            self.request.headers.clear()
            self.request = self.response = None  # type: ignore[assignment] - only the handshake reads them
            self._plain = self.handshake_complete and not self.conn.extensions

    def write_frame(self, frame: bytes) -> bool:
        # A close sent or received closes the transport (or sets close_sent) at once.
        if not self._plain or self.close_sent or not self.writable.is_set() or self.transport.is_closing():
            return False
        self.transport.write(frame)
        return True
