"""Whoever can publish on the Redis server is not trusted. On every channel the servers listen to,
forged messages (no seal, a wrong MAC, another deployment's key, another channel's seal, garbage,
the next seq or seq 999999999, a replay of a real message) reach no subscriber, and every real
event still reaches every subscriber exactly once and in order, live and on resume. Beside them,
the positive controls: two processes sharing the key deliver to each other, and two deployments
with different prefixes on one Redis do not hear each other.

Two server processes of one deployment share PostgreSQL and a Redis server of the test's own; their
log watchdog is slowed right down, so what crosses between them crosses on pub/sub."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from redis import asyncio as aioredis
from sqlalchemy import text

from conftest import card, seeded_sqlite
from events import codec
from events.envelope import Envelope
from events.payloads import (
    NewsPosted,
    NotificationPosted,
    OddsChanged,
    Payload,
    PriceChange,
    RaceStatusChanged,
    SourceFreshness,
)
from live_server import GraphQLWs, ServerProcess
from pubsub.seal import Seal
from redis_server import RedisServer
from resolvers.race_cards import load_race_cards
from server.auth import create_access_token
from storage.database import Database

SECRET = "hostile-pubsub-secret-0123456789abcdefgh"
KEY = "hostile-pubsub-deployment-key-0123456789"
OTHER_KEY = b"another-deployment-key-0123456789abcdef"
PREFIX, OTHER_PREFIX = "hostile-a:", "hostile-b:"
WRITER = create_access_token(secret=SECRET, subject="feed", scopes=["odds:write", "races:write", "news:write"])
PUNTER = "punter"

ODDS = (
    "subscription($ids: [ID!]!, $after: String) { oddsUpdated(raceIds: $ids, after: $after) "
    "{ seq cursor prices { runnerId source decimal } } }"
)
STATUS = (
    "subscription($ids: [ID!], $after: String) { raceStatus(raceIds: $ids, after: $after) "
    "{ raceId status seq cursor } }"
)
NEWS = "subscription($after: String) { news(after: $after) { seq cursor article { headline } } }"
NOTES = "subscription($after: String) { notifications(after: $after) { seq cursor notification { alertId price } } }"
STORE = "mutation($i: StoreOddsInput!) { storeOdds(input: $i) { seq } }"
SET_STATUS = "mutation($r: ID!, $s: RaceStatus!) { setRaceStatus(raceId: $r, status: $s) { id } }"
PUBLISH = "mutation($i: PublishNewsInput!) { publishNews(input: $i) { id } }"
ALERT = "mutation($i: AlertInput!) { createAlert(input: $i) { id } }"


def deployment_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    return {
        "RACEWIRE_DATABASE_URL": database_url,
        "RACEWIRE_BROADCAST_URL": redis_url,
        "RACEWIRE_JWT_SECRET": SECRET,
        "RACEWIRE_BROADCAST_KEY": KEY,
        "RACEWIRE_CHANNEL_PREFIX": PREFIX,
        "RACEWIRE_WATCH_INTERVAL_SECONDS": "3600",
        **extra,
    }


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.kill()


@pytest.fixture(scope="module")
def pair(postgres_url: str, redis: RedisServer) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """One deployment: a writer and a reader process."""
    env = deployment_env(postgres_url, redis.url)
    processes = (ServerProcess(env).start(), ServerProcess(env).start())
    yield processes
    for process in processes:
        process.stop()


@pytest.fixture(scope="module")
def neighbour(tmp_path_factory: pytest.TempPathFactory, redis: RedisServer) -> Iterator[ServerProcess]:
    """Another deployment on the same Redis, with its own database and prefix and, at worst, the
    same key: only the prefix keeps the two apart."""
    url = seeded_sqlite(tmp_path_factory.mktemp("neighbour"), card(runners=2))
    process = ServerProcess(deployment_env(url, redis.url, RACEWIRE_CHANNEL_PREFIX=OTHER_PREFIX)).start()
    yield process
    process.stop()


@pytest.fixture
async def race(postgres_url: str) -> dict[str, Any]:
    db = Database(postgres_url)
    try:
        meeting = (await load_race_cards(db=db, cards=[card(venue=f"Forgery {os.urandom(3).hex()}", runners=3)]))[0]
        async with db.read() as session:
            race_id = (
                await session.execute(text("SELECT id FROM races WHERE meeting_id = :m"), {"m": meeting.id})
            ).scalar_one()
            runners = [
                r
                for (r,) in await session.execute(
                    text("SELECT id FROM runners WHERE race_id = :r ORDER BY number"), {"r": race_id}
                )
            ]
    finally:
        await db.dispose()
    return {"id": str(race_id), "runners": [str(r) for r in runners]}


@pytest.fixture
async def spy(redis: RedisServer) -> AsyncIterator[Spy]:
    client = aioredis.Redis.from_url(redis.url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await pubsub.psubscribe(PREFIX + "*")
    yield Spy(client, pubsub)
    await pubsub.aclose()
    await client.aclose()


class Spy:
    """A raw Redis client: sees what the deployment publishes, and publishes whatever it likes."""

    def __init__(self, client: aioredis.Redis, pubsub: Any) -> None:
        self.client = client
        self.pubsub = pubsub
        self.seen: dict[str, list[bytes]] = {}

    async def drain(self) -> None:
        while (message := await self.pubsub.get_message(timeout=0.2)) is not None:
            if message["type"] == "pmessage":
                self.seen.setdefault(message["channel"].decode(), []).append(message["data"])

    async def listened(self) -> list[str]:
        """Every channel some process of the deployment is subscribed to."""
        return sorted(c.decode() for c in await self.client.pubsub_channels(PREFIX + "*"))

    async def forge(self, channel: str, race: dict[str, Any], *, next_seq: int) -> int:
        """Publishes every kind of forgery on `channel`; returns how many a hub must refuse (a
        replay is in the log already, so it is passed over, not refused)."""
        stream = channel.removeprefix(PREFIX)
        forged = [_lie(stream, seq, race).encode() for seq in (next_seq, 999_999_999)]
        lie = _lie(stream, next_seq, race)
        ahead = _lie(stream, 999_999_999, race)
        forged += [
            b"v1." + b"0" * 64 + b"." + lie.encode(),  # a wrong MAC
            Seal(OTHER_KEY).seal(channel, lie),  # right format, another deployment's key
            Seal(OTHER_KEY).seal(channel, ahead),
            Seal(KEY.encode()).seal(OTHER_PREFIX + stream, lie),  # our key, sealed for another channel
            b"\xff\xfe\x00 not even text" + os.urandom(32),
            b"",
            b"v1." + b"\xff" * 200,
        ]
        for message in forged:
            await self.client.publish(channel, message)
        for replay in self.seen.get(channel, [])[-2:]:
            await self.client.publish(channel, replay)
        return len(forged)


def _lie(stream: str, seq: int, race: dict[str, Any]) -> Envelope:
    """A plausible event of the stream's kind, as a forger would make it."""
    now = datetime.now(UTC)
    race_id, runner = int(race["id"]), int(race["runners"][0])
    payloads: dict[str, Payload] = {
        "odds": OddsChanged(race_id, "forger", now, (PriceChange(runner, 999.0),)),
        "status": RaceStatusChanged(race_id, "ABANDONED", "BETTING_OPEN", None),
        "news": NewsPosted(1, (), ()),
        "feeds": SourceFreshness("forger", "STALE", now),
        "user": NotificationPosted(1, 1, "PRICE_LEVEL", race_id, runner, 999.0, None, None, "forged", now, False),
    }
    payload = payloads.get(stream.split(":")[0], payloads["odds"])  # control and ping carry no events: any will do
    return Envelope(stream=stream, seq=seq, kind=codec.kind_of(payload), payload=payload, created_at=now.isoformat())


