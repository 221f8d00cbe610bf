"""The fast path's reach-ins into uvicorn and websockets (listed in server/live/uvicorn_fast_path.py)
are where it expects them in the pinned versions; when they move, the start-up check says so
and the server runs on uvicorn's own protocol, every frame through ASGI."""

from __future__ import annotations

import asyncio
import logging

import pytest
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets import http11
from websockets.http11 import Request
from websockets.streams import StreamReader

from server.live import uvicorn_fast_path
from server.live.uvicorn_fast_path import (
    PINNED,
    UVICORN_ATTRIBUTES,
    RacewireWebSocketProtocol,
    check,
    installed_versions,
    request_of,
    uvicorn_ws_protocol,
)


async def _app(scope: object, receive: object, send: object) -> None:
    raise AssertionError("never called")


def test_the_pinned_versions_are_the_ones_the_fast_path_was_checked_against() -> None:
    assert installed_versions() == PINNED, (
        "uvicorn or websockets moved: re-read what server/live/uvicorn_fast_path.py relies on "
        "(its docstring), run this file, then update PINNED"
    )


def test_every_internal_the_fast_path_relies_on_is_where_it_expects() -> None:
    assert check() == []


async def test_racewire_protocol_has_every_attribute_uvicorn_s_own_sets() -> None:
    config = Config(_app, ws_per_message_deflate=True)
    config.load()
    state = ServerState()
    theirs = WebSocketsSansIOProtocol(config, state, {}, _loop=asyncio.get_running_loop())
    ours = RacewireWebSocketProtocol(config, state, {})

    assert set(vars(theirs)) == UVICORN_ATTRIBUTES
    missing = [name for name in UVICORN_ATTRIBUTES if not hasattr(ours, name)]
    assert missing == []
    assert {name: type(getattr(ours, name)) for name in ("conn", "transport", "close_sent")} == {
        name: type(getattr(theirs, name)) for name in ("conn", "transport", "close_sent")
    }


def test_when_uvicorn_moves_an_internal_the_fast_path_is_off_with_one_log_line(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(uvicorn_fast_path, "UVICORN_ATTRIBUTES", UVICORN_ATTRIBUTES - {"writable"})
    with caplog.at_level(logging.WARNING, logger=uvicorn_fast_path.__name__):
        chosen = uvicorn_ws_protocol()

    assert chosen == "websockets-sansio"
    lines = [r.getMessage() for r in caplog.records if r.name == uvicorn_fast_path.__name__]
    assert len(lines) == 1 and "fast path is off" in lines[0] and "writable" in lines[0]


def test_with_everything_in_place_uvicorn_runs_racewire_s_protocol(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=uvicorn_fast_path.__name__):
        assert uvicorn_ws_protocol() is RacewireWebSocketProtocol
    assert [r for r in caplog.records if r.name == uvicorn_fast_path.__name__] == []


def test_when_uvicorn_stops_pausing_reading_by_read_paused_the_check_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """The connect-phase cut (reading left on while the app waits) leans on uvicorn pausing and
    resuming reading by `read_paused`: a receive() that resumes some other way must be reported."""

    async def receive(self: WebSocketsSansIOProtocol) -> object:
        self.transport.resume_reading()
        return await self.queue.get()

    monkeypatch.setattr(WebSocketsSansIOProtocol, "receive", receive)
    problems = check()

    assert problems == ["uvicorn's WebSocketsSansIOProtocol.receive() no longer calls resume_reading by `read_paused`"]


def test_when_uvicorn_hands_a_websocket_over_otherwise_the_check_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """upgrade() does what uvicorn's handle_websocket_upgrade does, from the parsed request: when
    that method no longer reads what upgrade() reads, the fast path must be off."""

    def handle_websocket_upgrade(self: HttpToolsProtocol) -> None:
        raise NotImplementedError

    monkeypatch.setattr(HttpToolsProtocol, "handle_websocket_upgrade", handle_websocket_upgrade)
    problems = check()

    assert len(problems) == 1 and "handle_websocket_upgrade() no longer uses" in problems[0]


HANDSHAKE = [
    (b"host", b"127.0.0.1:8000"),
    (b"upgrade", b"websocket"),
    (b"connection", b"Upgrade"),
    (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
    (b"sec-websocket-version", b"13"),
    (b"sec-websocket-protocol", b"graphql-transport-ws"),
    (b"sec-websocket-extensions", b"permessage-deflate; client_max_window_bits"),
    (b"user-agent", b"caf\xe9 client/1.0"),  # obs-text: websockets reads it as ISO-8859-1
    (b"content-length", b"0"),
]


def parsed_by_websockets(method: str, target: bytes, headers: list[tuple[bytes, bytes]]) -> Request:
    """What websockets' own parser makes of the bytes uvicorn writes the parsed request back as."""
    raw = method.encode() + b" " + target + b" HTTP/1.1\r\n"
    raw += b"".join(name + b": " + value + b"\r\n" for name, value in headers) + b"\r\n"
    reader = StreamReader()
    reader.feed_data(raw)
    parser = Request.parse(reader.read_line)
    with pytest.raises(StopIteration) as done:
        next(parser)
    request: Request = done.value.value
    return request


def test_the_request_built_from_httptools_parse_is_the_one_websockets_would_parse() -> None:
    for target in (b"/graphql", b"/graphql?token=a%20b&x=1"):
        ours = request_of("GET", target, HANDSHAKE)
        theirs = parsed_by_websockets("GET", target, HANDSHAKE)

        assert ours is not None
        assert (ours.method, ours.path, ours.protocol) == (theirs.method, theirs.path, theirs.protocol)
        assert list(ours.headers.raw_items()) == list(theirs.headers.raw_items())


@pytest.mark.parametrize(
    ("method", "target", "extra"),
    [
        ("POST", b"/graphql", []),
        ("GET", b"/graphql/\xc3\xa9", []),
        ("GET", b"/graphql", [(b"transfer-encoding", b"chunked")]),
        ("GET", b"/graphql", [(b"content-length", b"12")]),
        ("GET", b"/graphql", [(b"x-bad", b"a\x00b")]),
        ("GET", b"/graphql", [(b"bad name", b"x")]),
        ("GET", b"/graphql", [(b"x-long", b"x" * 9000)]),
        ("GET", b"/graphql", [(b"x-h%d" % n, b"1") for n in range(130)]),
    ],
)
def test_a_request_websockets_might_refuse_is_left_to_websockets(
    method: str, target: bytes, extra: list[tuple[bytes, bytes]]
) -> None:
    assert request_of(method, target, HANDSHAKE + extra) is None


def test_when_websockets_drops_its_header_limits_the_check_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(http11, "MAX_LINE_LENGTH")

    assert check() == ["websockets.http11 no longer has its header limits"]
