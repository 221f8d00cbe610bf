"""A Redis pub/sub backend for `broadcaster` that is safe under concurrent subscribes and
outlives Redis restarts. broadcaster's own backend can stop listening for good when its listener
starts before the first SUBSCRIBE completes, and its listener dies with the connection."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from broadcaster import BroadcastBackend, Event
from redis import asyncio as redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from pubsub.inbox import Inbox

log = logging.getLogger(__name__)

_RETRY = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)
MAX_QUEUED = 10_000  # messages received and not yet taken by the hub


class RedisBackend(BroadcastBackend):
    def __init__(
        self,
        url: str,
        *,
        control_channel: str = "racewire:control",
        max_backoff: float = 5.0,
        on_reconnect: Callable[[], None] | None = None,
        max_queued: int = MAX_QUEUED,
    ) -> None:
        # Subscribed for the backend's whole life, so the pub/sub connection always has a reader.
        self._control_channel = control_channel
        self._redis = redis.Redis.from_url(url, health_check_interval=15, socket_connect_timeout=2)
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        self.inbox = Inbox(max_queued, log)
        self._listener: asyncio.Task[None] | None = None
        self._max_backoff = max_backoff
        self._on_reconnect = on_reconnect
        self.connected = False

    async def connect(self) -> None:
        await self._pubsub.subscribe(self._control_channel)
        self.connected = True
        self._listener = asyncio.create_task(self._listen())

    async def disconnect(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        await self._pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py 8.1 leaves PubSub.aclose unannotated
        await self._redis.aclose()

    async def subscribe(self, channel: str) -> None:
        await self._pubsub.subscribe(channel)

    async def unsubscribe(self, channel: str) -> None:
        await self._pubsub.unsubscribe(channel)

    async def publish(self, channel: str, message: Any) -> None:
        if not self.connected:
            # Fail fast while Redis is away: the event is in the log and is delivered from there.
            raise RedisConnectionError("redis is unreachable")
        await self._redis.publish(channel, message)

    async def next_published(self) -> Event:
        return await self.inbox.get()

    async def _listen(self) -> None:
        backoff = 0.1
        while True:
            try:
                message = await self._pubsub.get_message(timeout=None)
            except _RETRY as error:
                if self.connected:
                    log.warning("redis pub/sub connection lost: %s", error)
                self.connected = False
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                continue
            if not self.connected:
                # redis-py re-subscribes every channel when it reconnects.
                log.info("redis pub/sub connection restored")
                self.connected = True
                if self._on_reconnect is not None:
                    self._on_reconnect()
            backoff = 0.1
            if message is not None and message["type"] == "message":
                # The data stays bytes: anyone may publish anything, and the hub's seal judges it.
                channel = message["channel"].decode(errors="replace")
                self.inbox.put(Event(channel, message["data"]))