class Writer:
    """Real events through one process's HTTP API, each returning what its subscribers must see."""

    def __init__(self, http: httpx.AsyncClient, race: dict[str, Any]) -> None:
        self.http = http
        self.race = race
        self.at = datetime.now(UTC) - timedelta(hours=2)
        self.n = 0

    async def call(self, query: str, **variables: Any) -> dict[str, Any]:
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables}, headers={"Authorization": f"Bearer {WRITER}"}
        )
        body = response.json()
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    async def odds(self) -> int:
        self.n += 1
        self.at += timedelta(seconds=1)
        quote = {"runnerId": self.race["runners"][0], "decimal": 2 + self.n / 10}
        data = await self.call(
            STORE, i={"raceId": self.race["id"], "source": "feed", "observedAt": self.at.isoformat(), "prices": [quote]}
        )
        return int(data["storeOdds"]["seq"])

    async def status(self, status: str) -> str:
        await self.call(SET_STATUS, r=self.race["id"], s=status)
        return status

    async def round(self, statuses: list[str]) -> dict[str, list[Any]]:
        """Odds, status changes and an article: what each kind of subscriber must see next."""
        odds = [await self.odds() for _ in range(3)]
        return {"odds": odds, "status": [await self.status(s) for s in statuses], "news": [await self.news()]}

    async def news(self) -> str:
        self.n += 1
        headline = f"Going change {self.n} at {self.race['id']}"
        await self.call(PUBLISH, i={"headline": headline, "body": "Soft.", "raceIds": [self.race["id"]]})
        return headline


