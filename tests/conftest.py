"""Fixtures: a migrated database on SQLite and on PostgreSQL, a hub, and GraphQL helpers."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from broadcaster import Broadcast
from sqlalchemy import text

from pubsub.hub import Hub
from resolvers.race_cards import MeetingCard, RaceCard, RunnerCard, load_race_cards
from resolvers.store_odds import OddsWriter
from resolvers.viewer import ANONYMOUS, Viewer
from schema.context import Context
from schema.schema import schema
from storage.database import Database
from storage.migrate import upgrade
from storage.models import Base

# The suite's other shared fixtures, as plugins: tests/fixtures/ (no test module imports another's).
pytest_plugins = ["fixtures.tiers", "fixtures.live", "fixtures.cluster", "fixtures.js", "fixtures.hostile"]

POSTGRES_ADMIN_URL = os.environ.get("RACEWIRE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
ALL_SCOPES = frozenset({"odds:write", "races:write", "news:write"})
WRITER = Viewer(subject="feed-1", scopes=ALL_SCOPES)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session, dropped at the end."""
    name = f"racewire_test_{uuid.uuid4().hex[:10]}"
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    url = f"{base}/{name}"

    async def create() -> None:
        admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        db = Database(url)
        await upgrade(db)
        await db.dispose()

    async def drop() -> None:
        admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    try:
        _run_apart(create())
    except (OSError, asyncpg.PostgresError) as error:
        pytest.fail(f"PostgreSQL is needed at {POSTGRES_ADMIN_URL} (set RACEWIRE_TEST_POSTGRES): {error}")
    yield url
    _run_apart(drop())


def _run_apart(coroutine: Coroutine[Any, Any, None]) -> None:
    """Runs set-up work on its own loop, outside the tests' loop."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coroutine).result()


def seeded_sqlite(directory: Any, *cards: MeetingCard) -> str:
    """A migrated SQLite database holding the given cards, for a server process to open."""
    url = f"sqlite+aiosqlite:///{directory}/racewire.db"

    async def seed() -> None:
        db = Database(url)
        try:
            await upgrade(db)
            await load_race_cards(db=db, cards=list(cards))
        finally:
            await db.dispose()

    _run_apart(seed())
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[str]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/racewire.db"
        db = Database(url)
        await upgrade(db)
        await db.dispose()
        yield url
        return
    url = request.getfixturevalue("postgres_url")
    yield url
    db = Database(url)
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    async with db.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    await db.dispose()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


@pytest.fixture
async def hub() -> AsyncIterator[Hub]:
    broadcast = Broadcast("memory://")
    await broadcast.connect()
    yield Hub(broadcast)
    await broadcast.disconnect()


def card(*, venue: str = "Ascot", races: int = 1, runners: int = 8, day: date | None = None) -> MeetingCard:
    post = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    return MeetingCard(
        venue=venue,
        country="GB",
        date=day or post.date(),
        going="Good",
        races=tuple(
            RaceCard(
                number=n,
                name=f"{venue} Stakes {n}",
                post_time=post + timedelta(minutes=30 * n),
                distance_m=1600,
                runners=tuple(
                    RunnerCard(number=i, horse=f"Horse {n}-{i}", jockey=f"J {i}", draw=i) for i in range(1, runners + 1)
                ),
            )
            for n in range(1, races + 1)
        ),
    )


@pytest.fixture
async def race(db: Database) -> dict[str, Any]:
    """One race with eight runners, open for betting."""
    await load_race_cards(db=db, cards=[card()])
    async with db.read() as session:
        race_id = (await session.execute(text("SELECT id FROM races"))).scalar_one()
        runner_ids = [r for (r,) in await session.execute(text("SELECT id FROM runners ORDER BY number"))]
    return {"id": race_id, "runners": runner_ids}


class Api:
    """Runs operations against the real schema, as a given viewer."""

    def __init__(self, db: Database, hub: Hub) -> None:
        self.db = db
        self.hub = hub
        self.odds = OddsWriter(db, hub)

    def context(self, viewer: Viewer = ANONYMOUS) -> Context:
        return Context(db=self.db, hub=self.hub, odds=self.odds, viewer=viewer)

    async def execute(self, query: str, viewer: Viewer = WRITER, **variables: Any) -> Any:
        return await schema.execute(query, variable_values=variables, context_value=self.context(viewer))

    async def data(self, query: str, viewer: Viewer = WRITER, **variables: Any) -> dict[str, Any]:
        result = await self.execute(query, viewer, **variables)
        assert result.errors is None, result.errors
        return result.data

    async def error(self, query: str, viewer: Viewer = WRITER, **variables: Any) -> dict[str, Any]:
        result = await self.execute(query, viewer, **variables)
        assert result.errors, f"expected an error, got {result.data}"
        return {"message": result.errors[0].message, **(result.errors[0].extensions or {})}

    async def subscribe(self, query: str, **variables: Any) -> Any:
        return await schema.subscribe(query, variable_values=variables, context_value=self.context())


STORE_ODDS = "mutation($input: StoreOddsInput!) { storeOdds(input: $input) { seq cursor } }"


class Tick:
    """Stores a new price for the first runner each call, one second later each time."""

    def __init__(self, api: Api, race: dict[str, Any]) -> None:
        self.api = api
        self.race = race
        self.at = datetime.now(UTC) - timedelta(hours=1)
        self.price = 2.0

    async def __call__(self) -> dict[str, Any]:
        self.at += timedelta(seconds=1)
        self.price = round(self.price + 0.1, 2)
        body = {
            "raceId": str(self.race["id"]),
            "source": "betfair",
            "observedAt": self.at.isoformat(),
            "prices": [{"runnerId": str(self.race["runners"][0]), "decimal": self.price}],
        }
        return (await self.api.data(STORE_ODDS, input=body))["storeOdds"]


@pytest.fixture
def api(db: Database, hub: Hub) -> Api:
    return Api(db, hub)
