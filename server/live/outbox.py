"""One connection's outgoing frames: pushed without waiting by the fan-out and the connection,
and bounded, so a reader that stops reading never holds up anyone else.

A frame is written at once, straight to the socket, when the server offers that (see
uvicorn_fast_path) and nothing is queued before it: the fan-out's frames are framed once per
event, not once per connection, and skip the ASGI plumbing. Otherwise it is queued, and one
writer task (made when the queue fills from empty, gone when it is drained) sends the queue
through ASGI in order; while it has any, every frame queues behind them: the order stays the
order of push."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

from starlette.websockets import WebSocket

from server.live.frames import TextMessage
from server.live.uvicorn_fast_path import write_frame_of


class Outbox:
    __slots__ = ("_frames", "_limit", "_room", "_size", "_websocket", "_write_frame", "_writer", "closed")

    def __init__(self, websocket: WebSocket, *, limit: int) -> None:
        self._websocket = websocket
        self._write_frame = write_frame_of(websocket.scope)
        self._limit = limit  # characters queued, about bytes for JSON
        self._size = 0
        self._frames: deque[str] | None = None  # made with the writer: most connections never need one
        self._room: asyncio.Event | None = None
        self._writer: asyncio.Task[None] | None = None
        self.closed = False

    def push(self, frame: str, framed: TextMessage | None = None, *, always: bool = False) -> bool:
        """Sends or queues a frame (`framed`: the same as a TextMessage shared with other
        connections, when the caller has one); False (nothing queued) when the reader is too far
        behind, unless `always` (a control frame, small and rare)."""
        if self._writer is None:  # nothing queued (so nothing counted in _size): the fan-out's usual case
            if self.closed:
                return False
            if self._write_frame is not None and self._write_frame(framed or TextMessage(frame.encode())):
                return True
            self._frames = deque()
            self._writer = asyncio.create_task(self._write())
        elif self.closed or (self._size >= self._limit and not always):
            return False
        assert self._frames is not None
        self._frames.append(frame)
        self._size += len(frame)
        return True

    def fits(self, size: int) -> bool:
        return not self.closed and self._size + size <= self._limit

    async def room(self) -> None:
        """Waits until a frame may be pushed: for senders that may wait on their reader."""
        while not self.closed and self._size >= self._limit:
            if self._room is None:
                self._room = asyncio.Event()
            self._room.clear()
            await self._room.wait()

    async def _write(self) -> None:
        try:
            while self._frames:
                frame = self._frames.popleft()
                self._size -= len(frame)
                if self._size <= self._limit // 2:
                    self._make_room()
                await self._websocket.send_text(frame)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the peer went away; the connection's handler cleans up
            self._fail()
        finally:
            self._writer = None
            self._frames = None
            self._size = 0
            self._make_room()

    def _make_room(self) -> None:
        if self._room is not None:
            self._room.set()

    def _fail(self) -> None:
        self.closed = True
        self._frames = None
        self._size = 0
        self._make_room()

    async def drain(self) -> None:
        """Waits until every queued frame is sent (before a close frame, so it goes last)."""
        writer = self._writer
        if writer is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.shield(writer)

    async def close(self) -> None:
        self.closed = True
        self._make_room()
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._writer
