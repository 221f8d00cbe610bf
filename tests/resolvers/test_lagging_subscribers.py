"""A subscriber that falls behind: odds are conflated, status and news end with a cursor."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from broadcaster import Broadcast

from conftest import Api, Tick
from pubsub.hub import Hub
from storage.database import Database
from storage.events import LogReader

ODDS = """subscription($ids: [ID!]!) {
  oddsUpdated(raceIds: $ids) { seq seqFrom conflated prices { runnerId source decimal } }
}"""


@pytest.fixture
async def small_hub(db: Database) -> AsyncIterator[Hub]:
    async with Broadcast("memory://") as broadcast:
        hub = Hub(broadcast, log=LogReader(db), buffer=4)
        hub.start()
        yield hub
        await hub.close()


async def test_a_lagging_odds_subscriber_gets_one_conflated_update(
    db: Database, small_hub: Hub, race: dict[str, Any]
) -> None:
    api = Api(db, small_hub)
    tick = Tick(api, race)
    stream = await api.subscribe(ODDS, ids=[str(race["id"])])
    first = asyncio.ensure_future(stream.__anext__())
    while not small_hub.listener_count:
        await asyncio.sleep(0.01)
    await tick()
    assert (await asyncio.wait_for(first, 5)).data["oddsUpdated"]["seq"] == 1
    for _ in range(40):  # the subscriber reads nothing meanwhile
        await tick()
    second_runner = {"runnerId": str(race["runners"][1]), "decimal": 7.5}
    await api.data(
        "mutation($i: StoreOddsInput!) { storeOdds(input: $i) { seq } }",
        i={"raceId": str(race["id"]), "source": "bet365", "observedAt": tick.at.isoformat(), "prices": [second_runner]},
    )

    caught_up = (await asyncio.wait_for(stream.__anext__(), 5)).data["oddsUpdated"]
    assert caught_up["conflated"] is True
    assert (caught_up["seqFrom"], caught_up["seq"]) == (2, 42)
    prices = {(p["runnerId"], p["source"]): p["decimal"] for p in caught_up["prices"]}
    assert prices == {(str(race["runners"][0]), "betfair"): 6.1, (str(race["runners"][1]), "bet365"): 7.5}
    live = await tick()
    assert (await asyncio.wait_for(stream.__anext__(), 5)).data["oddsUpdated"]["seq"] == live["seq"] == 43
    await stream.aclose()


async def test_a_lagging_status_subscriber_is_ended_with_its_cursor(
    db: Database, small_hub: Hub, race: dict[str, Any]
) -> None:
    api = Api(db, small_hub)
    query = "subscription { raceStatus { raceId status seq cursor } }"
    stream = await api.subscribe(query)
    first = asyncio.ensure_future(stream.__anext__())
    while not small_hub.listener_count:
        await asyncio.sleep(0.01)
    set_status = "mutation($id: ID!, $s: RaceStatus!) { setRaceStatus(raceId: $id, status: $s) { status } }"
    await api.data(set_status, id=str(race["id"]), s="BETTING_OPEN")
    seen = (await asyncio.wait_for(first, 5)).data["raceStatus"]
    for _ in range(5):
        await api.data(set_status, id=str(race["id"]), s="SUSPENDED")
        await api.data(set_status, id=str(race["id"]), s="BETTING_OPEN")

    ended = await asyncio.wait_for(stream.__anext__(), 5)
    error = ended.errors[0]
    assert error.extensions["code"] == "SUBSCRIBER_TOO_SLOW"
    assert error.extensions["cursor"] == seen["cursor"]
    resumed = await api.subscribe(
        "subscription($a: String) { raceStatus(after: $a) { seq } }", a=error.extensions["cursor"]
    )
    assert [(await asyncio.wait_for(resumed.__anext__(), 5)).data["raceStatus"]["seq"] for _ in range(10)] == list(
        range(2, 12)
    )
    await resumed.aclose()
