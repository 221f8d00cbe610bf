"""Compressed connections on the fast path: permessage-deflate is negotiated without context
takeover, and a group's `next` frame is compressed once per event per window size, the same
bytes written to every member that negotiated it."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import struct
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.frames import Frame, Opcode

import server.live.frames as live_frames
from in_process import serving
from live_server import ODDS, SECRET, GraphQLWs, ServerProcess, store, wait_subscribed
from server.live.frames import TextMessage
from server.live.uvicorn_fast_path import write_frame_of

EVENTS = 30


@pytest.fixture
def race(served_race: dict[str, Any]) -> dict[str, Any]:
    """The race the live server serves (tests/fixtures/live.py), not the suite's race in the test database."""
    return served_race


@pytest.fixture
def server(database_url: str) -> Iterator[ServerProcess]:
    process = ServerProcess({"RACEWIRE_DATABASE_URL": database_url, "RACEWIRE_JWT_SECRET": SECRET}).start()
    yield process
    process.stop()


class RawClient:
    """A graphql-transport-ws client on a bare socket, offering the permessage-deflate parameters
    it is given, that keeps every frame it receives as it came off the wire."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, extensions: str) -> None:
        self.reader = reader
        self.writer = writer
        self.extensions = extensions
        params = dict(p.strip().partition("=")[::2] for p in extensions.split(";")[1:])
        self.window_bits = int(params.get("server_max_window_bits") or 15)

    @classmethod
    async def open(cls, port: int, offer: str) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Sec-WebSocket-Protocol: graphql-transport-ws\r\nSec-WebSocket-Extensions: {offer}\r\n\r\n"
            ).encode()
        )
        head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)).decode()
        assert head.startswith("HTTP/1.1 101"), head
        extensions = next(
            line.split(":", 1)[1].strip()
            for line in head.split("\r\n")
            if line.lower().startswith("sec-websocket-extensions:")
        )
        client = cls(reader, writer, extensions)
        await client.send({"type": "connection_init", "payload": {}})
        assert (await client.receive())[1]["type"] == "connection_ack"
        return client

    async def send(self, message: dict[str, Any]) -> None:
        frame = Frame(Opcode.TEXT, json.dumps(message).encode())
        self.writer.write(frame.serialize(mask=True, extensions=[]))
        await self.writer.drain()

    async def receive(self) -> tuple[bytes, dict[str, Any]]:
        """The next text frame, as sent and as decoded; pings from the server are skipped."""
        while True:
            head = await asyncio.wait_for(self.reader.readexactly(2), 10)
            size = head[1] & 0x7F
            extended = b""
            if size == 126:
                extended = await self.reader.readexactly(2)
                size = struct.unpack("!H", extended)[0]
            elif size == 127:
                extended = await self.reader.readexactly(8)
                size = struct.unpack("!Q", extended)[0]
            payload = await self.reader.readexactly(size)
            opcode = head[0] & 0x0F
            if opcode != Opcode.TEXT.value:
                assert opcode == Opcode.PING.value, head
                continue
            assert head[0] & 0x80, "a final frame"
            data = payload
            if head[0] & 0x40:  # RSV1: compressed, on its own (no context between messages)
                data = zlib.decompressobj(-self.window_bits).decompress(payload + b"\x00\x00\xff\xff")
            message = json.loads(data)
            if message["type"] == "ping":
                await self.send({"type": "pong"})
                continue
            return head + extended + payload, message

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


async def test_compressed_subscribers_of_a_group_get_every_update_in_order_sharing_the_frames(
    server: ServerProcess, race: dict[str, Any]
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=5)
    browser_like = [await GraphQLWs.open(server.ws) for _ in range(3)]  # websockets offers deflate
    narrow = [await RawClient.open(server.port, "permessage-deflate; server_max_window_bits=10") for _ in range(2)]
    default = [await RawClient.open(server.port, "permessage-deflate; client_max_window_bits") for _ in range(2)]
    plain = GraphQLWs(await _uncompressed(server))
    for client in (*browser_like, plain):
        await client.subscribe("1", ODDS, ids=[race["id"]])
    for raw in (*narrow, *default):
        await raw.send({"id": "1", "type": "subscribe", "payload": {"query": ODDS, "variables": {"ids": [race["id"]]}}})
    await wait_subscribed(server, 8)

    expected = [2.0 + n / 100 for n in range(EVENTS)]
    for n, price in enumerate(expected):
        await store(server, race, price, at=start + timedelta(seconds=n))

    negotiated = {c.connection.response.headers.get("Sec-WebSocket-Extensions") for c in browser_like}
    assert len(negotiated) == 1
    [extensions] = negotiated
    assert extensions is not None
    assert "server_no_context_takeover" in extensions and "client_no_context_takeover" in extensions
    assert plain.connection.response.headers.get("Sec-WebSocket-Extensions") is None
    for raw in (*narrow, *default):
        assert "server_no_context_takeover" in raw.extensions and "client_no_context_takeover" in raw.extensions
    assert narrow[0].window_bits == 10 and default[0].window_bits == 12

    for client in (*browser_like, plain):
        updates = [(await client.next("1"))["oddsUpdated"] for _ in range(EVENTS)]
        assert [u["seq"] for u in updates] == list(range(1, EVENTS + 1))
        assert [u["prices"][0]["decimal"] for u in updates] == expected
    wires: dict[int, list[list[bytes]]] = {}
    for raw in (*narrow, *default):
        received = [await raw.receive() for _ in range(EVENTS)]
        assert all(message["type"] == "next" and message["id"] == "1" for _, message in received)
        updates = [message["payload"]["data"]["oddsUpdated"] for _, message in received]
        assert [u["seq"] for u in updates] == list(range(1, EVENTS + 1))
        assert [u["prices"][0]["decimal"] for u in updates] == expected
        assert all(frame[0] == 0xC1 for frame, _ in received), "final text frames with RSV1 set"
        wires.setdefault(raw.window_bits, []).append([frame for frame, _ in received])
    # Members with the same parameters got the same bytes (a message this short compresses alike
    # in either window, so that it decodes at 10 bits is what tells the two sets apart).
    assert wires[10][0] == wires[10][1] and wires[12][0] == wires[12][1]

    for client in (*browser_like, plain):
        await client.close()
    for raw in (*narrow, *default):
        await raw.close()


async def _uncompressed(server: ServerProcess) -> ClientConnection:
    """A graphql-transport-ws connection that offers no compression, acknowledged."""
    connection = await connect(server.ws, subprotocols=["graphql-transport-ws"], compression=None, open_timeout=5)
    await connection.send(json.dumps({"type": "connection_init", "payload": {}}))
    assert json.loads(await asyncio.wait_for(connection.recv(), 10))["type"] == "connection_ack"
    return connection


class SharedMessage:
    """An ASGI app that writes one TextMessage, made once, to every connection that comes."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.message = TextMessage(text.encode())

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        write_frame = write_frame_of(scope)
        assert write_frame is not None and write_frame(self.message)
        while (await receive())["type"] != "websocket.disconnect":
            pass


