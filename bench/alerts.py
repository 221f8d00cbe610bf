"""What stored alerts cost a price write: `storeOdds` timed with 0 and with 100,000 alerts.

Alerts are spread over 4,000 runners (25 each, none of them firing), so each write looks up
its own runners' alerts through the index. Prints the median time per call over several runs
and the ratio, on SQLite and on PostgreSQL.

    .venv/bin/python bench/alerts.py [--alerts 100000] [--runs 5] [--calls 30] [--sqlite-only]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import asyncpg
from broadcaster import Broadcast
from sqlalchemy import insert, select

from pubsub.hub import Hub
from resolvers.race_cards import MeetingCard, RaceCard, RunnerCard, load_race_cards
from resolvers.store_odds import OddsWriter, Quote, StoreOdds, store_odds
from storage.database import Database
from storage.migrate import upgrade
from storage.models import Alert, AlertKind, Runner

POSTGRES_ADMIN_URL = os.environ.get("RACEWIRE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
MEETINGS, RACES, RUNNERS = 50, 10, 8


async def measure(url: str, *, alerts: int, runs: int, calls: int) -> list[tuple[int, float]]:
    db = Database(url)
    broadcast = Broadcast("memory://")
    await broadcast.connect()
    hub = Hub(broadcast)
    try:
        await upgrade(db)
        runners = await _cards(db)
        target = runners[0][0]
        writer = _Writer(db, hub, target, [r for r, race in runners if race == target])
        figures = [(0, await _median(writer, runs, calls))]
        await _insert_alerts(db, runners, alerts)
        figures.append((alerts, await _median(writer, runs, calls)))
        return figures
    finally:
        await broadcast.disconnect()
        await db.dispose()


async def _cards(db: Database) -> list[tuple[int, int]]:
    post = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    cards = [
        MeetingCard(
            venue=f"Venue {m}",
            country="GB",
            date=date.today(),
            going="Good",
            races=tuple(
                RaceCard(
                    number=n,
                    name=f"Race {m}-{n}",
                    post_time=post + timedelta(minutes=n),
                    distance_m=1600,
                    runners=tuple(RunnerCard(number=i, horse=f"Horse {m}-{n}-{i}") for i in range(1, RUNNERS + 1)),
                )
                for n in range(1, RACES + 1)
            ),
        )
        for m in range(MEETINGS)
    ]
    await load_race_cards(db=db, cards=cards)
    async with db.read() as session:
        rows = await session.execute(select(Runner.id, Runner.race_id).order_by(Runner.race_id, Runner.number))
        return [(runner_id, race_id) for runner_id, race_id in rows]


async def _insert_alerts(db: Database, runners: list[tuple[int, int]], count: int) -> None:
    """In bulk, with SQLAlchemy core: levels and moves that the benchmark's prices never reach."""
    now = datetime.now(UTC)
    rows = []
    for n in range(count):
        runner_id, race_id = runners[n % len(runners)]
        level = n % 2 == 0
        rows.append(
            {
                "user": f"user-{n % 5000}",
                "kind": AlertKind.PRICE_LEVEL if level else AlertKind.PRICE_MOVE,
                "race_id": race_id,
                "runner_id": runner_id,
                "above": True if level else None,
                "level": 900.0 if level else None,
                "percent": None if level else 900.0,
                "reference": None if level else 3.0,
                "armed": True,
                "created_at": now,
            }
        )
    for start in range(0, len(rows), 5000):
        async with db.write() as session:
            await session.execute(insert(Alert), rows[start : start + 5000])


class _Writer:
    def __init__(self, db: Database, hub: Hub, race_id: int, runner_ids: list[int]) -> None:
        self.db, self.hub, self.race_id, self.runner_ids = db, hub, race_id, runner_ids
        self.odds = OddsWriter(db, hub)
        self.at = datetime.now(UTC) - timedelta(hours=3)
        self.n = 0

    async def __call__(self) -> float:
        self.n += 1
        self.at += timedelta(seconds=1)
        quotes = tuple(Quote(r, 2.0 + (self.n + i) % 40 / 10) for i, r in enumerate(self.runner_ids))
        started = time.perf_counter()
        await store_odds(
            odds=self.odds,
            command=StoreOdds(race_id=self.race_id, source="bench", observed_at=self.at, quotes=quotes),
        )
        return time.perf_counter() - started


async def _median(writer: _Writer, runs: int, calls: int) -> float:
    await writer()  # warm caches and the connection pool
    medians = []
    for _ in range(runs):
        medians.append(statistics.median([await writer() for _ in range(calls)]))
    return statistics.median(medians)


async def _postgres_database() -> tuple[str, str]:
    name = f"racewire_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return name, f"{base}/{name}"


async def _drop(name: str) -> None:
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    results: list[tuple[str, list[tuple[int, float]]]] = []
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite+aiosqlite:///{directory}/bench.db"
        results.append(("sqlite", await measure(url, alerts=args.alerts, runs=args.runs, calls=args.calls)))
    if not args.sqlite_only:
        name, url = await _postgres_database()
        try:
            results.append(("postgresql", await measure(url, alerts=args.alerts, runs=args.runs, calls=args.calls)))
        finally:
            await _drop(name)
    print(f"storeOdds of {RUNNERS} prices, median of {args.runs} runs x {args.calls} calls")
    print(f"{'database':<12}{'alerts':>9}{'ms/call':>10}{'ratio':>8}")
    for backend, figures in results:
        base = figures[0][1]
        for alerts, seconds in figures:
            print(f"{backend:<12}{alerts:>9,}{seconds * 1000:>10.2f}{seconds / base:>8.2f}")


if __name__ == "__main__":
    asyncio.run(main())
