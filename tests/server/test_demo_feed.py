"""The demo cards and the simulated feed, driven on a simulated clock against a real database."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from broadcaster import Broadcast
from sqlalchemy import func, select

import demo.feed as feed_module
from demo.data import (
    _FRACTIONS,
    BOOKMAKER,
    DEMO_SOURCES,
    EXCHANGE,
    demo_cards,
    ladder_for,
    load_demo,
    nudge,
    opening_prices,
    snap,
    tick,
)
from demo.feed import Feed, run_feed, stage_due
from pubsub import channels
from pubsub.hub import Hub, Listener
from resolvers.errors import BadUserInput
from resolvers.feed_health import sweep
from resolvers.odds_formats import to_fractional
from resolvers.race_status import allowed_next
from resolvers.store_odds import OddsWriter
from storage import races
from storage.database import Database
from storage.migrate import upgrade
from storage.models import CurrentPrice, Event, Meeting, Price, PriceSource, Race, RaceStatus, Runner

S = RaceStatus
STAGE = {S.SCHEDULED: 0, S.BETTING_OPEN: 1, S.SUSPENDED: 1, S.OFF: 2, S.FINISHED: 3, S.RESULTED: 4}


@dataclass
class Env:
    db: Database
    hub: Hub


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/t.db")
    await upgrade(db)
    broadcast = Broadcast("memory://")
    await broadcast.connect()
    try:
        yield Env(db=db, hub=Hub(broadcast, buffer=100_000))
    finally:
        await broadcast.disconnect()
        await db.dispose()


class Eager(random.Random):
    """Every occasional action fires on every tick; uniform draws sit at their low end."""

    def random(self) -> float:
        return super().random() * 0.001


async def drive(feed: Feed, start: datetime, end: datetime, every: timedelta = timedelta(seconds=30)) -> datetime:
    """Ticks the feed from `start` to `end` on a simulated clock; returns the last tick's time."""
    now = start
    while now <= end:
        await feed.step(now)
        now += every
    return now - every


async def rows(db: Database, model: Any) -> list[Any]:
    async with db.read() as session:
        return list(await session.scalars(select(model)))


def due(race: Race, now: datetime) -> int:
    """The stage the feed should have brought a race to: the ante-post race (1) stays open."""
    return STAGE[S.BETTING_OPEN] if race.id == 1 else stage_due(race.post_time, now)


def _real_now() -> datetime:
    return datetime.now(UTC)


async def test_load_demo_loads_four_meetings_once(env: Env) -> None:
    now = datetime(2030, 5, 4, 13, 2, 17, tzinfo=UTC)
    added = await load_demo(db=env.db, now=now)

    async with env.db.read() as session:
        meetings = await races.meetings_on(session, now.date())
        by_meeting = await races.races_of_meetings(session, [m.id for m in meetings])
        all_races = [race for group in by_meeting.values() for race in group]
        runners = await races.runners_of_races(session, [race.id for race in all_races])
    assert len(meetings) == 4 and {m.country for m in meetings} <= {"GB", "IE"}
    assert added == len(all_races) + 1  # and the ante-post feature race
    for meeting in meetings:
        assert meeting.venue.isascii() and meeting.going
        group = by_meeting[meeting.id]
        assert 6 <= len(group) <= 8
        gaps = {(b.post_time - a.post_time) for a, b in pairwise(group)}
        assert gaps <= {timedelta(minutes=m) for m in (25, 30, 35)}
    for race in all_races:
        field = runners[race.id]
        assert 8 <= len(field) <= 14
        assert 1000 <= race.distance_m <= 4800 and race.status is S.SCHEDULED
        assert len({r.horse for r in field}) == len(field) and all(r.horse.isascii() for r in field)
        assert all(r.jockey and r.trainer and r.weight_kg and 50 <= r.weight_kg <= 76 for r in field)
        draws = [r.draw for r in field]
        assert draws == [None] * len(field) or sorted(draws) == list(range(1, len(field) + 1))
    posts = sorted(race.post_time for race in all_races)
    assert posts[0] == datetime(2030, 5, 4, 11, 30, tzinfo=UTC)  # 13:00 less 90 minutes
    assert posts[-1] > now + timedelta(hours=1)

    assert await load_demo(db=env.db, now=now) == 0
    assert await load_demo(db=env.db, now=now, seed=99) == 0
    assert len(await rows(env.db, Race)) == len(all_races) + 1
    # The next day brings its own cards, but the feature race a year ahead is still the same one.
    assert await load_demo(db=env.db, now=now + timedelta(days=1)) > 0
    assert len([race for race in await rows(env.db, Race) if race.name == "Racewire Grand National"]) == 1


