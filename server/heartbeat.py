"""Server-side graphql-transport-ws heartbeats: a `ping` every interval; a peer that has not
answered with `pong` (or anything else) within the timeout is taken for dead and dropped.

One timer for all connections, not one each: a connection's `connection_init` deadline, then
its next ping or pong deadline, is an entry in a `Deadlines` slot. A TimerHandle per connection,
with its callback and the copy of the context it runs in, cost about 1 KB per idle connection.
Pings go through the connection's outbox, so they keep their place among the fan-out's frames."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import math
from typing import Any, Literal, cast

from strawberry.http.exceptions import NonJsonMessageReceived, NonTextMessageReceived, WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage, Message

from server.logs import request_id
from server.outbox import Outbox

PONG_TIMEOUT_CLOSE = 4504
INIT_TIMEOUT_CLOSE = 4408
PING = '{"type":"ping"}'

log = logging.getLogger(__name__)

Waiting = Literal["init", "ping", "pong"]


def tick_for(*periods: float) -> float:
    """The slot length: a small part of the shortest period, and at most a second."""
    return min([1.0, *(period / 4 for period in periods if period > 0)])


class Deadlines:
    """Connections' deadlines in slots of `tick` seconds, on the one timer of the earliest slot.
    A deadline falls due at the end of its slot: never early, at most a tick late."""

    def __init__(self, tick: float) -> None:
        self.tick = tick
        self._slots: dict[int, set[HeartbeatHandler]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._armed = 0  # the slot the timer is for

    def add(self, handler: HeartbeatHandler, delay: float) -> int:
        """Puts the handler in the slot `delay` seconds from now, and returns that slot."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a view serves one loop at a time: the last one's connections are gone
            self._loop, self._slots, self._timer = loop, {}, None
        slot = math.ceil((loop.time() + delay) / self.tick)
        self._slots.setdefault(slot, set()).add(handler)
        self._arm(slot)
        return slot

    def discard(self, handler: HeartbeatHandler, slot: int) -> None:
        entries = self._slots.get(slot)
        if entries is not None:
            entries.discard(handler)
            if not entries:
                del self._slots[slot]

    def _arm(self, slot: int) -> None:
        if self._timer is not None and self._armed <= slot:
            return
        if self._timer is not None:
            self._timer.cancel()
        assert self._loop is not None
        self._armed = slot
        # Run in a context of its own: the timer serves every connection, none in particular.
        self._timer = self._loop.call_at(slot * self.tick, self._fire, context=contextvars.Context())

    def _fire(self) -> None:
        assert self._loop is not None
        self._timer = None
        now = max(self._armed, math.floor(self._loop.time() / self.tick))
        for slot in sorted(slot for slot in self._slots if slot <= now):
            for handler in self._slots.pop(slot):
                try:
                    handler.deadline_passed()
                except Exception:
                    log.exception("a heartbeat deadline failed")
        if self._slots:
            self._arm(min(self._slots))


class HeartbeatHandler(BaseGraphQLTransportWSHandler[Any, None]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Every attribute set here, none later: an attribute a class's instances first get after
        # thousands of them exist no longer fits their shared key table, and each instance
        # that gets it then has a dict of its own (some 900 bytes).
        self._waiting: Waiting | None = None  # what the deadline in `_slot` is for
        self._slot: int | None = None
        self._pinged_at = 0.0
        self._heard = False
        self._closing: asyncio.Task[None] | None = None
        self._request_id = "-"
        self._outbox: Outbox | None = None

    @property
    def outbox(self) -> Outbox:
        if self._outbox is None:
            self._outbox = Outbox(self.websocket.ws, limit=self.view.send_buffer)
        return self._outbox

    async def handle(self) -> None:
        # Strawberry's loop, but letting go of each message once handled: the last one (most
        # often the subscribe) was kept as long as the connection then idles.
        self.on_request_accepted()
        try:
            try:
                async for message in self.websocket.iter_json():
                    await self.handle_message(cast("Message", message))
                    del message
            except NonTextMessageReceived:
                await self.handle_invalid_message("WebSocket message type must be text")
            except NonJsonMessageReceived:
                await self.handle_invalid_message("WebSocket message must be valid JSON")
        except WebSocketDisconnected:
            pass
        finally:
            await self.shutdown()

    def on_request_accepted(self) -> None:
        # Strawberry's connection_init deadline, as a deadline instead of a sleeping task.
        self._request_id = request_id.get()  # to tag the logs of a close the deadline makes
        self._wait("init", self.connection_init_wait_timeout.total_seconds())

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        if not self.connection_init_received:
            self._stop_waiting()
        await super().handle_connection_init(message)
        interval = getattr(self.view, "ping_interval", 0)
        if self.connection_acknowledged and interval > 0 and self._waiting is None:
            self._wait("ping", interval)

    async def handle_message(self, message: Any) -> None:
        self._heard = True
        await super().handle_message(message)

    def deadline_passed(self) -> None:
        waiting, self._waiting, self._slot = self._waiting, None, None
        if waiting == "init":
            if not self.connection_init_received:
                self.connection_timed_out = True
                self._close_soon(INIT_TIMEOUT_CLOSE, "Connection initialisation timeout")
        elif waiting == "ping":
            self._ping()
        elif waiting == "pong":
            self._pong_due()

    def _ping(self) -> None:
        self._heard = False
        self.outbox.push(PING, always=True)
        self._pinged_at = asyncio.get_running_loop().time()
        self._wait("pong", self.view.pong_timeout)

    def _pong_due(self) -> None:
        if not self._heard:
            self._close_soon(PONG_TIMEOUT_CLOSE, "Pong timeout")
            return
        since = asyncio.get_running_loop().time() - self._pinged_at
        self._wait("ping", max(0.0, self.view.ping_interval - since))

    def _wait(self, waiting: Waiting, delay: float) -> None:
        self._waiting = waiting
        self._slot = self.view.deadlines.add(self, delay)

    def _stop_waiting(self) -> None:
        if self._slot is not None:
            self.view.deadlines.discard(self, self._slot)
        self._waiting = self._slot = None

    def _close_soon(self, code: int, reason: str) -> None:
        if self._closing is None:
            context = contextvars.copy_context()
            context.run(request_id.set, self._request_id)
            self._closing = asyncio.create_task(self._close(code, reason), context=context)

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):  # already closed by the peer
            await self.websocket.close(code=code, reason=reason)

    async def shutdown(self) -> None:
        self._stop_waiting()
        await super().shutdown()
        if self._outbox is not None:
            await self._outbox.close()
        if self._closing is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._closing
