"""The simulated price feed: walks today's races through their day and moves their prices,
through the same use cases the API calls, so the demo exercises the real write path."""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from demo.data import BOOKMAKER, DEMO_SOURCES, ladder_for, nudge, opening_prices, snap
from pubsub.hub import Hub
from resolvers.errors import ApiError
from resolvers.feed_health import feed_heartbeat
from resolvers.news import NewsDraft, publish_news
from resolvers.odds_formats import to_fractional
from resolvers.race_cards import scratch_runner
from resolvers.race_status import allowed_next, set_race_status
from resolvers.sources import TAKES_PRICES
from resolvers.store_odds import OddsWriter, Quote, StoreOdds, store_odds
from storage import prices, races
from storage.database import Database
from storage.models import RaceStatus

log = logging.getLogger(__name__)

S = RaceStatus
OPEN_BEFORE = timedelta(minutes=60)
OFF_FOR = timedelta(minutes=2)
FINISHED_FOR = timedelta(minutes=1)
# How far along its day each status is; a race behind its post time's stage moves one step per tick.
_STAGE = {S.SCHEDULED: 0, S.BETTING_OPEN: 1, S.SUSPENDED: 1, S.OFF: 2, S.FINISHED: 3, S.RESULTED: 4}
_FORWARD = {
    S.SCHEDULED: S.BETTING_OPEN,
    S.SUSPENDED: S.BETTING_OPEN,
    S.BETTING_OPEN: S.OFF,
    S.OFF: S.FINISHED,
    S.FINISHED: S.RESULTED,
}

Book = dict[int, float]  # runner id -> decimal price


@dataclass
class RaceView:
    """What one tick knows of a race: read at the start of the tick, updated by its own writes."""

    id: int
    name: str
    venue: str
    going: str | None
    post_time: datetime
    status: RaceStatus
    runners: dict[int, str]  # non-scratched runner id -> horse
    ante_post: bool = False  # a race on a later day: its betting is open until its day comes


def stage_due(post_time: datetime, now: datetime) -> int:
    if now < post_time - OPEN_BEFORE:
        return _STAGE[S.SCHEDULED]
    if now < post_time:
        return _STAGE[S.BETTING_OPEN]
    if now < post_time + OFF_FOR:
        return _STAGE[S.OFF]
    if now < post_time + OFF_FOR + FINISHED_FOR:
        return _STAGE[S.FINISHED]
    return _STAGE[S.RESULTED]


