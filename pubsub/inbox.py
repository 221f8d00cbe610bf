"""The messages a Redis backend has read and the hub has not yet taken."""

from __future__ import annotations

import asyncio
import logging

from broadcaster import Event


class Inbox:
    """Bounded: anyone who can publish on the Redis server can flood it. What is dropped is only
    the doorbell: the hub's watchdog reads every stored event it has not passed on from the log."""

    def __init__(self, max_queued: int, log: logging.Logger) -> None:
        self._log = log
        self._queue: asyncio.Queue[Event] = asyncio.Queue(max_queued)
        self._flooded = False
        self.dropped = 0

    def put(self, event: Event) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            if not self._flooded:  # once per flood
                self._log.warning(
                    "%d pub/sub messages wait for the hub: dropping more, the log fills the gap", self._queue.maxsize
                )
            self._flooded = True
            self.dropped += 1

    async def get(self) -> Event:
        event = await self._queue.get()
        if self._queue.empty():
            self._flooded = False
        return event