class Subscriber:
    """One subscription on its own graphql-transport-ws connection."""

    def __init__(self, client: GraphQLWs, field: str) -> None:
        self.client = client
        self.field = field

    @classmethod
    async def open(cls, server: ServerProcess, query: str, *, token: str | None = None, **variables: Any) -> Subscriber:
        payload = {"Authorization": f"Bearer {token}"} if token else None
        client = await GraphQLWs.open(server.ws, payload)
        await client.subscribe("s", query, **variables)
        field = re.search(r"\{ (\w+)\(", query)
        assert field is not None, f"no root field with arguments in {query}"
        return cls(client, field.group(1))

    async def take(self, count: int) -> list[dict[str, Any]]:
        return [(await self.client.next("s", timeout=20))[self.field] for _ in range(count)]

    async def close(self) -> None:
        await self.client.close()


async def punter_token(server: ServerProcess, race: dict[str, Any]) -> str:
    token = create_access_token(secret=SECRET, subject=f"{PUNTER}-{race['id']}", scopes=[])
    async with httpx.AsyncClient(base_url=server.http) as http:
        alert = {"kind": "PRICE_MOVE", "runnerId": race["runners"][0], "percent": 1}
        body = (
            await http.post(
                "/graphql",
                json={"query": ALERT, "variables": {"i": alert}},
                headers={"Authorization": f"Bearer {token}"},
            )
        ).json()
    assert "errors" not in body, body
    return token


async def subscribed(server: ServerProcess, count: int) -> None:
    """Waits for /ready to count the subscriptions, so nothing is written before they listen."""
    async with httpx.AsyncClient(base_url=server.http) as http:
        for _ in range(400):
            if (await http.get("/ready")).json()["subscriptions"] >= count:
                return
            await asyncio.sleep(0.025)
    raise AssertionError("the subscriptions never became active")


async def refusals(server: ServerProcess) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=server.http) as http:
        metrics = (await http.get("/metrics")).text
    found = re.findall(r'^racewire_broadcast_refused_total\{reason="(\w+)"\} (\S+)$', metrics, re.M)
    return {reason: float(value) for reason, value in found}


def real_seqs(updates: list[dict[str, Any]]) -> list[int]:
    """The seqs of odds updates, each checked to hold the real feed's prices only."""
    assert all(p["source"] == "feed" for u in updates for p in u["prices"]), updates
    return [u["seq"] for u in updates]


def contiguous(events: list[dict[str, Any]]) -> bool:
    seqs = [e["seq"] for e in events]
    return seqs == list(range(seqs[0], seqs[0] + len(seqs)))


async def test_forgeries_on_every_channel_reach_no_subscriber_and_every_real_event_does(
    pair: tuple[ServerProcess, ServerProcess], race: dict[str, Any], spy: Spy
) -> None:
    writer, reader = pair
    token = await punter_token(writer, race)
    before = sum((await refusals(reader)).values())
    ids = [race["id"]]
    subs = {
        "odds": [await Subscriber.open(reader, ODDS, ids=ids) for _ in range(2)]  # one shared execution
        + [await Subscriber.open(writer, ODDS, ids=ids)],
        "status": [await Subscriber.open(reader, STATUS, ids=ids)],
        "news": [await Subscriber.open(reader, NEWS)],
        "notes": [await Subscriber.open(reader, NOTES, token=token)],
    }
    await subscribed(reader, 5)
    async with httpx.AsyncClient(base_url=writer.http) as http:
        write = Writer(http, race)
        first = await write.round(["BETTING_OPEN"])
        got = await received(subs, first, notifications=len(first["odds"]) - 1)  # the first price is the reference
        await spy.drain()

        channels = await spy.listened()
        streams = {c.removeprefix(PREFIX).split(":")[0] for c in channels}
        assert {"odds", "status", "news", "user", "control"} <= streams, channels
        heads = {
            "odds": got["odds"][0][-1]["seq"],
            "status": got["status"][0][-1]["seq"],
            "news": got["news"][0][-1]["seq"],
            "user": got["notes"][0][-1]["seq"],
        }
        forged_on_reader = 0
        for channel in [*channels, PREFIX + "ping"]:
            kind = channel.removeprefix(PREFIX).split(":")[0]
            count = await spy.forge(channel, race, next_seq=heads.get(kind, 0) + 1)
            if kind in heads:
                forged_on_reader += count

        second = await write.round(["SUSPENDED", "BETTING_OPEN"])
        got = await received(subs, second, notifications=len(second["odds"]))

    # Exactly the real events, in order, continuing from the first round.
    assert got["odds"][0][0]["seq"] == heads["odds"] + 1 and got["status"][0][0]["seq"] == heads["status"] + 1
    assert got["notes"][0][0]["seq"] == heads["user"] + 1
    forged = await refusals(reader)
    assert sum(forged.values()) - before == forged_on_reader
    assert {"unsealed", "bad_mac"} <= set(forged)
    logged = [line for line in reader.log if "refused a message on broadcaster channel" in line]
    assert 1 <= len(logged) < forged_on_reader // 4  # refusals are logged, but not one line each
    for subscribers in subs.values():
        for sub in subscribers:
            await sub.close()