async def test_a_message_is_compressed_once_per_window_size_whatever_the_connections(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compressed: list[int] = []
    deflate: Callable[[bytes, int], bytes] = live_frames.deflated_text_frame

    def counted(data: bytes, window_bits: int) -> bytes:
        compressed.append(window_bits)
        return deflate(data, window_bits)

    monkeypatch.setattr(live_frames, "deflated_text_frame", counted)
    app = SharedMessage(json.dumps({"type": "next", "payload": {"odds": [2.5] * 100}}))
    async with serving(app, deflate=True) as port:
        clients = [
            await _raw_accepted(port, offer)
            for offer in ["permessage-deflate"] * 3 + ["permessage-deflate; server_max_window_bits=10"] * 2
        ]
        frames = [await _read_frame(reader) for reader, _ in clients]
        for _, writer in clients:
            writer.close()

    assert sorted(compressed) == [10, 12]
    assert frames[0] == frames[1] == frames[2] and frames[3] == frames[4]
    assert zlib.decompressobj(-12).decompress(frames[0][2:] + b"\x00\x00\xff\xff").decode() == app.text
    assert zlib.decompressobj(-10).decompress(frames[3][2:] + b"\x00\x00\xff\xff").decode() == app.text


async def _raw_accepted(port: int, offer: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Extensions: {offer}\r\n\r\n"
        ).encode()
    )
    head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)).decode()
    assert head.startswith("HTTP/1.1 101") and "server_no_context_takeover" in head, head
    return reader, writer


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    head = await asyncio.wait_for(reader.readexactly(2), 10)
    assert head[0] == 0xC1 and head[1] < 126, head  # compressed final text, short
    return head + await reader.readexactly(head[1])
