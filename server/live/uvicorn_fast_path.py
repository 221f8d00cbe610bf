"""The fast path, optional: uvicorn's sans-I/O WebSocket protocol, lighter per connection, and
able to write ready-made frames (see frames) straight to the socket: the fan-out frames an event
once and writes the same bytes to every connection that takes them.

The protocol offers `write_frame` to the app as an ASGI extension in the scope (the ASGI spec's
place for server-specific features). It writes only when nothing else can be in the way: the
connection open, the socket taking data, and either no permessage-deflate or permessage-deflate
without server context takeover (the server always asks for it). A connection whose compression
keeps state between messages is told no, and the caller sends through ASGI. Ordering with the
connection's other messages is the caller's part (see outbox). Under any other server, or when
`check()` finds the internals below moved, nothing is offered and every frame goes through ASGI.

What it relies on, all checked by `check()` at start-up (cli `serve`) and by
tests/server/test_uvicorn_fast_path.py against the pinned versions:
- uvicorn `WebSocketsSansIOProtocol`: subclassed; its `__init__` is replaced (not called) and
  sets exactly the attributes uvicorn's own sets (`UVICORN_ATTRIBUTES`, 13 of them served from
  one object per server); `handle_connect`, `send`, and the attributes `scope`, `conn`,
  `transport`, `writable` (an asyncio.Event's API), `queue` (an asyncio.Queue's put_nowait,
  get, empty, qsize), `close_sent`, `handshake_complete`, `request`, `response`; and its read
  flow control: `send_receive_event_to_app` pauses reading only while `read_paused` is False,
  `receive` resumes it only while `read_paused` is True (see `send_receive_event_to_app` here).
- websockets `ServerProtocol`: its `parser` generator and `reader.buffer`, `Protocol.parse`
  and `StreamReader.at_eof` (whose code objects tell the parser is between two frames, where it
  is replaced to drop the handshake request it holds), `extensions`, and `PerMessageDeflate`'s
  `local_no_context_takeover` and `local_max_window_bits`.
- for `upgrade`: uvicorn `HttpToolsProtocol`'s `handle_websocket_upgrade` (what it reads and
  calls, `UPGRADE_NAMES`: `upgrade` does the same from the parsed request) and the attributes it
  sets (`config`, `server_state`, `app_state`, `connections`, `ws_protocol_class`, `logger`,
  `transport`); websockets' `http11.MAX_NUM_HEADERS` and `MAX_LINE_LENGTH`."""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
import re
import weakref
from types import GeneratorType
from typing import TYPE_CHECKING, Any, cast

from uvicorn.config import Config
from uvicorn.logging import TRACE_LOG_LEVEL
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets import http11
from websockets.datastructures import Headers
from websockets.extensions.permessage_deflate import PerMessageDeflate, ServerPerMessageDeflateFactory
from websockets.http11 import Request, Response
from websockets.protocol import Protocol
from websockets.server import ServerProtocol
from websockets.streams import StreamReader

from server.live.frames import PLAIN, TextMessage, WriteFrame

if TYPE_CHECKING:
    from uvicorn._types import ASGIReceiveEvent, ASGISendEvent, WebSocketScope

