"""The fan-out hub: one broadcaster subscription per channel per process, shared by every local
listener, so an event is received and decoded once however many listen to it.

Nothing on the broadcaster is trusted: a message is passed on only when its seal opens with the
deployment's key (see pubsub/seal.py) and it agrees with the log. The log is the only source of
`seq`: the next seq passes straight on; one that skips ahead is read from the log instead, and a seq
the log does not hold is refused, counted and logged, and never moves a channel on.

The hub also keeps each channel in order and complete. It knows the last seq it passed on per
channel; an event that skips ahead makes it read the missing ones from the log first, and a
watchdog compares the log's heads with what it passed on, so an event whose publish failed, or
that was published while Redis was away, still arrives (late, never lost, read once per process)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol, cast

from broadcaster import Broadcast, Event

from events.envelope import Envelope, Refused
from pubsub.channels import Namespace
from pubsub.rejections import Rejections
from pubsub.seal import Seal
from pubsub.telemetry import NO_TELEMETRY, Telemetry

log = logging.getLogger(__name__)


class EventLog(Protocol):
    """Where the truth is: the stored event log."""

    async def heads(self, streams: Sequence[str]) -> dict[str, int]: ...

    async def read(self, stream: str, *, after: int, until: int) -> list[Envelope]: ...


class Listener:
    """A bounded inbox. Past `maxsize` unread events it drops them all and sets `overflowed`:
    the reader then catches up from the log, so memory stays bounded and nothing is lost."""

    def __init__(self, maxsize: int, on_drop: Callable[[int], None] = NO_TELEMETRY.dropped) -> None:
        self._events: deque[Envelope] = deque()
        self._maxsize = maxsize
        self._on_drop = on_drop
        self._wake = asyncio.Event()
        self.overflowed = False

    def deliver(self, event: Envelope) -> None:
        if len(self._events) >= self._maxsize:
            self._on_drop(len(self._events) + 1)
            self._events.clear()
            self.overflowed = True
        else:
            self._events.append(event)
        self._wake.set()

    async def get(self) -> Envelope | None:
        """The next event, or None once the listener has overflowed: the reader must catch up
        from the log (and clear `overflowed`) before anything else."""
        while not self._events and not self.overflowed:
            self._wake.clear()
            await self._wake.wait()
        if self.overflowed:
            self._events.clear()
            return None
        return self._events.popleft()

    def empty(self) -> bool:
        return not self._events


@dataclass
class _Pump:
    task: asyncio.Task[None]
    ready: asyncio.Event


class Hub:
    """Listeners and channels are named by stream; `namespace` gives each stream's channel on the
    broadcaster and `seal` its key. A hub without a seal has a key of its own: it hears only the
    events it published itself, so a hub that shares a broadcaster with other processes must be
    given the deployment's. `telemetry` hears what it does (publishes, drops, refusals)."""

    def __init__(
        self,
        broadcast: Broadcast,
        *,
        log: EventLog | None = None,
        buffer: int = 256,
        watch_interval: float = 1.0,
        seal: Seal | None = None,
        namespace: Namespace | None = None,
        telemetry: Telemetry = NO_TELEMETRY,
    ) -> None:
        self.telemetry = telemetry
        self._broadcast = broadcast
        self._seal = seal or Seal.ephemeral()
        self.namespace = namespace or Namespace()
        self._rejections = Rejections(telemetry)
        self._log = log
        self._buffer = buffer
        self._watch_interval = watch_interval
        self._listeners: dict[str, set[Listener]] = {}
        self._pumps: dict[str, _Pump] = {}
        self._stopping: dict[str, asyncio.Task[None]] = {}
        self._passed: dict[str, int] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._poke = asyncio.Event()
        self._watchdog: asyncio.Task[None] | None = None
        self.listener_count = 0

    def start(self) -> None:
        if self._log is not None and self._watchdog is None:
            self._watchdog = asyncio.create_task(self._watch())

    def poke(self) -> None:
        """Check the log now, e.g. because the broadcaster has just reconnected."""
        self._poke.set()

    async def close(self) -> None:
        """Stops the watchdog and every channel subscription, waiting until each has ended."""
        tasks = [pump.task for pump in self._pumps.values()] + list(self._stopping.values())
        if self._watchdog is not None:
            tasks.append(self._watchdog)
            self._watchdog = None
        self._pumps.clear()
        self._stopping.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def publish(self, event: Envelope) -> None:
        channel = self.namespace.channel(event.stream)
        await self._broadcast.publish(channel, self._seal.seal(channel, event))
        self.telemetry.published(event.stream)

    @asynccontextmanager
    async def listen(self, channels: Iterable[str], *, field: str = "none") -> AsyncIterator[Listener]:
        """Yields once every channel is subscribed, so nothing published after is missed. `field`
        names what listens, for telemetry."""
        listener = Listener(self._buffer, on_drop=self.telemetry.dropped)
        wanted = list(dict.fromkeys(channels))
        joined: list[str] = []
        self.listener_count += 1
        self.telemetry.listening(field, 1)
        try:
            for channel in wanted:
                joined.append(channel)
                await self._join(channel, listener)
            yield listener
        finally:
            self.listener_count -= 1
            self.telemetry.listening(field, -1)
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
        self._passed.pop(channel, None)
        lock = self._locks.get(channel)
        if lock is not None and not lock.locked():
            del self._locks[channel]
        pump = self._pumps.pop(channel, None)
        if pump is not None:
            pump.task.cancel()
            self._stopping[channel] = pump.task
            pump.task.add_done_callback(lambda task: self._forget_stopped(channel, task))

    def _forget_stopped(self, channel: str, task: asyncio.Task[None]) -> None:
        if self._stopping.get(channel) is task:
            del self._stopping[channel]

    async def _pump(self, channel: str, ready: asyncio.Event) -> None:
        # `channel` is a stream's name here; `wire` is its channel on the broadcaster.
        # A channel being left must finish unsubscribing before it is subscribed again.
        previous = self._stopping.pop(channel, None)
        if previous is not None:
            await asyncio.wait({previous})
        wire = self.namespace.channel(channel)
        async with self._broadcast.subscribe(wire) as subscriber:
            if self._log is not None:
                await self._learn_head(channel)
            ready.set()
            # broadcaster 0.3.1 annotates Subscriber.__aiter__ as "AsyncGenerator[Event | None] | None";
            # it yields only Events, and ends when unsubscribed.
            async for message in cast(AsyncIterable[Event], subscriber):
                try:
                    event = self._seal.open(wire, message.message, stream=channel)
                except Refused as refused:
                    self._rejections.refused(wire, refused.reason)
                    continue
                await self._pass_on(channel, event)

    async def _learn_head(self, channel: str) -> bool:
        assert self._log is not None
        try:
            self._passed[channel] = (await self._log.heads([channel]))[channel]
        except Exception:
            log.exception("reading the head of %s failed; its events wait for the log", channel)
            return False
        return True

    async def _pass_on(self, channel: str, event: Envelope) -> None:
        async with self._lock(channel):
            if channel not in self._listeners:
                return  # left while this message waited
            if self._log is None:
                self._fan_out(channel, event)
                return
            if channel not in self._passed and not await self._learn_head(channel):
                return  # not knowing where the log stands, pass on nothing it has not confirmed
            passed = self._passed[channel]
            if event.seq <= passed:
                return  # already passed on (from the log, or a replay)
            if event.seq == passed + 1:
                self._fan_out(channel, event)
                return
            # Skipping ahead: the log says what happened up to this seq, and whether it did.
            logged = await self._read(channel, passed, event.seq)
            if logged is None:
                return  # the watchdog reads them once the log answers again
            for missed in logged:
                self._fan_out(channel, missed)
            if self._passed.get(channel, 0) < event.seq:
                await self._check_in_log(channel, event.seq)

    async def _check_in_log(self, channel: str, seq: int) -> None:
        """A sealed message whose seq the log did not give back: refused if the log has no such
        seq yet; if it has (a read capped short), the watchdog brings the rest."""
        assert self._log is not None
        try:
            head = (await self._log.heads([channel]))[channel]
        except Exception:
            log.exception("reading the head of %s failed", channel)
            return
        if head < seq:
            self._rejections.refused(self.namespace.channel(channel), "not_in_log")
        else:
            self.poke()

    def _fan_out(self, channel: str, event: Envelope) -> None:
        if event.seq <= self._passed.get(channel, 0):
            return
        if channel in self._listeners:
            self._passed[channel] = event.seq
        for listener in tuple(self._listeners.get(channel, ())):
            listener.deliver(event)

    async def _read(self, channel: str, after: int, until: int) -> list[Envelope] | None:
        assert self._log is not None
        try:
            return await self._log.read(channel, after=after, until=until)
        except Exception:
            log.exception("reading %s after %d from the log failed", channel, after)
            return None

    def _lock(self, channel: str) -> asyncio.Lock:
        lock = self._locks.get(channel)
        if lock is None:
            lock = self._locks[channel] = asyncio.Lock()
        return lock

    async def _watch(self) -> None:
        assert self._log is not None
        failing = False
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poke.wait(), self._watch_interval)
            self._poke.clear()
            try:
                await self._catch_up()
            except Exception:
                # Once per outage, not once a second for as long as the database is away.
                if not failing:
                    log.exception("the log watchdog failed; retrying every %.1f s", self._watch_interval)
                failing = True
            else:
                if failing:
                    log.warning("the log watchdog reads the log again")
                failing = False

    async def _catch_up(self) -> None:
        assert self._log is not None
        channels = [c for c in self._passed if c in self._listeners]
        if not channels:
            return
        heads = await self._log.heads(channels)
        for channel in channels:
            passed = self._passed.get(channel)
            if passed is None or heads.get(channel, 0) <= passed:
                continue
            async with self._lock(channel):
                passed = self._passed.get(channel, 0)
                for event in await self._read(channel, passed, heads[channel]) or ():
                    self._fan_out(channel, event)
