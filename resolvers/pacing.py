"""Per-subscription pace (`conflateMs`): at most one update per stream per window, merging what
arrived in it. Windows are aligned to the wall clock (every multiple of the window), so every
execution with the same window flushes at the same moments: a fan-out member that resumed on
its own reaches the same cursors as its group and can join it.

The catch-up after a cursor (merged into one event per stream by the follower) and snapshots
go out at once; live events wait for the end of their window."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass

from events.envelope import Envelope
from events.payloads import Conflated
from resolvers.errors import BadUserInput
from resolvers.streams import SNAPSHOT, Conflate

MAX_CONFLATE_MS = 120_000


def checked_window(conflate_ms: int | None) -> int:
    if conflate_ms is None:
        return 0
    if not 0 <= conflate_ms <= MAX_CONFLATE_MS:
        raise BadUserInput(f"conflateMs must be between 0 and {MAX_CONFLATE_MS}", field="conflateMs")
    return conflate_ms


@dataclass
class _Held:
    snapshot: Envelope | None = None
    merged: Envelope | None = None

    def floor(self) -> int | None:
        """The stream's position before the first event held (None: before a snapshot)."""
        if self.snapshot is not None or self.merged is None:
            return None
        payload = self.merged.payload
        return (payload.seq_from if isinstance(payload, Conflated) else self.merged.seq) - 1


class Paced:
    """Reads `events` (a StreamFollower, whose `positions` it is given) in a task of its own and
    yields (event, the positions a cursor for it must encode). Call `caught_up` when the
    follower's replay is over: that flushes it at once."""

    def __init__(
        self,
        *,
        window_ms: int,
        conflate: Conflate,
        positions: Callable[[], dict[str, int]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._window = window_ms / 1000
        self._conflate = conflate
        self._positions = positions
        self._clock = clock
        self._held: dict[str, _Held] = {}
        self._wake = asyncio.Event()
        self._urgent = False
        self._ended = False
        self._failure: BaseException | None = None

    def caught_up(self) -> None:
        self._urgent = True
        self._wake.set()

    async def run(self, events: AsyncIterable[Envelope]) -> AsyncIterator[tuple[Envelope, dict[str, int]]]:
        pump = asyncio.create_task(self._pump(events))
        try:
            while True:
                if not self._urgent and not self._ended:
                    await self._until_window_ends()
                if self._failure is not None:
                    raise self._failure
                if self._ended and not self._held:
                    return
                self._urgent = False
                self._wake.clear()
                batch, self._held = self._held, {}
                while batch:
                    stream, held = next(iter(batch.items()))
                    event = held.snapshot or held.merged
                    assert event is not None
                    if held.snapshot is not None and held.merged is not None:
                        held.snapshot = None
                    else:
                        del batch[stream]
                    yield event, self._cursor(batch)
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump

    async def _until_window_ends(self) -> None:
        now = self._clock()
        ends = (now // self._window + 1) * self._window
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, ends - now))

    async def _pump(self, events: AsyncIterable[Envelope]) -> None:
        try:
            async for event in events:
                held = self._held.setdefault(event.stream, _Held())
                if event.kind == SNAPSHOT:
                    held.snapshot, held.merged = event, None
                    self.caught_up()
                elif held.merged is None:
                    held.merged = event
                else:
                    held.merged = self._conflate([held.merged, event])
        except Exception as error:  # noqa: BLE001 - raised to the reader, which ends the subscription with it
            self._failure = error
        finally:
            self._ended = True
            self._wake.set()

    def _cursor(self, batch: dict[str, _Held]) -> dict[str, int]:
        """The follower's positions, less what is read but not yet yielded."""
        positions = dict(self._positions())
        for undelivered in (self._held, batch):  # the batch's are the older
            for stream, held in undelivered.items():
                floor = held.floor()
                if floor is None:
                    positions.pop(stream, None)
                else:
                    positions[stream] = floor
        return positions
