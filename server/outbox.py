"""One connection's outgoing frames: pushed without waiting by the fan-out, written by one task
per connection, and bounded, so a reader that stops reading never holds up anyone else."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

from starlette.websockets import WebSocket


class Outbox:
    def __init__(self, websocket: WebSocket, *, limit: int) -> None:
        self._websocket = websocket
        self._limit = limit  # characters queued, about bytes for JSON
        self._size = 0
        self._frames: deque[str] = deque()
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._writer: asyncio.Task[None] | None = None
        self.closed = False

    def push(self, frame: str) -> bool:
        """Queues a frame; False (and nothing queued) when the reader is too far behind."""
        if self.closed or self._size >= self._limit:
            return False
        self._frames.append(frame)
        self._size += len(frame)
        if self._writer is None:
            self._writer = asyncio.create_task(self._write())
        self._wake.set()
        return True

    def fits(self, size: int) -> bool:
        return not self.closed and self._size + size <= self._limit

    async def room(self) -> None:
        """Waits until a frame may be pushed: for senders that may wait on their reader."""
        while not self.closed and self._size >= self._limit:
            self._room.clear()
            await self._room.wait()

    async def _write(self) -> None:
        try:
            while True:
                while self._frames:
                    frame = self._frames.popleft()
                    self._size -= len(frame)
                    await self._websocket.send_text(frame)
                    if self._size <= self._limit // 2:
                        self._room.set()
                self._wake.clear()
                await self._wake.wait()
        except Exception:  # noqa: BLE001 - the peer went away; the connection's handler cleans up
            self.closed = True
            self._frames.clear()
            self._size = 0
            self._room.set()

    async def close(self) -> None:
        self.closed = True
        self._room.set()
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._writer
