"""Feed health at the schema level: sources go STALE when silent and LIVE again on their next
call; prices say so, markets leave stale sources out, and subscribers are told once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from broadcaster import Broadcast

from conftest import WRITER, Api
from events.payloads import SourceFreshness
from pubsub.hub import Hub
from resolvers.feed_health import RecentHeartbeats, sweep
from resolvers.viewer import ANONYMOUS, Viewer
from server.settings import MIN_FEED_STALE_SECONDS, InvalidSettings, Settings
from storage import events
from storage.database import Database

STALE_AFTER = timedelta(seconds=30)
STORE = "mutation($input: StoreOddsInput!) { storeOdds(input: $input) { seq cursor } }"
HEARTBEAT = "mutation($source: String!) { feedHeartbeat(source: $source) { source status lastSeenAt } }"
FEEDS = "{ feeds { source status lastSeenAt statusChangedAt } }"
MARKET = """
query($id: ID!) { race(id: $id) {
  market { bestPrices { runnerId source decimal stale } favouriteRunnerId stale }
  runners { id prices { source decimal stale } bestPrice { source } }
} }
"""
FEED_STATUS = """
subscription($sources: [String!], $after: String) {
  feedStatus(sources: $sources, after: $after) { source status lastSeenAt changedAt seq cursor }
}
"""
ODDS = """
subscription($ids: [ID!]!) {
  oddsUpdated(raceIds: $ids) { seq source sourceStatus marketStale prices { runnerId source decimal stale } }
}
"""


class Feeds:
    """Stores prices from named sources, one second apart."""

    def __init__(self, api: Api, race: dict[str, Any]) -> None:
        self.api = api
        self.race = race
        self.at = datetime.now(UTC) - timedelta(hours=1)

    async def store(self, source: str, *decimals: float) -> dict[str, Any]:
        self.at += timedelta(seconds=1)
        body = {
            "raceId": str(self.race["id"]),
            "source": source,
            "observedAt": self.at.isoformat(),
            "prices": [
                {"runnerId": str(r), "decimal": d} for r, d in zip(self.race["runners"], decimals, strict=False)
            ],
        }
        return (await self.api.data(STORE, input=body))["storeOdds"]


def later(seconds: float = 31) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


async def listening(api: Api, query: str, count: int = 1, **variables: Any) -> tuple[Any, asyncio.Future[Any]]:
    """Subscribes and waits, without sleeping on a guess, until the hub counts the listener."""
    stream = await api.subscribe(query, **variables)
    first = asyncio.ensure_future(stream.__anext__())
    for _ in range(500):
        if api.hub.listener_count >= count:
            break
        await asyncio.sleep(0.01)
    return stream, first


async def data(item: Any) -> dict[str, Any]:
    result = await asyncio.wait_for(item, timeout=5)
    assert result.errors is None, result.errors
    return next(iter(result.data.values()))


async def following(stream: AsyncIterator[Any]) -> dict[str, Any]:
    return await data(stream.__anext__())


async def test_an_accepted_call_makes_its_source_live(api: Api, race: dict[str, Any]) -> None:
    before = datetime.now(UTC)
    await Feeds(api, race).store("betfair", 2.0)

    feeds = (await api.data(FEEDS))["feeds"]
    assert [(f["source"], f["status"]) for f in feeds] == [("betfair", "LIVE")]
    assert datetime.fromisoformat(feeds[0]["lastSeenAt"]) >= before.replace(microsecond=0)


async def test_a_silent_source_goes_stale_its_prices_are_flagged_and_the_market_leaves_it_out(
    api: Api, race: dict[str, Any]
) -> None:
    feeds = Feeds(api, race)
    await feeds.store("betfair", 3.0, 5.0)
    await feeds.store("bet365", 2.5, 6.0)
    assert await sweep(db=api.db, hub=api.hub, heartbeats=api.odds.heartbeats, stale_after=STALE_AFTER) == []

    # A sweep 31 s ahead finds both silent; then betfair says it is alive again.
    marked = await sweep(db=api.db, hub=api.hub, heartbeats=api.odds.heartbeats, stale_after=STALE_AFTER, now=later())
    assert marked == ["bet365", "betfair"]
    await api.data(HEARTBEAT, source="betfair")

    found = (await api.data(MARKET, id=str(race["id"])))["race"]
    market = found["market"]
    assert [(p["runnerId"], p["source"], p["decimal"], p["stale"]) for p in market["bestPrices"]] == [
        (str(race["runners"][0]), "betfair", 3.0, False),
        (str(race["runners"][1]), "betfair", 5.0, False),
    ]
    assert market["favouriteRunnerId"] == str(race["runners"][0]) and market["stale"] is False
    first = found["runners"][0]["prices"]
    assert sorted((p["source"], p["decimal"], p["stale"]) for p in first) == [
        ("bet365", 2.5, True),
        ("betfair", 3.0, False),
    ]
    assert found["runners"][1]["bestPrice"] == {"source": "betfair"}  # bet365's 6.0 is longer, but stale
    statuses = {f["source"]: f["status"] for f in (await api.data(FEEDS))["feeds"]}
    assert statuses == {"bet365": "STALE", "betfair": "LIVE"}


async def test_when_every_source_is_stale_the_market_says_so_and_odds_subscribers_are_told(
    api: Api, race: dict[str, Any]
) -> None:
    feeds = Feeds(api, race)
    await feeds.store("betfair", 3.0)
    await feeds.store("bet365", 2.5)
    stream, first = await listening(api, ODDS, ids=[str(race["id"])])

    await sweep(db=api.db, hub=api.hub, heartbeats=api.odds.heartbeats, stale_after=STALE_AFTER, now=later())

    told = [await data(first), await following(stream)]
    assert [(e["source"], e["sourceStatus"]) for e in told] == [("bet365", "STALE"), ("betfair", "STALE")]
    assert [e["marketStale"] for e in told] == [False, True]
    assert told[1]["prices"] == [
        {"runnerId": str(race["runners"][0]), "source": "betfair", "decimal": 3.0, "stale": True}
    ]
    market = (await api.data(MARKET, id=str(race["id"])))["race"]["market"]
    assert market == {"bestPrices": [], "favouriteRunnerId": None, "stale": True}

    # The next accepted call brings its source back: the freshness event first, then its prices.
    await feeds.store("betfair", 3.5)
    revived, priced = await following(stream), await following(stream)
    assert (revived["source"], revived["sourceStatus"], revived["marketStale"]) == ("betfair", "LIVE", False)
    assert revived["prices"] == [
        {"runnerId": str(race["runners"][0]), "source": "betfair", "decimal": 3.0, "stale": False}
    ]
    assert (priced["sourceStatus"], priced["marketStale"], priced["prices"][0]["decimal"]) == (None, False, 3.5)
    assert revived["seq"] + 1 == priced["seq"]
    market = (await api.data(MARKET, id=str(race["id"])))["race"]["market"]
    assert market["stale"] is False and market["favouriteRunnerId"] == str(race["runners"][0])
    await stream.aclose()


async def test_feed_status_tells_each_transition_once_and_resumes_by_cursor(api: Api, race: dict[str, Any]) -> None:
    feeds = Feeds(api, race)
    await feeds.store("betfair", 3.0)
    stream, first = await listening(api, FEED_STATUS, sources=["betfair"])

    await sweep(db=api.db, hub=api.hub, heartbeats=api.odds.heartbeats, stale_after=STALE_AFTER, now=later())
    assert (
        await sweep(db=api.db, hub=api.hub, heartbeats=api.odds.heartbeats, stale_after=STALE_AFTER, now=later(40))
        == []
    )  # already stale
    went = await data(first)
    await api.data(HEARTBEAT, source="betfair")
    await api.data(HEARTBEAT, source="betfair")  # live already: no event
    await sweep(db=api.db, hub=api.hub, heartbeats=api.odds.heartbeats, stale_after=STALE_AFTER, now=later())
    came, went_again = await following(stream), await following(stream)

    assert [(e["source"], e["status"], e["seq"]) for e in (went, came, went_again)] == [
        ("betfair", "STALE", 1),
        ("betfair", "LIVE", 2),
        ("betfair", "STALE", 3),
    ]
    await stream.aclose()

    resumed = await api.subscribe(FEED_STATUS, after=went["cursor"])
    assert [(await following(resumed))["seq"] for _ in range(2)] == [2, 3]
    await resumed.aclose()


async def test_of_two_processes_sweeping_at_once_exactly_one_marks_each_source(
    api: Api, race: dict[str, Any], database_url: str
) -> None:
    feeds = Feeds(api, race)
    await feeds.store("betfair", 3.0)
    await feeds.store("bet365", 2.5)
    others = [Database(database_url) for _ in range(3)]
    broadcast = Broadcast("memory://")
    await broadcast.connect()
    try:
        now = later()
        marked = await asyncio.gather(
            *[sweep(db=db, hub=Hub(broadcast), stale_after=STALE_AFTER, now=now) for db in [api.db, *others]]
        )
    finally:
        await broadcast.disconnect()
        for db in others:
            await db.dispose()
    assert sorted(code for each in marked for code in each) == ["bet365", "betfair"]
    async with api.db.read() as session:
        logged = await events.read_after(session, stream="feeds", after=0)
    assert all(isinstance(e.payload, SourceFreshness) for e in logged), logged
    assert [(e.payload.source, e.payload.status) for e in logged] == [("bet365", "STALE"), ("betfair", "STALE")]


async def test_feed_heartbeat_needs_odds_write_and_one_of_the_tokens_sources(api: Api) -> None:
    anonymous = ANONYMOUS
    reader = Viewer(subject="reader", scopes=frozenset({"news:write"}))
    bound = Viewer(subject="feed-2", scopes=frozenset({"odds:write"}), sources=frozenset({"betfair"}))

    assert (await api.error(HEARTBEAT, anonymous, source="betfair"))["code"] == "UNAUTHENTICATED"
    assert (await api.error(HEARTBEAT, reader, source="betfair"))["code"] == "FORBIDDEN"
    assert (await api.error(HEARTBEAT, bound, source="bet365"))["code"] == "FORBIDDEN"
    bad = await api.error(HEARTBEAT, WRITER, source="Not A Code")
    assert (bad["code"], bad["field"]) == ("BAD_USER_INPUT", "source")
    assert (await api.data(FEEDS))["feeds"] == []  # nothing refused was recorded

    beat = (await api.data(HEARTBEAT, bound, source="betfair"))["feedHeartbeat"]
    assert (beat["source"], beat["status"]) == ("betfair", "LIVE")


def test_a_process_writes_a_sources_heartbeat_at_most_every_half_second_and_forgets_on_a_sweep() -> None:
    clock = [100.0]
    recent = RecentHeartbeats(clock=lambda: clock[0])
    assert recent.due([2, 1, 2]) == [1, 2]
    recent.wrote([1, 2])
    clock[0] += RecentHeartbeats.SPACING / 2
    assert recent.due([1, 2, 3]) == [3]
    clock[0] += RecentHeartbeats.SPACING / 2
    assert recent.due([1, 3]) == [1, 3]
    recent.forget()
    assert recent.due([2]) == [2]


def test_a_stale_time_shorter_than_the_heartbeat_spacing_is_refused() -> None:
    assert MIN_FEED_STALE_SECONDS > RecentHeartbeats.SPACING
    Settings(feed_stale_seconds=MIN_FEED_STALE_SECONDS).check()
    with pytest.raises(InvalidSettings, match="RACEWIRE_FEED_STALE_SECONDS must be at least 1"):
        Settings(feed_stale_seconds=0.5).check()