WRITE_FRAME = "racewire.write_frame"
LOGGER = "racewire.websocket"
PINNED = {"uvicorn": "0.54.0", "websockets": "17.4"}
_PARSE_FRAMES = Protocol.parse.__code__
_AT_EOF = StreamReader.at_eof.__code__
# RFC 9110's field name (a token) and field value, as websockets' request parser checks them.
_TOKEN = re.compile(rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")
_VALUE = re.compile(rb"[\x09\x20-\x7e\x80-\xff]*")

log = logging.getLogger(__name__)


def frame_kind(extensions: list[Any]) -> int | None:
    """What frames a connection with these extensions takes from a TextMessage: PLAIN, the
    window bits of a compression without context takeover, or None (its frames are its own)."""
    if not extensions:
        return PLAIN
    if len(extensions) == 1 and isinstance(extensions[0], PerMessageDeflate):
        deflate = extensions[0]
        if deflate.local_no_context_takeover:
            return deflate.local_max_window_bits
    return None


def write_frame_of(scope: Any) -> WriteFrame | None:
    """The server's `write_frame`, when it offers one for this connection."""
    extensions = scope.get("extensions") or {}
    return extensions.get(WRITE_FRAME)


def upgrade(http: HttpToolsProtocol) -> bool:
    """uvicorn's `handle_websocket_upgrade`, without writing the request httptools has parsed back
    out as bytes for websockets to parse again in Python (~17 % of a connect): the handshake
    request is built from the parsed one. False (nothing done) when the server's WebSocket
    protocol is not Racewire's, or the request is one websockets' parser would refuse or that
    takes uvicorn's trace log: the caller upgrades as uvicorn does, and websockets answers it."""
    protocol_class = http.ws_protocol_class
    if not (isinstance(protocol_class, type) and issubclass(protocol_class, RacewireWebSocketProtocol)):
        return False
    if http.logger.isEnabledFor(TRACE_LOG_LEVEL):  # uvicorn logs the upgrade then
        return False
    request = request_of(http.scope["method"], http.url, http.scope["headers"])
    if request is None:
        return False
    http.connections.discard(http)
    protocol = protocol_class(config=http.config, server_state=http.server_state, app_state=http.app_state)
    protocol.connection_made(http.transport)
    protocol.take_request(request)
    http.transport.set_protocol(protocol)
    return True


def request_of(method: str, target: bytes, raw_headers: Any) -> Request | None:
    """The websockets Request that websockets' parser would make of this request line and these
    headers, or None for anything it might refuse or read otherwise (left to that parser)."""
    if method != "GET" or len(target) + 15 > http11.MAX_LINE_LENGTH or not target.isascii():
        return None
    if len(raw_headers) >= http11.MAX_NUM_HEADERS:
        return None
    headers = Headers()
    for name, value in raw_headers:
        if len(name) + len(value) + 4 > http11.MAX_LINE_LENGTH or not _TOKEN.fullmatch(name):
            return None
        value = value.strip(b" \t")
        if not _VALUE.fullmatch(value):
            return None
        headers[name.decode("ascii")] = value.decode("latin-1")
    if "Transfer-Encoding" in headers or not set(headers.get_all("Content-Length")) <= {"0"}:
        return None
    return Request(target.decode("ascii"), headers)


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

    def reader_waiting(self) -> bool:
        """Whether the app waits on an empty inbox: a message put now is taken before the next read."""
        return not self._items and self._waiter is not None and not self._waiter.done()

    def qsize(self) -> int:
        return len(self._items)


class Writable:
    """The protocol's `writable` asyncio.Event (set, clear, is_set, wait), making its list of
    waiters only when someone waits: the socket is nearly always writable."""

    __slots__ = ("_waiters", "on")

    def __init__(self) -> None:
        self.on = True  # is_set(), read by write_frame without the call
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self.on

    def set(self) -> None:
        self.on = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self.on = False

    async def wait(self) -> bool:
        while not self.on:
            waiter = asyncio.get_running_loop().create_future()
            if self._waiters is None:
                self._waiters = []
            self._waiters.append(waiter)
            await waiter
        return True


class PerServer:
    """What all the connections of one server have alike, which uvicorn's protocol keeps in
    each connection's own dict."""

    __slots__ = (
        "app",
        "app_state",
        "asgi_version",
        "config",
        "connections",
        "default_headers",
        "loop",
        "root_path",
        "tasks",
    )

    def __init__(
        self, config: Config, server_state: ServerState, app_state: dict[str, Any], loop: asyncio.AbstractEventLoop
    ) -> None:
        self.config = config
        self.app = config.loaded_app
        self.loop = loop
        self.root_path = config.root_path
        self.asgi_version = config.asgi_version
        self.app_state = app_state
        self.connections = server_state.connections
        self.tasks = server_state.tasks
        self.default_headers = server_state.default_headers


_servers: weakref.WeakKeyDictionary[ServerState, PerServer] = weakref.WeakKeyDictionary()


def server_of(config: Config, server_state: ServerState, app_state: dict[str, Any]) -> PerServer:
    loop = asyncio.get_event_loop()
    server = _servers.get(server_state)
    if server is None or server.config is not config or server.app_state is not app_state or server.loop is not loop:
        server = _servers[server_state] = PerServer(config, server_state, app_state, loop)
    return server


def _of_server(name: str) -> Any:
    return property(lambda self: getattr(self._server, name))


class RacewireWebSocketProtocol(WebSocketsSansIOProtocol):
    # Its own logger: the handshake's access line is INFO, and below the level set for this
    # logger when the access log is off, it is not even made (see logging_config).
    logger = logging.getLogger(LOGGER)
    close_timeout = 10.0

    config: Config = _of_server("config")
    app = _of_server("app")
    loop: asyncio.AbstractEventLoop = _of_server("loop")
    root_path: str = _of_server("root_path")
    asgi_version = _of_server("asgi_version")
    app_state: dict[str, Any] = _of_server("app_state")
    connections = _of_server("connections")
    tasks = _of_server("tasks")
    default_headers: list[tuple[bytes, bytes]] = _of_server("default_headers")

    # Class-level properties in place of uvicorn's per-instance attributes (one fewer per connection).
    @property
    def ping_interval(self) -> float | None:  # type: ignore[override]  # uvicorn declares a plain attribute
        return self.config.ws_ping_interval

    @property
    def ping_timeout(self) -> float | None:  # type: ignore[override]  # uvicorn declares a plain attribute
        return self.config.ws_ping_timeout

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        # Not uvicorn's __init__: of its 34 attributes, 13 are the same for every connection, and
        # past 29 an instance's attributes no longer fit its class's shared key table: each
        # connection had a dict of its own (1.6 KB). These are the per-connection ones, all of
        # them set here (one set later would not fit the table either, once thousands exist).
        if not config.loaded:
            config.load()
        self._server = server_of(config, server_state, app_state)
        self.transport: asyncio.Transport = None  # type: ignore[assignment]  # set by connection_made, as in uvicorn
        self.server: tuple[str, int | None] | None = None
        self.client: tuple[str, int] | None = None
        self.scheme = "ws"
        self.queue = Inbox()  # type: ignore[assignment]  # the part of asyncio.Queue uvicorn uses
        self.handshake_initiated = False
        self.handshake_complete = False
        self.close_sent = False
        self.disconnected = False
        self.close_timer: asyncio.TimerHandle | None = None
        self.initial_response: tuple[int, list[tuple[str, str]], bytes] | None = None
        extensions = []
        if config.ws_per_message_deflate:
            # No context takeover either way: no zlib state per connection between messages, and
            # one compressed frame per event serves every connection (clients must accept it).
            extensions = [
                ServerPerMessageDeflateFactory(
                    server_no_context_takeover=True,
                    client_no_context_takeover=True,
                    server_max_window_bits=12,
                    client_max_window_bits=12,
                    compress_settings={"memLevel": 5},
                )
            ]
        # websockets logs "connection open" and "connection closed" at INFO for every connection:
        # on the handshake's logger, they follow the access log as the handshake's line does.
        self.conn = ServerProtocol(extensions=extensions, max_size=config.ws_max_size, logger=self.logger)
        self.read_paused = False
        self.writable = Writable()  # type: ignore[assignment]  # the part of asyncio.Event uvicorn uses
        self.ping_timer: asyncio.TimerHandle | None = None
        self.pong_timer: asyncio.TimerHandle | None = None
        self.pending_ping_payload: bytes | None = None
        self.ping_sent_at = 0.0
        self.last_ping_rtt = 0.0
        self.frames: list[bytes] = []
        self.curr_msg_data_type = "bytes"
        # uvicorn types these as always set; here they are None before the handshake, and after it
        # (_drop_handshake), when uvicorn reads them no more.
        self.request: Request | None = None  # type: ignore[assignment]
        self.response: Response | None = None  # type: ignore[assignment]
        self.scope: WebSocketScope = None  # type: ignore[assignment]
        self._frame_kind: int | None = None  # once accepted: which frames write_frame may write

    def take_request(self, request: Request) -> None:
        """The handshake request, parsed already (see `upgrade`): websockets' parser starts at the
        frames, as it does once it has read a request."""
        self.conn.parser = Protocol.parse(self.conn)
        next(self.conn.parser)
        self.handle_connect(request)

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        if not self.close_sent:  # the handshake goes on to the app
            # asgiref's types make every extension's value a dict; Racewire's own is a callable.
            self.scope["extensions"][WRITE_FRAME] = self.write_frame  # type: ignore[assignment]

    async def send(self, message: ASGISendEvent) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept":
            self._drop_handshake()
            self._frame_kind = frame_kind(self.conn.extensions) if self.handshake_complete else None

    def _drop_handshake(self) -> None:
        """websockets' server parser keeps the handshake request as a local of its generator for
        the life of the connection, then parses frames in a generator of its own: between two
        frames (always so before the client has read the 101), that one takes over, fresh."""
        assert self.request is not None
        self.request.headers.clear()  # copied into the scope, and read no more
        self.request = self.response = None
        frames = _yielding_from(self.conn.parser)
        waiting = _yielding_from(frames) if frames is not None else None
        if (
            frames is not None
            and frames.gi_code is _PARSE_FRAMES
            and waiting is not None
            and waiting.gi_code is _AT_EOF
            and not self.conn.reader.buffer
        ):
            self.conn.parser = Protocol.parse(self.conn)
            next(self.conn.parser)

    def send_receive_event_to_app(self) -> None:
        # uvicorn pauses reading after queueing each message and resumes once the app has taken it:
        # two epoll_ctl calls per message (connection_init and subscribe: ~5 % of a connect).
        # When the app already waits on an empty inbox it takes the message before the loop reads
        # again, so reading stays on; a backlog still pauses as uvicorn does.
        if self.read_paused or not self.queue.reader_waiting():  # type: ignore[attr-defined]
            super().send_receive_event_to_app()
            return
        self.read_paused = True  # uvicorn's method pauses only when this is False
        try:
            super().send_receive_event_to_app()
        finally:
            self.read_paused = False

    def write_frame(self, message: TextMessage) -> bool:
        # A close sent or received closes the transport (or sets close_sent) at once.
        kind = self._frame_kind
        transport = self.transport
        if kind is None or self.close_sent or not self.writable.on or transport.is_closing():  # type: ignore[attr-defined]  # ours: Writable
            return False
        transport.write(message.frame(kind))
        return True


# What uvicorn 0.54's WebSocketsSansIOProtocol.__init__ sets: RacewireWebSocketProtocol sets the
# same, the ones alike for every connection as properties of one PerServer object.
UVICORN_ATTRIBUTES = frozenset(
    {
        "config",
        "app",
        "loop",
        "logger",
        "root_path",
        "asgi_version",
        "app_state",
        "connections",
        "tasks",
        "default_headers",
        "transport",
        "server",
        "client",
        "scheme",
        "queue",
        "handshake_initiated",
        "handshake_complete",
        "close_sent",
        "disconnected",
        "close_timer",
        "close_timeout",
        "initial_response",
        "conn",
        "read_paused",
        "writable",
        "ping_interval",
        "ping_timeout",
        "ping_timer",
        "pong_timer",
        "pending_ping_payload",
        "ping_sent_at",
        "last_ping_rtt",
        "frames",
        "curr_msg_data_type",
    }
)


def stored_attributes(function: Any) -> frozenset[str]:
    """The attributes a method sets on `self` (its STORE_ATTR instructions on its first argument)."""
    import dis

    names: set[str] = set()
    previous: dis.Instruction | None = None
    for instruction in dis.get_instructions(function):
        if instruction.opname.lower() == "store_attr" and previous is not None and previous.argval == "self":
            names.add(instruction.argval)
        previous = instruction
    return frozenset(names)


def check() -> list[str]:
    """What keeps the fast path from being used with the installed uvicorn and websockets: empty
    when every internal named in this module's docstring is where it expects."""
    import inspect

    problems = []
    set_by_uvicorn = stored_attributes(WebSocketsSansIOProtocol.__init__)
    if set_by_uvicorn != UVICORN_ATTRIBUTES:
        moved = sorted(set_by_uvicorn ^ UVICORN_ATTRIBUTES)
        problems.append(f"uvicorn's WebSocketsSansIOProtocol.__init__ sets other attributes ({', '.join(moved)})")
    for name in (
        "handle_connect",
        "send",
        "connection_made",
        "data_received",
        "handle_events",
        "send_receive_event_to_app",
        "receive",
    ):
        if not callable(getattr(WebSocketsSansIOProtocol, name, None)):
            problems.append(f"uvicorn's WebSocketsSansIOProtocol has no {name}()")
    for name, call in (("send_receive_event_to_app", "pause_reading"), ("receive", "resume_reading")):
        names = getattr(getattr(WebSocketsSansIOProtocol, name, None), "__code__", None)
        if names is None or not {"read_paused", call} <= set(names.co_names):
            problems.append(f"uvicorn's WebSocketsSansIOProtocol.{name}() no longer calls {call} by `read_paused`")
    # upgrade(): what uvicorn's httptools protocol reads and does to hand a connection over.
    handover = getattr(getattr(HttpToolsProtocol, "handle_websocket_upgrade", None), "__code__", None)
    handover_names = set(handover.co_names) if handover is not None else set()
    if not handover_names >= UPGRADE_NAMES:
        missing = ", ".join(sorted(UPGRADE_NAMES - handover_names))
        problems.append(f"uvicorn's HttpToolsProtocol.handle_websocket_upgrade() no longer uses {missing}")
    http_sets = stored_attributes(HttpToolsProtocol.__init__) | stored_attributes(HttpToolsProtocol.connection_made)
    for name in ("config", "server_state", "app_state", "connections", "ws_protocol_class", "logger", "transport"):
        if name not in http_sets:
            problems.append(f"uvicorn's HttpToolsProtocol no longer sets `{name}`")
    try:
        limits: tuple[object, ...] = (http11.MAX_NUM_HEADERS, http11.MAX_LINE_LENGTH)  # request_of() refuses past
    except AttributeError:
        limits = ()
    if len(limits) != 2 or not all(isinstance(limit, int) for limit in limits):
        problems.append("websockets.http11 no longer has its header limits")
    for function in (Protocol.parse, StreamReader.at_eof):
        if not inspect.isgeneratorfunction(function):
            problems.append(f"websockets' {function.__qualname__} is no longer a generator")
    protocol_sets = stored_attributes(Protocol.__init__) | stored_attributes(ServerProtocol.__init__)
    for name in ("parser", "reader", "extensions"):
        if name not in protocol_sets:
            problems.append(f"websockets' ServerProtocol no longer sets `{name}`")
    for name in ("local_no_context_takeover", "local_max_window_bits"):
        if name not in stored_attributes(PerMessageDeflate.__init__):
            problems.append(f"websockets' PerMessageDeflate no longer sets `{name}`")
    return problems


# What uvicorn 0.54's HttpToolsProtocol.handle_websocket_upgrade reads and calls, which upgrade() does too.
UPGRADE_NAMES = frozenset(
    {"connections", "discard", "scope", "url", "ws_protocol_class", "config", "server_state", "app_state"}
    | {"connection_made", "transport", "data_received", "set_protocol", "logger"}
)


def installed_versions() -> dict[str, str]:
    return {name: importlib.metadata.version(name) for name in PINNED}


def uvicorn_ws_protocol() -> type[WebSocketsSansIOProtocol] | str:
    """The `ws` uvicorn runs with: Racewire's protocol when `check()` passes, else uvicorn's own
    sans-I/O protocol (every frame through ASGI), said once in the log."""
    problems = check()
    if not problems:
        return RacewireWebSocketProtocol
    log.warning(
        "the WebSocket fast path is off, frames go through ASGI: %s (installed %s, written for %s)",
        "; ".join(problems),
        installed_versions(),
        PINNED,
    )
    return "websockets-sansio"


def _yielding_from(generator: object) -> GeneratorType[Any, Any, Any] | None:
    """The generator this generator object runs in a `yield from` (typeshed's Generator has no
    gi_yieldfrom, and GeneratorType's is any iterator: websockets' parsers are generators)."""
    delegate = cast("GeneratorType[Any, Any, Any]", generator).gi_yieldfrom
    return cast("GeneratorType[Any, Any, Any] | None", delegate)
