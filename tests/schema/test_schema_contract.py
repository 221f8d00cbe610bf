"""The published contract: the SDL file, descriptions everywhere, example operations that run."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLObjectType

from conftest import Api
from resolvers.feed_health import sweep
from schema.schema import schema
from schema.sdl import plain_sdl

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = ROOT / "graphql" / "operations"


def test_the_exported_sdl_is_up_to_date() -> None:
    stored = (ROOT / "graphql" / "schema.graphql").read_text()
    assert stored == plain_sdl(schema), "run: racewire export-schema --output graphql/schema.graphql"


def test_every_type_field_and_argument_is_described() -> None:
    missing = []
    for name, kind in schema._schema.type_map.items():  # noqa: SLF001 - Strawberry's graphql-core schema
        # "__" in a name: introspection's types, and federation's @link spec's own (link__Purpose)
        if "__" in name or not isinstance(kind, (GraphQLObjectType, GraphQLInputObjectType, GraphQLEnumType)):
            continue
        if not kind.description:
            missing.append(name)
        members = kind.values if isinstance(kind, GraphQLEnumType) else kind.fields
        for member_name, member in members.items():
            if not member.description:
                missing.append(f"{name}.{member_name}")
            for arg_name, arg in getattr(member, "args", {}).items():
                if not arg.description:
                    missing.append(f"{name}.{member_name}({arg_name})")
    assert missing == []


async def test_the_example_queries_and_mutation_run(api: Api, race: dict[str, Any]) -> None:
    runner = str(race["runners"][0])
    store = await api.data(
        (OPERATIONS / "StoreOdds.graphql").read_text(),
        input={
            "raceId": str(race["id"]),
            "source": "bet365",
            "observedAt": datetime.now(UTC).isoformat(),
            "prices": [{"runnerId": runner, "decimal": 4.33}],
        },
    )
    card = await api.data((OPERATIONS / "RaceCard.graphql").read_text(), raceId=str(race["id"]))
    market = await api.data((OPERATIONS / "Market.graphql").read_text(), raceId=str(race["id"]), runnerId=runner)
    races = await api.data((OPERATIONS / "TodaysRaces.graphql").read_text(), date=card["race"]["meeting"]["date"])
    beat = await api.data((OPERATIONS / "FeedHeartbeat.graphql").read_text(), source="bet365")
    feeds = await api.data((OPERATIONS / "Feeds.graphql").read_text())

    assert store["storeOdds"]["changed"][0]["fractional"] == "10/3"
    assert card["race"]["runners"][0]["bestPrice"]["fractional"] == "10/3"
    assert market["runner"]["priceHistory"][0]["decimal"] == 4.33
    assert [e["node"]["id"] for e in races["races"]["edges"]] == [str(race["id"])]
    assert date.fromisoformat(card["race"]["meeting"]["date"])
    assert market["race"]["market"]["stale"] is False and market["runner"]["prices"][0]["stale"] is False
    assert beat["feedHeartbeat"]["status"] == "LIVE"
    assert [(f["source"], f["status"]) for f in feeds["feeds"]] == [("bet365", "LIVE")]


async def test_the_example_subscriptions_run(api: Api, race: dict[str, Any]) -> None:
    odds = await api.subscribe((OPERATIONS / "OddsUpdated.graphql").read_text(), raceIds=[str(race["id"])])
    snapshot = await asyncio.wait_for(odds.__anext__(), 5)
    status = await api.subscribe((OPERATIONS / "RaceStatus.graphql").read_text())
    news = await api.subscribe((OPERATIONS / "News.graphql").read_text(), tags=["going"])
    screen = await api.subscribe((OPERATIONS / "RaceUpdated.graphql").read_text(), raceIds=[str(race["id"])])
    opening = await asyncio.wait_for(screen.__anext__(), 5)
    feeds = await api.subscribe((OPERATIONS / "FeedStatus.graphql").read_text())
    pending = [asyncio.ensure_future(s.__anext__()) for s in (status, news, screen, feeds)]
    while api.hub.listener_count < 5:
        await asyncio.sleep(0.01)
    await api.data(
        "mutation($id: ID!) { setRaceStatus(raceId: $id, status: BETTING_OPEN) { status } }", id=str(race["id"])
    )
    await api.data('mutation { publishNews(input: {headline: "Soft ground", body: "Rain", tags: ["going"]}) { id } }')
    await api.data('mutation { feedHeartbeat(source: "bet365") { status } }')
    await sweep(db=api.db, hub=api.hub, heartbeats=api.odds.heartbeats, stale_after=timedelta(microseconds=1))
    status_event, news_event, screen_event, feed_event = [await asyncio.wait_for(p, 5) for p in pending]

    assert snapshot.errors is None and snapshot.data["oddsUpdated"]["snapshot"] is True
    assert status_event.data["raceStatus"]["status"] == "BETTING_OPEN"
    assert news_event.data["news"]["article"]["headline"] == "Soft ground"
    assert opening.errors is None and opening.data["raceUpdated"]["odds"]["snapshot"] is True
    assert screen_event.data["raceUpdated"]["status"]["status"] == "BETTING_OPEN"
    assert (feed_event.data["feedStatus"]["source"], feed_event.data["feedStatus"]["status"]) == ("bet365", "STALE")
    for stream in (odds, status, news, screen, feeds):
        await stream.aclose()
