"""Feed health: a source is LIVE while it calls, STALE once silent for longer than the stale
time. Every accepted `storeOdds` and every `feedHeartbeat` is a heartbeat; every process sweeps
for silent sources, and the database decides which process makes (and publishes) a transition.

A transition is one event on the `feeds` stream and, for each race that takes prices and holds
the source's quotes, one `feed` event on the race's odds stream: those quotes with their new
freshness, and whether every source of the race is now stale."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from events.envelope import Envelope
from events.payloads import HeldPrice, MarketFreshness, SourceFreshness
from pubsub import channels
from pubsub.hub import Hub
from resolvers.publishing import publish_committed
from resolvers.sources import TAKES_PRICES, authorize_source, check_source
from resolvers.viewer import Viewer
from storage import events, feeds, prices
from storage.availability import is_unavailable
from storage.database import Database
from storage.models import PriceSource

log = logging.getLogger(__name__)

LIVE = "LIVE"
STALE = "STALE"


@dataclass(frozen=True)
class FeedState:
    source: str
    status: str
    last_seen_at: datetime | None
    changed_at: datetime | None


class RecentHeartbeats:
    """When this process last wrote each source's heartbeat, so that a source calling many times
    a second has it written at most every SPACING seconds. A source cannot have gone stale since:
    a sweep marks only a source silent for the stale time, which the settings hold to at least
    MIN_FEED_STALE_SECONDS > SPACING. A sweep in this process forgets them all (it may be a
    test's sweep ahead of the clock)."""

    SPACING = 0.5

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._written: dict[int, float] = {}

    def due(self, source_ids: Iterable[int]) -> list[int]:
        now = self._clock()
        return sorted(i for i in set(source_ids) if now - self._written.get(i, -math.inf) >= self.SPACING)

    def wrote(self, source_ids: Iterable[int]) -> None:
        """After the transaction that wrote them committed."""
        now = self._clock()
        self._written.update((i, now) for i in source_ids)

    def forget(self) -> None:
        self._written.clear()


async def revive(session: AsyncSession, source_ids: list[int], now: datetime) -> list[Envelope]:
    """The heartbeat of accepted calls, inside their transaction: the events to publish after
    commit for the sources it brings back to LIVE (usually none)."""
    changed = await feeds.heartbeat(session, source_ids, now)
    return await _transition_events(session, changed, stale=False, now=now) if changed else []


async def feed_heartbeat(
    *, db: Database, hub: Hub, source: str, writer: Viewer | None, require_sources: bool
) -> FeedState:
    """`feedHeartbeat`: the source says it is alive without a price change."""
    check_source(source)
    if writer is not None:
        authorize_source(writer, source, required=require_sources)
    now = datetime.now(UTC)
    async with db.write() as session:
        ids = await prices.source_ids(session, [source], now=now)
        published = await revive(session, [ids[source]], now)
        row = await feeds.source(session, source)
        assert row is not None  # registered above
        result = _state(row)
    for event in published:
        await publish_committed(hub, event)
    return result


async def sweep(
    *,
    db: Database,
    hub: Hub,
    stale_after: timedelta,
    now: datetime | None = None,
    heartbeats: RecentHeartbeats | None = None,
) -> list[str]:
    """Marks stale the sources silent for longer than `stale_after` and publishes that; returns
    the sources this process marked (another process's sweep may have won the others). The
    process's `heartbeats` are forgotten when it marks any, so the next call of each writes one."""
    now = now or datetime.now(UTC)
    async with db.write() as session:
        changed = await feeds.mark_stale(session, silent_since=now - stale_after, now=now)
        published = await _transition_events(session, changed, stale=True, now=now) if changed else []
    if changed and heartbeats is not None:
        heartbeats.forget()
    for event in published:
        await publish_committed(hub, event)
    return [c.code for c in changed]


async def watch_feeds(
    *, db: Database, hub: Hub, stale_after: float, interval: float, heartbeats: RecentHeartbeats | None = None
) -> None:
    """Sweeps every `interval` seconds until cancelled. An unreachable database is said once per
    outage, without a traceback: it is not a fault of this code."""
    down = False
    while True:
        try:
            marked = await sweep(db=db, hub=hub, stale_after=timedelta(seconds=stale_after), heartbeats=heartbeats)
            if down:
                log.info("sweeping for stale price sources again: the database is back")
            down = False
            if marked:
                log.warning("price sources gone stale (silent over %gs): %s", stale_after, ", ".join(marked))
        except Exception as error:
            if not _unreachable(error):
                log.exception("sweeping for stale price sources failed")
            elif not down:
                log.warning("database unavailable to the stale-source sweep: %s: %s", type(error).__name__, error)
                down = True
        await asyncio.sleep(interval)


def _unreachable(error: BaseException | None) -> bool:
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if is_unavailable(error):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


def sweep_interval(stale_after: float) -> float:
    """Often enough that a source is marked within a tenth of the stale time (at most a second)."""
    return min(1.0, max(0.05, stale_after / 10))


async def feed_states(db: Database) -> list[FeedState]:
    async with db.read() as session:
        rows = await feeds.all_sources(session)
    return [_state(row) for row in rows]


def _state(row: PriceSource) -> FeedState:
    return FeedState(row.code, STALE if row.stale else LIVE, row.last_seen_at, row.status_changed_at)


async def _transition_events(
    session: AsyncSession, changed: list[feeds.Changed], *, stale: bool, now: datetime
) -> list[Envelope]:
    status = STALE if stale else LIVE
    published = await events.append_many(
        session, channels.FEEDS, [SourceFreshness(c.code, status, c.last_seen_at) for c in changed], now=now
    )
    codes = {c.source_id: c.code for c in changed}
    quoted = await feeds.open_quotes(session, list(codes), TAKES_PRICES)
    by_race: dict[tuple[int, int], list[HeldPrice]] = {}
    for q in quoted:
        by_race.setdefault((q.race_id, q.source_id), []).append(HeldPrice(q.runner_id, q.decimal, q.observed_at))
    live = await feeds.live_sources(session, sorted({race for race, _ in by_race}))
    ordered = sorted(by_race, key=lambda key: (key[0], codes[key[1]]))
    for n, (race_id, source_id) in enumerate(ordered):
        # Each event says what holds once it is read: sources told of later are not stale yet.
        untold = {s for r, s in ordered[n + 1 :] if r == race_id}
        payload = MarketFreshness(
            race_id=race_id,
            source=codes[source_id],
            status=status,
            stale=stale,
            market_stale=stale and not (live[race_id] | untold),
            prices=tuple(by_race[race_id, source_id]),
        )
        published.append(await events.append(session, stream=channels.odds(race_id), payload=payload, now=now))
    return published