@pytest.mark.soak
async def test_the_feature_race_is_race_1_and_stays_open_all_demo_long(env: Env) -> None:
    end = _real_now()
    start = end - timedelta(hours=6)
    await load_demo(db=env.db, now=start)
    async with env.db.read() as session:
        feature = (await races.races_by_ids(session, [1]))[1]
        field = (await races.runners_of_races(session, [1]))[1]
    assert feature.name == "Racewire Grand National" and feature.post_time > end + timedelta(weeks=51)
    assert [runner.id for runner in field] == list(range(1, 15))

    feed = Feed(db=env.db, hub=env.hub, rng=Eager(3))  # suspends and withdraws on every tick
    seen = set()
    now = start
    while now <= end:
        await feed.step(now)
        async with env.db.read() as session:
            seen.add((await races.races_by_ids(session, [1]))[1].status)
        now += timedelta(minutes=5)
    assert seen == {S.BETTING_OPEN}
    async with env.db.read() as session:
        assert not any(runner.scratched for runner in (await races.runners_of_races(session, [1]))[1])
    moves = [e for e in await rows(env.db, Event) if e.stream == channels.odds(1)]
    assert len(moves) > len(DEMO_SOURCES) + 50  # the opening books, then a move on every tick


def test_demo_cards_are_deterministic() -> None:
    anchor = datetime(2030, 5, 4, 13, 0, tzinfo=UTC)
    first = demo_cards(day=anchor.date(), anchor=anchor, rng=random.Random(7))
    assert first == demo_cards(day=anchor.date(), anchor=anchor, rng=random.Random(7))
    assert first != demo_cards(day=anchor.date(), anchor=anchor, rng=random.Random(8))


def test_ladders() -> None:
    for ladder in (EXCHANGE, BOOKMAKER):
        assert list(ladder) == sorted(set(ladder)) and ladder[0] == 1.02 and ladder[-1] <= 1000
    assert EXCHANGE[-1] == 1000.0 and {2.0, 3.0, 4.0, 6.0, 10.0, 20.0, 50.0, 100.0} <= set(EXCHANGE)
    # Bookmakers' prices read back as the fractions they quote.
    assert [to_fractional(price) for price in BOOKMAKER] == _FRACTIONS
    assert ladder_for("betfair") is EXCHANGE and ladder_for("bet365") is BOOKMAKER
    assert snap(1.503) == 1.5 and snap(2.013) == 2.02 and snap(3.33) == 3.35 and snap(47.3) == 48.0
    assert snap(0.5) == 1.02 and snap(5000) == 1000.0
    assert snap(3.3, BOOKMAKER) == 3.25 and snap(4.4, BOOKMAKER) == 4.33 and snap(999, BOOKMAKER) == 501.0
    assert tick(2.0, 1) == 2.02 and tick(2.0, -1) == 1.99 and tick(10.0, 1) == 10.5
    assert tick(1.02, -3) == 1.02 and tick(1000.0, 2) == 1000.0
    assert tick(3.0, 1, BOOKMAKER) == 3.12 and tick(3.0, -2, BOOKMAKER) == 2.8