class Feed:
    """With `stale_after` (the server's stale time, in seconds), each source says it is alive
    when it has sent nothing for a third of it, and `quiet_source`, when named, now and then
    falls silent for two to three times that long, so the board shows it go stale and recover."""

    def __init__(
        self,
        *,
        db: Database,
        hub: Hub,
        odds: OddsWriter | None = None,
        rng: random.Random | None = None,
        sources: tuple[str, ...] = DEMO_SOURCES,
        stale_after: float | None = None,
        quiet_source: str | None = None,
        silence_rng: random.Random | None = None,
    ) -> None:
        self._db = db
        self._hub = hub
        self._odds = odds or OddsWriter(db, hub)  # the server's own, when it runs in one
        self._rng = rng or random.Random()
        self._sources = sources
        self._books: dict[int, dict[str, Book]] = {}  # race -> source -> prices last sent
        self._reopen_at: dict[int, datetime] = {}
        self._stale_after = stale_after
        self._quiet_source = quiet_source
        # Silences draw from their own generator: a seeded feed moves the same prices either way.
        self._silence_rng = silence_rng or random.Random(hash(self._rng.getstate()))
        self._silent_until: datetime | None = None
        self._last_sent: dict[str, datetime] = {}

    async def step(self, now: datetime) -> None:
        """One tick: every race catches up with the clock, then a few prices move, and now and
        then a race is suspended, a runner withdrawn or a news article published."""
        self._pick_silence(now)
        views = await self._snapshot(now)
        self._forget({race.id for race in views})
        for race in views:
            await self._attempt("advance", race, self._advance(race, now))
        open_races = [race for race in views if race.status is S.BETTING_OPEN]
        today = [race for race in open_races if not race.ante_post]
        moving = [race for race in open_races if race.ante_post]  # the tour's race moves every tick
        moving += self._rng.sample(today, min(len(today), self._rng.randint(1, 3)))
        for race in moving:
            await self._attempt("move", race, self._move(race, now))
        await self._occasionally(views, today, now)
        await self._heartbeats(now)

    def silent(self, source: str, now: datetime) -> bool:
        return source == self._quiet_source and self._silent_until is not None and now < self._silent_until

    def _pick_silence(self, now: datetime) -> None:
        if self._quiet_source is None or self._stale_after is None or self.silent(self._quiet_source, now):
            return
        if self._silence_rng.random() < 1 / 120:
            quiet = self._stale_after * self._silence_rng.uniform(2, 3)
            self._silent_until = now + timedelta(seconds=quiet)
            log.info("feed: %s goes silent for %.0fs", self._quiet_source, quiet)

    async def _heartbeats(self, now: datetime) -> None:
        if self._stale_after is None:
            return
        for source in self._sources:
            last = self._last_sent.get(source)
            if self.silent(source, now) or (last is not None and now - last < timedelta(seconds=self._stale_after / 3)):
                continue
            try:
                await feed_heartbeat(db=self._db, hub=self._hub, source=source, writer=None, require_sources=False)
                self._last_sent[source] = now
            except Exception:
                log.exception("feed: heartbeat of %s failed", source)

    async def _occasionally(self, views: list[RaceView], open_races: list[RaceView], now: datetime) -> None:
        rng = self._rng
        if open_races and rng.random() < 1 / 40:
            race = rng.choice(open_races)
            await self._attempt("suspend", race, self._suspend(race, now))
        fields = [
            r
            for r in views
            if r.status in TAKES_PRICES and r.post_time > now and len(r.runners) >= 6 and not r.ante_post
        ]
        if fields and rng.random() < 1 / 200:
            race = rng.choice(fields)
            await self._attempt("scratch", race, self._scratch(race))
        trading = [race for race in views if race.status in TAKES_PRICES]
        if trading and rng.random() < 1 / 30:
            race = rng.choice(trading)
            await self._attempt("news", race, self._news(race))

    def _forget(self, live: set[int]) -> None:
        """Drops what the feed remembers of races that are over (or were abandoned)."""
        for memory in (self._books, self._reopen_at):
            for race_id in set(memory) - live:
                del memory[race_id]

    async def _snapshot(self, now: datetime) -> list[RaceView]:
        async with self._db.read() as session:
            meetings = await races.meetings_from(session, now.date() - timedelta(days=1))
            by_meeting = await races.races_of_meetings(session, [m.id for m in meetings])
            live = [(m, r) for m in meetings for r in by_meeting[m.id] if r.status in _FORWARD]
            runners = await races.runners_of_races(session, [r.id for _, r in live])
        views = [
            RaceView(
                id=r.id,
                name=r.name,
                venue=m.venue,
                going=m.going,
                post_time=r.post_time,
                status=r.status,
                runners={x.id: x.horse for x in runners[r.id] if not x.scratched},
                ante_post=m.date > now.date(),
            )
            for m, r in live
        ]
        return sorted(views, key=lambda view: (view.post_time, view.id))

    async def _attempt(self, action: str, race: RaceView, work: Awaitable[None]) -> None:
        try:
            await work
        except ApiError as error:
            log.warning("feed: %s on race %d refused: %s", action, race.id, error.message)
        except Exception:
            log.exception("feed: %s on race %d failed", action, race.id)

    async def _advance(self, race: RaceView, now: datetime) -> None:
        due = max(stage_due(race.post_time, now), _STAGE[S.BETTING_OPEN] if race.ante_post else 0)
        if race.status is S.SUSPENDED:
            if due > _STAGE[S.SUSPENDED] or now >= self._reopen_at.get(race.id, now):
                await self._set(race, S.BETTING_OPEN)
            return
        if due <= _STAGE[race.status]:
            return
        if race.status is S.SCHEDULED:
            await self._open_book(race, now)
        result = await self._finishing_order(race) if race.status is S.FINISHED else None
        await self._set(race, _FORWARD[race.status], result)

    async def _set(self, race: RaceView, status: RaceStatus, result: list[int] | None = None) -> None:
        if status not in allowed_next(race.status):
            raise RuntimeError(f"feed bug: {race.status.value} -> {status.value} is not allowed")
        await set_race_status(db=self._db, hub=self._hub, race_id=race.id, status=status, result=result)
        race.status = status
        self._reopen_at.pop(race.id, None)

    async def _open_book(self, race: RaceView, now: datetime) -> None:
        if not race.runners:
            return
        base = opening_prices(self._rng, sorted(race.runners))
        for source in self._sources:
            ladder = ladder_for(source)
            book = {r: snap(price * self._rng.uniform(0.95, 1.05), ladder) for r, price in base.items()}
            if not self.silent(source, now):
                await self._attempt(f"open book of {source}", race, self._send(race, source, book, now))

    async def _send(self, race: RaceView, source: str, book: Book, now: datetime) -> None:
        quotes = tuple(Quote(runner_id=r, decimal=p) for r, p in sorted(book.items()) if r in race.runners)
        if not quotes:
            return
        command = StoreOdds(race_id=race.id, source=source, observed_at=now, quotes=quotes)
        await store_odds(odds=self._odds, command=command)
        self._last_sent[source] = now
        self._books.setdefault(race.id, {}).setdefault(source, {}).update(
            (quote.runner_id, quote.decimal) for quote in quotes
        )

    async def _market(self, race: RaceView) -> dict[str, Book]:
        """The prices last sent for the race, from memory or, after a restart, from the database."""
        if not self._books.get(race.id):
            async with self._db.read() as session:
                rows = (await prices.current_for_races(session, [race.id]))[race.id]
            books: dict[str, Book] = {}
            for price, code, _stale in rows:
                books.setdefault(code, {})[price.runner_id] = price.decimal
            self._books[race.id] = books
        return self._books[race.id]

    async def _move(self, race: RaceView, now: datetime) -> None:
        books = await self._market(race)
        if not books:
            return
        source = self._rng.choice(sorted(books))
        if self.silent(source, now):
            return
        priced = sorted(runner for runner in books[source] if runner in race.runners)
        if not priced:
            return
        chosen = self._rng.sample(priced, self._rng.randint(1, min(4, len(priced))))
        ladder = ladder_for(source)
        moves = {r: nudge(books[source][r], _consensus(books, r), self._rng, ladder) for r in chosen}
        await self._send(race, source, moves, now)

    async def _finishing_order(self, race: RaceView) -> list[int]:
        """Runners in a random finishing order where a shorter price is likelier to win."""
        books = await self._market(race)
        chance = {r: 1 / _consensus(books, r) if any(r in b for b in books.values()) else 0.02 for r in race.runners}
        keys = {r: self._rng.random() ** (1 / chance[r]) for r in race.runners}
        return sorted(race.runners, key=lambda runner: keys[runner], reverse=True)

    async def _suspend(self, race: RaceView, now: datetime) -> None:
        if race.post_time - now < timedelta(minutes=3):
            return  # too close to the off to come back
        await self._set(race, S.SUSPENDED)
        self._reopen_at[race.id] = now + timedelta(seconds=self._rng.uniform(20, 90))

    async def _scratch(self, race: RaceView) -> None:
        runner = self._rng.choice(sorted(race.runners))
        await scratch_runner(db=self._db, hub=self._hub, runner_id=runner)
        horse = race.runners.pop(runner)
        for book in self._books.get(race.id, {}).values():
            book.pop(runner, None)
        await self._publish(
            race,
            "non-runner",
            f"{horse} a non-runner in the {_title(race)}",
            f"{horse} has been withdrawn from the {race.name}. Bets on {horse} are void.",
        )

    async def _news(self, race: RaceView) -> None:
        books = self._books.get(race.id) or {}
        priced = [r for r in race.runners if any(r in book for book in books.values())]
        if priced and self._rng.random() < 0.6:
            favourite = min(priced, key=lambda r: _consensus(books, r))
            horse = race.runners[favourite]
            price = to_fractional(snap(_consensus(books, favourite), BOOKMAKER))
            await self._publish(
                race,
                "market-move",
                f"{horse} heads the betting for the {_title(race)}",
                f"{horse} is the {price} favourite for the {race.name}.",
            )
            return
        going = race.going or "Good"
        await self._publish(
            race,
            "going",
            f"{race.venue} going: {going}",
            f"The clerk of the course reports {going} ground ahead of the {_title(race)}.",
        )

    async def _publish(self, race: RaceView, tag: str, headline: str, body: str) -> None:
        venue_tag = re.sub(r"[^a-z0-9]+", "-", race.venue.lower()).strip("-")[:40]
        draft = NewsDraft(
            headline=headline, body=body, tags=(tag, venue_tag) if venue_tag else (tag,), race_ids=(race.id,)
        )
        await publish_news(db=self._db, hub=self._hub, draft=draft)


def _consensus(books: dict[str, Book], runner: int) -> float:
    quotes = [book[runner] for book in books.values() if runner in book]
    return sum(quotes) / len(quotes)


def _title(race: RaceView) -> str:
    return f"{race.post_time:%H:%M} at {race.venue}"


async def run_feed(
    *,
    db: Database,
    hub: Hub,
    odds: OddsWriter | None = None,
    interval: float = 1.0,
    rng: random.Random | None = None,
    stale_after: float | None = None,
    first_tick: asyncio.Event | None = None,
) -> None:
    """Ticks the feed on the wall clock until cancelled; with `stale_after`, its last source
    falls silent now and then. `first_tick` is set once the first tick is done, failed or not."""
    feed = Feed(
        db=db,
        hub=hub,
        odds=odds,
        rng=rng,
        stale_after=stale_after,
        quiet_source=DEMO_SOURCES[-1] if stale_after is not None else None,
    )
    while True:
        try:
            await feed.step(datetime.now(UTC))
        except Exception:
            log.exception("feed: tick failed")
        if first_tick is not None:
            first_tick.set()
        await asyncio.sleep(interval)
