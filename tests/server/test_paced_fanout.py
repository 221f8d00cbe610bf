"""`conflateMs` through the fan-out of a real server: subscribers with the same pace share one
execution (the argument is in the group key), and all get the same merged updates."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from live_server import GraphQLWs, ServerProcess, store, wait_subscribed

PACED = """subscription Paced($ids: [ID!]!, $ms: Int) {
  oddsUpdated(raceIds: $ids, conflateMs: $ms) { seq seqFrom conflated cursor prices { decimal } }
}"""


@pytest.fixture
def race(served_race: dict[str, Any]) -> dict[str, Any]:
    """The race the live server serves (tests/fixtures/live.py), not the suite's race in the test database."""
    return served_race


async def test_subscribers_with_the_same_pace_share_one_execution_and_its_merged_updates(
    server: ServerProcess, race: dict[str, Any]
) -> None:
    paced = await asyncio.gather(*[GraphQLWs.open(server.ws) for _ in range(5)])
    await asyncio.gather(*[c.subscribe(f"p{n}", PACED, ids=[race["id"]], ms=300) for n, c in enumerate(paced)])
    other = await GraphQLWs.open(server.ws)
    await other.subscribe("q", PACED, ids=[race["id"]], ms=0)
    await wait_subscribed(server, 6)
    async with httpx.AsyncClient(base_url=server.http) as http:
        ready = (await http.get("/ready")).json()
    assert (ready["subscriptions"], ready["executions"]) == (6, 2)  # one per pace

    start = datetime.now(UTC) - timedelta(minutes=5)
    for n in range(8):
        await store(server, race, round(3.0 + n / 10, 2), at=start + timedelta(seconds=n))
    received: list[list[dict[str, Any]]] = []
    for n, client in enumerate(paced):
        updates = [(await client.next(f"p{n}"))["oddsUpdated"]]
        while updates[-1]["seq"] < 8:
            updates.append((await client.next(f"p{n}"))["oddsUpdated"])
        received.append(updates)
    every = [(await other.next("q"))["oddsUpdated"] for _ in range(8)]

    assert all(r == received[0] for r in received)
    assert [u["seqFrom"] for u in received[0]] == [1] + [u["seq"] + 1 for u in received[0][:-1]]
    assert received[0][-1]["prices"] == [{"decimal": 3.7}]
    assert [(u["seq"], u["conflated"]) for u in every] == [(n, False) for n in range(1, 9)]
    await asyncio.gather(*[c.close() for c in [*paced, other]])