@pytest.mark.parametrize("ladder", [EXCHANGE, BOOKMAKER], ids=["exchange", "bookmaker"])
def test_moves_are_small_steps_on_the_ladder(ladder: tuple[float, ...]) -> None:
    rng = random.Random(1)
    for price in ladder[::5]:
        for consensus in (price / 1.5, price, price * 1.5):
            moved = nudge(price, consensus, rng, ladder)
            assert moved in ladder and (moved != price or price in (ladder[0], ladder[-1]))
            low = min(tick(price, -1, ladder), snap(price * 0.9, ladder))
            high = max(tick(price, 1, ladder), snap(price * 1.1, ladder))
            assert low <= moved <= high
    # A price far above the consensus mostly comes back in.
    assert sum(nudge(10.0, 5.0, rng) < 10.0 for _ in range(1000)) > 750


@pytest.mark.parametrize("field", [2, 3, 5, 8, 11, 14])
def test_opening_books_look_like_a_market(field: int) -> None:
    longest = []
    for seed in range(200):
        for ladder in (EXCHANGE, BOOKMAKER):
            book = opening_prices(random.Random(seed), list(range(100, 100 + field)), ladder)
            assert sorted(book) == list(range(100, 100 + field))
            assert all(price in ladder for price in book.values())
            overround = sum(1 / price for price in book.values())
            assert 1.07 <= overround <= 1.24, (seed, book)
            if field >= 8:
                assert 2.5 <= min(book.values()) <= 4.0
            assert max(book.values()) <= 101
            longest.append(max(book.values()))
    if field >= 11:  # only big fields leave room for rags once a 2.5-4 favourite has its share
        assert sum(price >= 50 for price in longest) >= 40


