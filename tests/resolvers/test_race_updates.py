"""`raceUpdated`: a race screen's prices, scratchings, freshness and status in one ordered
stream with one cursor."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import Api, card
from resolvers.feed_health import sweep
from resolvers.race_cards import load_race_cards

RACE = """
subscription($ids: [ID!]!, $after: String) {
  raceUpdated(raceIds: $ids, after: $after) {
    raceId cursor
    odds { seq source sourceStatus scratchedRunnerIds prices { decimal } }
    status { status previousStatus }
  }
}
"""
STORE = "mutation($input: StoreOddsInput!) { storeOdds(input: $input) { seq } }"
STATUS = "mutation($id: ID!, $s: RaceStatus!) { setRaceStatus(raceId: $id, status: $s) { status } }"
SCRATCH = "mutation($id: ID!) { scratchRunner(runnerId: $id) { id } }"


def shown(event: dict[str, Any]) -> tuple[Any, ...]:
    if event["status"] is not None:
        return ("status", event["status"]["status"])
    odds = event["odds"]
    if odds["sourceStatus"]:
        return ("feed", odds["source"], odds["sourceStatus"])
    if odds["scratchedRunnerIds"]:
        return ("scratch", odds["seq"])
    return ("odds", odds["seq"], odds["prices"][0]["decimal"])


async def test_prices_scratchings_freshness_and_status_come_in_the_order_they_happened(
    api: Api, race: dict[str, Any]
) -> None:
    await load_race_cards(db=api.db, cards=[card(venue="York")])  # another race, whose changes stay out
    other = str(race["id"] + 1)
    ids = [str(race["id"])]
    at = datetime.now(UTC) - timedelta(hours=1)

    async def price(n: int, decimal: float) -> None:
        body = {
            "raceId": ids[0],
            "source": "betfair",
            "observedAt": (at + timedelta(seconds=n)).isoformat(),
            "prices": [{"runnerId": str(race["runners"][0]), "decimal": decimal}],
        }
        await api.data(STORE, input=body)

    stream = await api.subscribe(RACE, ids=ids)
    first = asyncio.ensure_future(anext(stream))
    for _ in range(500):
        if api.hub.listener_count:
            break
        await asyncio.sleep(0.01)

    await price(1, 3.0)
    await api.data(STATUS, id=ids[0], s="BETTING_OPEN")
    await api.data(STATUS, id=other, s="BETTING_OPEN")
    await api.data(SCRATCH, id=str(race["runners"][5]))
    await sweep(
        db=api.db, hub=api.hub, heartbeats=api.odds.heartbeats, stale_after=timedelta(microseconds=1)
    )  # silent since its last call
    await api.data(STATUS, id=ids[0], s="SUSPENDED")
    await price(2, 3.5)

    received = [(await asyncio.wait_for(first, 5)).data["raceUpdated"]]
    while len(received) < 7:
        result = await asyncio.wait_for(anext(stream), 5)
        assert result.errors is None, result.errors
        received.append(result.data["raceUpdated"])
    await stream.aclose()
    expected = [
        ("odds", 1, 3.0),
        ("status", "BETTING_OPEN"),
        ("scratch", 2),
        ("feed", "betfair", "STALE"),
        ("status", "SUSPENDED"),
        ("feed", "betfair", "LIVE"),
        ("odds", 5, 3.5),
    ]
    assert [shown(e) for e in received] == expected
    assert {e["raceId"] for e in received} == {ids[0]}

    # One cursor resumes the whole stream, replayed in the order it was stored.
    resumed = await api.subscribe(RACE, ids=ids, after=received[0]["cursor"])
    replayed = []
    for _ in range(6):
        result = await asyncio.wait_for(anext(resumed), 5)
        assert result.errors is None, result.errors
        replayed.append(shown(result.data["raceUpdated"]))
    await resumed.aclose()
    assert replayed == expected[1:]
