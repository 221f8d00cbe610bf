"""Frames written straight to the socket: framed as websockets frames them, offered only on an
open, writable connection whose compression (if any) keeps no context, and in order with everything sent through ASGI."""

from __future__ import annotations

import asyncio
import gc
import json
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Frame, Opcode
from websockets.http11 import Request

from in_process import serving
from server.live.frames import TextMessage, text_frame
from server.live.outbox import Outbox
from server.live.uvicorn_fast_path import Writable, frame_kind, write_frame_of


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70000])
def test_a_text_frame_is_what_websockets_would_send(size: int) -> None:
    data = ("é" * size).encode()[:size]
    assert text_frame(data) == Frame(Opcode.TEXT, data).serialize(mask=False, extensions=[])


class Scripted:
    """An ASGI app that sends what the test asks, some frames direct and some through ASGI,
    and records what `write_frame` answered."""

    def __init__(self) -> None:
        self.answers: list[bool] = []
        self.script: list[tuple[str, str]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "websocket"
        await receive()
        await send({"type": "websocket.accept"})
        write_frame = write_frame_of(scope)
        assert write_frame is not None
        for how, text in self.script:
            if how == "direct":
                self.answers.append(write_frame(TextMessage(text.encode())))
            elif how == "asgi":
                await send({"type": "websocket.send", "text": text})
            else:
                await send({"type": "websocket.close", "code": 4000})
                self.answers.append(write_frame(TextMessage(text.encode())))
        while (await receive())["type"] != "websocket.disconnect":
            pass


async def test_direct_frames_and_asgi_messages_arrive_in_the_order_they_were_sent() -> None:
    app = Scripted()
    app.script = [
        ("asgi", "a"),
        ("direct", "b"),
        ("direct", "c" * 200),
        ("asgi", "d"),
        ("direct", "e"),
        ("close", "after close"),
    ]
    async with serving(app, deflate=False) as port, connect(f"ws://127.0.0.1:{port}/", compression=None) as ws:
        received = [await ws.recv() for _ in range(5)]
        with pytest.raises(Exception):  # noqa: B017 - closed, whichever way websockets says it
            await ws.recv()

    assert received == ["a", "b", "c" * 200, "d", "e"]
    assert app.answers == [True, True, True, False]
    assert ws.close_code == 4000


async def test_direct_frames_on_a_compressed_connection_are_compressed_on_their_own() -> None:
    app = Scripted()
    app.script = [("direct", "direct " * 50), ("asgi", "through asgi"), ("direct", "again " * 50)]
    async with serving(app, deflate=True) as port, connect(f"ws://127.0.0.1:{port}/") as ws:
        assert "server_no_context_takeover" in ws.response.headers["Sec-WebSocket-Extensions"]
        assert [await ws.recv() for _ in range(3)] == ["direct " * 50, "through asgi", "again " * 50]

    assert app.answers == [True, True]


def test_a_connection_whose_compression_keeps_context_gets_no_shared_frames() -> None:
    assert frame_kind([]) == 0
    assert frame_kind([PerMessageDeflate(True, True, 15, 10)]) == 10
    assert frame_kind([PerMessageDeflate(True, False, 15, 12)]) is None


class FakeWebSocket:
    """A Starlette WebSocket as the outbox sees it: a scope, and a send that may have to wait."""

    def __init__(self) -> None:
        self.wire: list[str] = []
        self.direct = True
        self.blocked: asyncio.Future[None] | None = None
        self.scope = {"extensions": {"racewire.write_frame": self._write_frame}}

    def _write_frame(self, message: TextMessage) -> bool:
        if self.direct:
            self.wire.append("direct:" + message.frame(0)[2:].decode())
        return self.direct

    async def send_text(self, text: str) -> None:
        if self.blocked is not None:
            await self.blocked
        self.wire.append("asgi:" + text)


async def test_the_outbox_writes_direct_only_when_nothing_waits_before_the_frame() -> None:
    websocket = FakeWebSocket()
    outbox = Outbox(websocket, limit=1_000)  # type: ignore[arg-type]  # a stand-in for Starlette's WebSocket: scope and send_text are all Outbox uses
    outbox.push("1")
    websocket.direct = False  # the socket is full: the send through ASGI has to wait
    websocket.blocked = asyncio.get_running_loop().create_future()
    outbox.push("2")
    websocket.direct = True  # room again, but "2" has not gone yet: "3" must queue behind it
    outbox.push("3", framed=TextMessage(b"3"))
    outbox.push(json.dumps({"type": "complete"}))
    assert websocket.wire == ["direct:1"]
    websocket.blocked.set_result(None)
    websocket.blocked = None
    for _ in range(10):
        await asyncio.sleep(0)
    outbox.push("4")

    assert websocket.wire == ["direct:1", "asgi:2", "asgi:3", 'asgi:{"type": "complete"}', "direct:4"]
    await outbox.close()


async def test_writable_lets_waiters_through_only_once_set() -> None:
    writable = Writable()
    assert writable.is_set() and await writable.wait()
    writable.clear()
    waiters = [asyncio.create_task(writable.wait()) for _ in range(2)]
    gone = asyncio.create_task(writable.wait())
    await asyncio.sleep(0)
    gone.cancel()
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    writable.set()

    assert await asyncio.gather(*waiters) == [True, True]
    assert gone.cancelled()


class Echo:
    """An ASGI app that accepts, notes which handshake requests are still alive, then echoes."""

    def __init__(self) -> None:
        self.requests_alive: list[Request] | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        gc.collect()
        self.requests_alive = [obj for obj in gc.get_objects() if isinstance(obj, Request) and obj.path == "/marked"]
        while (message := await receive())["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": message["text"]})


async def test_the_handshake_request_is_let_go_once_accepted_and_frames_still_parse() -> None:
    app = Echo()
    async with serving(app, deflate=False) as port:
        url = f"ws://127.0.0.1:{port}/"
        host, port = url.removeprefix("ws://").rstrip("/").split(":")
        # A bare socket, not a websockets client: it would hold a Request of its own.
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            b"GET /marked HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        status = await reader.readuntil(b"\r\n\r\n")
        writer.write(Frame(Opcode.TEXT, b"still parsed").serialize(mask=True, extensions=[]))
        echoed = await reader.readexactly(2 + len(b"still parsed"))
        writer.close()

    assert status.startswith(b"HTTP/1.1 101")
    assert app.requests_alive == []
    assert echoed == text_frame(b"still parsed")
