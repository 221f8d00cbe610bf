"""The fan-out hub: one broadcaster subscription per channel per process, shared by every
local listener, so an event is received and decoded once however many listen to it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from broadcaster import Broadcast

from pubsub.envelope import Envelope

log = logging.getLogger(__name__)


class Listener:
    """A bounded inbox. When it overflows, events are dropped and `overflowed` is set: the
    reader then catches up from the stored log, so nothing is lost and memory stays bounded."""

    def __init__(self, maxsize: int) -> None:
        self._queue: asyncio.Queue[Envelope] = asyncio.Queue(maxsize)
        self.overflowed = False

    def deliver(self, event: Envelope) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True

    async def get(self) -> Envelope:
        return await self._queue.get()

    def empty(self) -> bool:
        return self._queue.empty()


@dataclass
class _Pump:
    task: asyncio.Task[None]
    ready: asyncio.Event


class Hub:
    def __init__(self, broadcast: Broadcast, *, buffer: int = 256) -> None:
        self._broadcast = broadcast
        self._buffer = buffer
        self._listeners: dict[str, set[Listener]] = {}
        self._pumps: dict[str, _Pump] = {}
        self._stopping: dict[str, asyncio.Task[None]] = {}
        self.listener_count = 0

    async def close(self) -> None:
        """Stops every channel subscription and waits until each has unsubscribed."""
        tasks = [pump.task for pump in self._pumps.values()] + list(self._stopping.values())
        self._pumps.clear()
        self._stopping.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def publish(self, event: Envelope) -> None:
        await self._broadcast.publish(event.stream, event.encode())

    @asynccontextmanager
    async def listen(self, channels: Iterable[str]) -> AsyncIterator[Listener]:
        """Yields once every channel is subscribed, so nothing published after is missed."""
        listener = Listener(self._buffer)
        joined: list[str] = []
        self.listener_count += 1
        try:
            for channel in dict.fromkeys(channels):
                joined.append(channel)
                await self._join(channel, listener)
            yield listener
        finally:
            self.listener_count -= 1
            for channel in joined:
                self._leave(channel, listener)

    async def _join(self, channel: str, listener: Listener) -> None:
        self._listeners.setdefault(channel, set()).add(listener)
        pump = self._pumps.get(channel)
        if pump is None:
            ready_event = asyncio.Event()
            pump = _Pump(asyncio.create_task(self._pump(channel, ready_event)), ready_event)
            self._pumps[channel] = pump
        ready = asyncio.create_task(pump.ready.wait())
        done, _ = await asyncio.wait({ready, pump.task}, return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
            raise ConnectionError(f"could not subscribe to {channel}")

    def _leave(self, channel: str, listener: Listener) -> None:
        listeners = self._listeners.get(channel)
        if listeners is None:
            return
        listeners.discard(listener)
        if listeners:
            return
        del self._listeners[channel]
        pump = self._pumps.pop(channel, None)
        if pump is not None:
            pump.task.cancel()
            self._stopping[channel] = pump.task
            pump.task.add_done_callback(lambda task: self._forget_stopped(channel, task))

    def _forget_stopped(self, channel: str, task: asyncio.Task[None]) -> None:
        if self._stopping.get(channel) is task:
            del self._stopping[channel]

    async def _pump(self, channel: str, ready: asyncio.Event) -> None:
        # A channel being left must finish unsubscribing before it is subscribed again.
        previous = self._stopping.pop(channel, None)
        if previous is not None:
            await asyncio.wait({previous})
        async with self._broadcast.subscribe(channel) as subscriber:
            ready.set()
            async for message in subscriber:
                try:
                    event = Envelope.decode(message.message)
                except (ValueError, KeyError, TypeError):
                    log.warning("undecodable message on %s", channel)
                    continue
                for listener in tuple(self._listeners.get(channel, ())):
                    listener.deliver(event)