@pytest.mark.soak
async def test_feed_walks_a_day_through_legal_states(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    end = _real_now()  # observedAt may not be in the future, so the simulated day ends now
    start = end - timedelta(minutes=150)
    await load_demo(db=env.db, now=start)
    feed = Feed(db=env.db, hub=env.hub, rng=random.Random(11))
    async with env.hub.listen([channels.STATUS]) as listener:
        early = await drive(feed, start, start + timedelta(minutes=3))
        # A few ticks in, the morning's races have caught up and the afternoon's are still to come.
        statuses = {race.status for race in await rows(env.db, Race)}
        assert statuses >= {S.SCHEDULED, S.BETTING_OPEN, S.RESULTED}
        last = await drive(feed, early + timedelta(seconds=30), end)
        stored = [e.seq for e in await rows(env.db, Event) if e.stream == channels.STATUS]
        # Every status change stored was also published live, in order: awaited one by one.
        heard = [await asyncio.wait_for(listener.get(), timeout=10) for _ in stored]
        assert [event.seq if event else None for event in heard] == sorted(stored) == list(range(1, len(stored) + 1))
        assert listener.empty() and not listener.overflowed

    all_races = await rows(env.db, Race)
    for race in all_races:
        assert STAGE[race.status] == due(race, last), (race.id, race.status, race.post_time)
    await _check_log(env.db, all_races)
    await _check_prices(env.db, all_races)
    events = await rows(env.db, Event)
    odds_moves = [e for e in events if e.kind == "odds" and len(e.payload["prices"]) <= 4]
    assert len(odds_moves) > 100  # opening books carry 8+ prices, moves 1-4
    assert any(e.kind == "news" for e in events)
    assert not [r for r in caplog.records if r.name == "demo.feed" and r.levelno >= logging.WARNING]


async def _check_log(db: Database, all_races: list[Race]) -> None:
    """Every stream's seq runs 1..n and the status stream replays as legal transitions only."""
    by_stream: dict[str, list[Event]] = defaultdict(list)
    for event in sorted(await rows(db, Event), key=lambda e: (e.stream, e.seq)):
        by_stream[event.stream].append(event)
    for stream, events in by_stream.items():
        assert [e.seq for e in events] == list(range(1, len(events) + 1)), stream
    status = {race.id: S.SCHEDULED for race in all_races}
    for event in by_stream[channels.STATUS]:
        race_id, previous, new = (event.payload["race_id"], S(event.payload["previous"]), S(event.payload["status"]))
        assert status[race_id] is previous and new in allowed_next(previous)
        status[race_id] = new
    assert status == {race.id: race.status for race in all_races}
    opened = {race.id for race in all_races if race.status is not S.SCHEDULED}
    assert {channels.odds(race_id) for race_id in opened} <= set(by_stream)


async def _check_prices(db: Database, all_races: list[Race]) -> None:
    """Prices sit on their source's ladder; every opened race is priced by every source for every
    runner still in it; results list exactly the runners that ran."""
    runners = await rows(db, Runner)
    running = defaultdict(set)
    for runner in runners:
        if not runner.scratched:
            running[runner.race_id].add(runner.id)
    codes = {source.id: source.code for source in await rows(db, PriceSource)}
    assert set(codes.values()) <= set(DEMO_SOURCES)
    for price in await rows(db, Price):
        assert 1.01 < price.decimal <= 1000 and price.decimal in ladder_for(codes[price.source_id])
    current = defaultdict(lambda: defaultdict(set))
    for price in await rows(db, CurrentPrice):
        current[price.race_id][price.source_id].add(price.runner_id)
    for race in all_races:
        if race.status is S.SCHEDULED:
            assert race.id not in current
            continue
        assert len(current[race.id]) == len(DEMO_SOURCES)
        assert all(quoted == running[race.id] for quoted in current[race.id].values())
        if race.status is S.RESULTED:
            assert sorted(race.result) == sorted(running[race.id])


@pytest.mark.soak
async def test_feed_survives_every_occasional_action_every_tick(env: Env) -> None:
    end = _real_now()
    start = end - timedelta(minutes=100)
    await load_demo(db=env.db, now=start)
    feed = Feed(db=env.db, hub=env.hub, rng=Eager(5))
    last = await drive(feed, start, end, every=timedelta(seconds=20))

    all_races = await rows(env.db, Race)
    for race in all_races:
        assert STAGE[race.status] == due(race, last)
    await _check_log(env.db, all_races)
    await _check_prices(env.db, all_races)
    events = await rows(env.db, Event)
    statuses = [e.payload for e in events if e.kind == "status"]
    assert any(p["status"] == "SUSPENDED" for p in statuses)
    assert any(p["previous"] == "SUSPENDED" and p["status"] == "BETTING_OPEN" for p in statuses)
    assert any(e.kind == "scratch" for e in events)
    async with env.db.read() as session:
        scratched = await session.scalar(select(func.count()).where(Runner.scratched))
        tags = {tag for e in events if e.kind == "news" for tag in e.payload["tags"]}
        counts = await races.runners_of_races(session, [race.id for race in all_races])
    assert scratched and {"non-runner", "going", "market-move"} <= tags
    # Withdrawals stop at five runners: a race is only picked while it has six or more.
    assert all(sum(not r.scratched for r in field) >= 5 for field in counts.values())


async def test_one_failing_action_does_not_stop_the_feed(
    env: Env, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    end = _real_now()
    start = end - timedelta(minutes=100)
    await load_demo(db=env.db, now=start)
    stuck = min(await rows(env.db, Race), key=lambda race: (race.post_time, race.id)).id
    real_set_status = feed_module.set_race_status

    async def refusing_odds(**_: Any) -> None:
        raise BadUserInput("the odds service is down")

    async def set_status(**kwargs: Any) -> Any:
        if kwargs["race_id"] == stuck:
            raise RuntimeError("boom")
        return await real_set_status(**kwargs)

    monkeypatch.setattr(feed_module, "store_odds", refusing_odds)
    monkeypatch.setattr(feed_module, "set_race_status", set_status)
    feed = Feed(db=env.db, hub=env.hub, rng=random.Random(2))
    last = await drive(feed, start, end, every=timedelta(minutes=1))

    for race in await rows(env.db, Race):
        expected = 0 if race.id == stuck else due(race, last)
        assert STAGE[race.status] == expected
    assert await rows(env.db, Price) == []
    logged = {(r.levelno, r.getMessage().split(": ")[1]) for r in caplog.records if r.name == "demo.feed"}
    assert (logging.WARNING, f"open book of bet365 on race {stuck} refused") in logged
    assert (logging.ERROR, f"advance on race {stuck} failed") in logged


@pytest.mark.soak
async def test_feed_picks_up_after_a_restart(env: Env) -> None:
    end = _real_now()
    start = end - timedelta(minutes=80)
    await load_demo(db=env.db, now=start)
    first = Feed(db=env.db, hub=env.hub, rng=random.Random(3))
    middle = await drive(first, start, end - timedelta(minutes=20))
    before = len(await rows(env.db, Price))
    # A new feed remembers nothing: it reads the open markets back from the database.
    second = Feed(db=env.db, hub=env.hub, rng=random.Random(4))
    await drive(second, middle + timedelta(seconds=30), end)
    assert len(await rows(env.db, Price)) > before
    all_races = await rows(env.db, Race)
    await _check_log(env.db, all_races)
    await _check_prices(env.db, all_races)


async def test_run_feed_ticks_on_the_wall_clock_until_cancelled(env: Env) -> None:
    assert await load_demo(db=env.db) > 0

    async def first_result(listener: Listener) -> None:
        while (event := await listener.get()) is None or getattr(event.payload, "status", None) != S.RESULTED.value:
            pass

    async with env.hub.listen([channels.STATUS]) as listener:
        task = asyncio.create_task(run_feed(db=env.db, hub=env.hub, interval=0.01, rng=random.Random(6)))
        try:
            await asyncio.wait_for(first_result(listener), timeout=30)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    statuses = {race.status for race in await rows(env.db, Race)}
    assert S.RESULTED in statuses and S.BETTING_OPEN in statuses
    assert await rows(env.db, Meeting)


class Switch(random.Random):
    """A silence generator the test turns on and off: on, a silence starts at the next tick."""

    fire = False

    def random(self) -> float:
        return 0.0 if self.fire else 0.99


async def test_the_quiet_source_falls_silent_now_and_then_while_the_others_keep_beating(env: Env) -> None:
    start = _real_now() - timedelta(minutes=10)
    await load_demo(db=env.db, now=start)
    switch = Switch()
    odds = OddsWriter(env.db, env.hub)
    feed = Feed(
        db=env.db,
        hub=env.hub,
        odds=odds,
        rng=random.Random(3),
        stale_after=30,
        quiet_source="skybet",
        silence_rng=switch,
    )
    tick = timedelta(seconds=11)  # over a third of the stale time: every source heard from speaks each tick
    last = await drive(feed, start, start + 3 * tick, every=tick)
    before = {s.code: s.last_seen_at for s in await rows(env.db, PriceSource)}
    assert set(before) == set(DEMO_SOURCES)

    switch.fire = True
    quiet_from = last + tick
    await drive(feed, quiet_from, quiet_from + 4 * tick, every=tick)  # a silence lasts 60 to 90 s
    switch.fire = False
    during = {s.code: s.last_seen_at for s in await rows(env.db, PriceSource)}
    assert during["skybet"] == before["skybet"]
    assert all(during[code] > before[code] for code in DEMO_SOURCES if code != "skybet")
    async with env.db.read() as session:
        quiet = await session.scalar(
            select(func.count())
            .select_from(Price)
            .join(PriceSource, PriceSource.id == Price.source_id)
            .where(PriceSource.code == "skybet", Price.observed_at >= quiet_from)
        )
    assert quiet == 0
    # Swept with a stale time that falls between its silence and the others' heartbeats: only it.
    gap = min(seen for code, seen in during.items() if code != "skybet") - during["skybet"]
    assert gap > timedelta(0)
    cutoff = during["skybet"] + gap / 2
    assert await sweep(db=env.db, hub=env.hub, stale_after=_real_now() - cutoff, heartbeats=odds.heartbeats) == [
        "skybet"
    ]

    await feed.step(quiet_from + timedelta(seconds=91))  # the silence is over: it speaks, and is live again
    after = {s.code: s for s in await rows(env.db, PriceSource)}
    assert after["skybet"].stale is False and after["skybet"].last_seen_at > during["skybet"]