async def received(
    subs: dict[str, list[Subscriber]], expected: dict[str, list[Any]], *, notifications: int
) -> dict[str, list[Any]]:
    """Each subscriber's next events: exactly the expected ones, contiguous, nothing between."""
    got: dict[str, list[Any]] = {}
    for field, subscribers in subs.items():
        if field == "notes":
            count = notifications
            events = [await sub.take(count) for sub in subscribers]
            for one in events:
                assert contiguous(one) and all(e["notification"]["price"] != 999.0 for e in one), one
        else:
            events = [await sub.take(len(expected[field])) for sub in subscribers]
            for one in events:
                assert contiguous(one), one
                if field == "odds":
                    assert [e["seq"] for e in one] == expected["odds"], one
                    assert all(p["source"] == "feed" for e in one for p in e["prices"]), one
                if field == "status":
                    assert [e["status"] for e in one] == expected["status"], one
                if field == "news":
                    assert [e["article"]["headline"] for e in one] == expected["news"], one
        got[field] = events
    return got


async def test_a_resumed_subscriber_gets_what_it_missed_and_what_follows_despite_forgeries(
    pair: tuple[ServerProcess, ServerProcess], race: dict[str, Any], spy: Spy
) -> None:
    writer, reader = pair
    ids = [race["id"]]
    staying = await Subscriber.open(reader, ODDS, ids=ids)  # keeps the channel subscribed throughout
    await subscribed(reader, 1)
    async with httpx.AsyncClient(base_url=writer.http) as http:
        write = Writer(http, race)
        stored = [await write.odds() for _ in range(3)]
        first = await staying.take(3)
        await spy.drain()
        channel = PREFIX + f"odds:{race['id']}"
        await spy.forge(channel, race, next_seq=stored[-1] + 1)

        resumed = await Subscriber.open(reader, ODDS, ids=ids, after=first[0]["cursor"])
        assert real_seqs(await resumed.take(2)) == stored[1:]
        await spy.forge(channel, race, next_seq=stored[-1] + 1)
        stored += [await write.odds() for _ in range(2)]
        assert real_seqs(await resumed.take(2)) == stored[3:]
        assert real_seqs(await staying.take(2)) == stored[3:]
    await resumed.close()
    await staying.close()


async def test_two_processes_sharing_the_key_deliver_to_each_other(
    pair: tuple[ServerProcess, ServerProcess], race: dict[str, Any]
) -> None:
    one, two = pair
    before = [await refusals(p) for p in pair]
    on_one = await Subscriber.open(one, ODDS, ids=[race["id"]])
    on_two = await Subscriber.open(two, ODDS, ids=[race["id"]])
    await subscribed(one, 1)
    await subscribed(two, 1)
    async with httpx.AsyncClient(base_url=one.http) as http_one, httpx.AsyncClient(base_url=two.http) as http_two:
        via_one, via_two = Writer(http_one, race), Writer(http_two, race)
        via_two.at, via_two.n = via_two.at + timedelta(minutes=1), 10  # a newer quote, and a new price
        stored = [await via_one.odds(), await via_two.odds()]
    assert real_seqs(await on_one.take(2)) == stored
    assert real_seqs(await on_two.take(2)) == stored
    assert [await refusals(p) for p in pair] == before  # nothing of their own is ever refused
    await on_one.close()
    await on_two.close()


async def test_two_deployments_with_different_prefixes_on_one_redis_do_not_hear_each_other(
    pair: tuple[ServerProcess, ServerProcess], neighbour: ServerProcess, race: dict[str, Any]
) -> None:
    ours, _ = pair
    before = await refusals(ours)
    our_news = await Subscriber.open(ours, NEWS)
    their_news = await Subscriber.open(neighbour, NEWS)
    await subscribed(ours, 1)
    await subscribed(neighbour, 1)
    async with httpx.AsyncClient(base_url=ours.http) as mine, httpx.AsyncClient(base_url=neighbour.http) as theirs:
        ours_write, theirs_write = Writer(mine, race), Writer(theirs, {"id": "1", "runners": []})
        their_first = await theirs_write.news()
        assert [e["article"]["headline"] for e in await their_news.take(1)] == [their_first]
        our_first = await ours_write.news()
        # Had the neighbour's article crossed over, it would come before ours.
        assert [e["article"]["headline"] for e in await our_news.take(1)] == [our_first]
        their_second = await theirs_write.news()
        assert [e["article"]["headline"] for e in await their_news.take(1)] == [their_second]
    assert await refusals(ours) == before  # the neighbour's traffic never even reached our channels
    await our_news.close()
    await their_news.close()
