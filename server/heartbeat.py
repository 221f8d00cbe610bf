"""Server-side graphql-transport-ws heartbeats: a `ping` every interval; a peer that has not
answered with `pong` (or anything else) within the timeout is taken for dead and dropped."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage

PONG_TIMEOUT_CLOSE = 4504


class HeartbeatHandler(BaseGraphQLTransportWSHandler[Any, None]):
    _heartbeat: asyncio.Task[None] | None = None
    _heard: asyncio.Event | None = None

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        interval = getattr(self.view, "ping_interval", 0)
        if self.connection_acknowledged and interval > 0 and self._heartbeat is None:
            self._heard = asyncio.Event()
            self._heartbeat = asyncio.create_task(self._beat(interval, self.view.pong_timeout))

    async def handle_message(self, message: Any) -> None:
        if self._heard is not None:
            self._heard.set()
        await super().handle_message(message)

    async def _beat(self, interval: float, timeout: float) -> None:
        assert self._heard is not None
        while True:
            await asyncio.sleep(interval)
            self._heard.clear()
            await self.send_message({"type": "ping"})
            try:
                await asyncio.wait_for(self._heard.wait(), timeout)
            except TimeoutError:
                await self.websocket.close(code=PONG_TIMEOUT_CLOSE, reason="Pong timeout")
                return

    async def shutdown(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._heartbeat
        await super().shutdown()
