"""One timer for the deadlines of all connections, not one each: a connection's
`connection_init` deadline, then its next ping or pong deadline, is an entry in a `Deadlines`
slot. A TimerHandle per connection, with its callback and the copy of the context it runs in,
cost about 1 KB per idle connection."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
from typing import Protocol

log = logging.getLogger(__name__)


class HasDeadline(Protocol):
    def deadline_passed(self) -> None: ...


def tick_for(*periods: float) -> float:
    """The slot length: a small part of the shortest period, and at most a second."""
    return min([1.0, *(period / 4 for period in periods if period > 0)])


class Deadlines:
    """Connections' deadlines in slots of `tick` seconds, on the one timer of the earliest slot.
    A deadline falls due at the end of its slot: never early, at most a tick late."""

    def __init__(self, tick: float) -> None:
        self.tick = tick
        self._slots: dict[int, set[HasDeadline]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._armed = 0  # the slot the timer is for

    def add(self, handler: HasDeadline, delay: float) -> int:
        """Puts the handler in the slot `delay` seconds from now, and returns that slot."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a view serves one loop at a time: the last one's connections are gone
            self._loop, self._slots, self._timer = loop, {}, None
        slot = math.ceil((loop.time() + delay) / self.tick)
        self._slots.setdefault(slot, set()).add(handler)
        self._arm(slot)
        return slot

    def discard(self, handler: HasDeadline, slot: int) -> None:
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
