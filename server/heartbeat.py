"""Server-side graphql-transport-ws heartbeats: a `ping` every interval; a peer that has not
answered with `pong` (or anything else) within the timeout is taken for dead and dropped.

Timers, not tasks: an idle connection holds one TimerHandle for its `connection_init` deadline,
then one for its next ping or pong deadline, and no sleeping coroutine. Pings go through the
connection's outbox, so they keep their place among the fan-out's frames."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage

from server.outbox import Outbox

PONG_TIMEOUT_CLOSE = 4504
INIT_TIMEOUT_CLOSE = 4408
PING = '{"type":"ping"}'


class HeartbeatHandler(BaseGraphQLTransportWSHandler[Any, None]):
    _timer: asyncio.TimerHandle | None = None
    _heard = False
    _closing: asyncio.Task[None] | None = None
    _outbox: Outbox | None = None

    @property
    def outbox(self) -> Outbox:
        if self._outbox is None:
            self._outbox = Outbox(self.websocket.ws, limit=self.view.send_buffer)
        return self._outbox

    def on_request_accepted(self) -> None:
        # Strawberry's connection_init deadline, as a timer instead of a sleeping task.
        delay = self.connection_init_wait_timeout.total_seconds()
        self._timer = asyncio.get_running_loop().call_later(delay, self._init_timed_out)

    def _init_timed_out(self) -> None:
        self._timer = None
        if not self.connection_init_received:
            self.connection_timed_out = True
            self._close_soon(INIT_TIMEOUT_CLOSE, "Connection initialisation timeout")

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        if not self.connection_init_received:
            self._stop_timer()
        await super().handle_connection_init(message)
        interval = getattr(self.view, "ping_interval", 0)
        if self.connection_acknowledged and interval > 0 and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(interval, self._ping)

    async def handle_message(self, message: Any) -> None:
        self._heard = True
        await super().handle_message(message)

    def _ping(self) -> None:
        self._heard = False
        self.outbox.push(PING, always=True)
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self.view.pong_timeout, self._pong_due, loop.time())

    def _pong_due(self, pinged_at: float) -> None:
        if not self._heard:
            self._timer = None
            self._close_soon(PONG_TIMEOUT_CLOSE, "Pong timeout")
            return
        loop = asyncio.get_running_loop()
        self._timer = loop.call_at(max(loop.time(), pinged_at + self.view.ping_interval), self._ping)

    def _close_soon(self, code: int, reason: str) -> None:
        if self._closing is None:
            self._closing = asyncio.create_task(self._close(code, reason))

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):  # already closed by the peer
            await self.websocket.close(code=code, reason=reason)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def shutdown(self) -> None:
        self._stop_timer()
        await super().shutdown()
        if self._outbox is not None:
            await self._outbox.close()
        if self._closing is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._closing
