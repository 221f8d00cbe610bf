"""One connection's outgoing frames: pushed without waiting by the fan-out, and bounded, so a
reader that stops reading never holds up anyone else.

A frame is written at once when the connection is idle, and then straight to the socket when the
server offers it (see ws_protocol): the fan-out's frames are framed once per event, not once per
connection, and skip the ASGI plumbing. Otherwise the ASGI send completes without suspending
while the socket takes data, so no task is woken per frame per connection. Only a send that does
suspend (the socket is full) leaves the frames after it to a writer task, and while it has any,
every frame queues behind them: the order stays the order of push."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Coroutine
from typing import Any

from starlette.websockets import WebSocket

from server.ws_protocol import TextMessage, write_frame_of


class Outbox:
    def __init__(self, websocket: WebSocket, *, limit: int) -> None:
        self._websocket = websocket
        self._write_frame = write_frame_of(websocket.scope)
        self._limit = limit  # characters queued, about bytes for JSON
        self._size = 0
        self._frames: deque[str] | None = None  # made with the writer: most connections never need one
        self._room: asyncio.Event | None = None
        self._writer: asyncio.Task[None] | None = None
        self.closed = False

    def push(self, frame: str, *, framed: TextMessage | None = None, always: bool = False) -> bool:
        """Sends or queues a frame (`framed`: the same as a TextMessage shared with other
        connections, when the caller has one); False (nothing queued) when the reader is too far behind, unless `always` (a control
        frame, small and rare)."""
        if self.closed or (self._size >= self._limit and not always):
            return False
        if self._writer is None:
            if self._write_frame is not None and self._write_frame(framed or TextMessage(frame.encode())):
                return True
            suspended = self._send_now(frame)
            if suspended is not None:
                self._frames = deque()
                self._writer = asyncio.create_task(self._write(suspended))
            return True
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

    def _send_now(self, frame: str) -> tuple[Coroutine[Any, Any, None], Any] | None:
        """Runs the send until it completes, or returns it with what it waits on."""
        send = self._websocket.send_text(frame)
        try:
            waiting_on = send.send(None)
        except StopIteration:
            return None
        except Exception:  # noqa: BLE001 - the peer went away; the connection's handler cleans up
            self._fail()
            return None
        return send, waiting_on

    async def _write(self, suspended: tuple[Coroutine[Any, Any, None], Any]) -> None:
        send, waiting_on = suspended
        try:
            await _finish(send, waiting_on)
            while self._frames:
                frame = self._frames.popleft()
                self._size -= len(frame)
                if self._size <= self._limit // 2:
                    self._make_room()
                await self._websocket.send_text(frame)
        except asyncio.CancelledError:
            send.close()
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

    async def close(self) -> None:
        self.closed = True
        self._make_room()
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._writer


async def _finish(send: Coroutine[Any, Any, None], waiting_on: Any) -> None:
    """Drives a started coroutine to its end, as a task would have: resume it once the future
    it waits on is done (the future itself hands the coroutine its result or error)."""
    loop = asyncio.get_running_loop()
    while True:
        if isinstance(waiting_on, asyncio.Future):
            waiting_on._asyncio_future_blocking = False  # noqa: SLF001 - what Task does on a yield
            wake = loop.create_future()
            waiting_on.add_done_callback(lambda _: wake.done() or wake.set_result(None))
            try:
                await wake
            except asyncio.CancelledError:
                waiting_on.cancel()
                raise
        else:
            await asyncio.sleep(0)  # a bare yield
        try:
            waiting_on = send.send(None)
        except StopIteration:
            return
