"""Racewire under another ASGI server, hypercorn: no fast path is offered there (no
`racewire.write_frame` in the scope), so every frame goes through plain ASGI `send`; the answers
are the same as under uvicorn: live odds to shared and own subscriptions, resume, close codes."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from conftest import card
from live_server import GraphQLWs, ServerProcess, free_port
from resolvers.race_cards import load_race_cards
from server.auth import create_access_token
from storage.database import Database

SECRET = "test-secret-for-racewire-0123456789abcdef"
ODDS = """subscription($ids: [ID!]!, $after: String) {
  oddsUpdated(raceIds: $ids, after: $after) { raceId seq cursor prices { runnerId decimal } }
}"""
STORE = """mutation($input: StoreOddsInput!) { storeOdds(input: $input) { seq cursor } }"""


@pytest.fixture
def hypercorn(database_url: str) -> Iterator[ServerProcess]:
    port = free_port()
    command = (
        sys.executable,
        "-m",
        "hypercorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "info",
        "server.app:create_app()",
    )
    process = ServerProcess(
        {"RACEWIRE_DATABASE_URL": database_url, "RACEWIRE_JWT_SECRET": SECRET},
        port=port,
        command=command,
        ready_line="Running on",
    ).start()
    yield process
    process.stop()


@pytest.fixture
async def race(database_url: str, hypercorn: ServerProcess) -> dict[str, Any]:
    db = Database(database_url)
    try:
        meeting = (await load_race_cards(db=db, cards=[card(runners=4)]))[0]
    finally:
        await db.dispose()
    async with httpx.AsyncClient(base_url=hypercorn.http) as client:
        body = {
            "query": "query($d: Date!) { meetings(date: $d) { races { id runners { id } } } }",
            "variables": {"d": meeting.date.isoformat()},
        }
        found = (await client.post("/graphql", json=body)).json()["data"]["meetings"][0]["races"][0]
    return {"id": found["id"], "runners": [r["id"] for r in found["runners"]]}


def _input(race: dict[str, Any], price: float, at: datetime) -> dict[str, Any]:
    return {
        "raceId": race["id"],
        "source": "betfair",
        "observedAt": at.isoformat(),
        "prices": [{"runnerId": race["runners"][0], "decimal": price}],
    }


async def _subscribed(server: ServerProcess, count: int) -> None:
    async with httpx.AsyncClient(base_url=server.http) as client:
        for _ in range(400):
            if (await client.get("/ready")).json()["subscriptions"] >= count:
                return
            await asyncio.sleep(0.025)
    raise AssertionError("the subscriptions never became active")


async def test_live_odds_reach_graphql_transport_ws_subscribers_under_hypercorn(
    hypercorn: ServerProcess,
    race: dict[str, Any],
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=5)
    shared = [await GraphQLWs.open(hypercorn.ws) for _ in range(3)]  # one group in the fan-out
    for client in shared:
        await client.subscribe("odds", ODDS, ids=[race["id"]])
    await _subscribed(hypercorn, 3)
    token = create_access_token(secret=SECRET, subject="feed", scopes=("odds:write",))
    feed = await GraphQLWs.open(
        hypercorn.ws, {"token": token}
    )  # writes over WebSocket: the connection's own operations
    for n in range(5):
        await feed.subscribe(f"w{n}", STORE, input=_input(race, 2.0 + n / 10, start + timedelta(seconds=n)))
        answer = await feed.receive()
        assert answer["id"] == f"w{n}" and answer["type"] == "next", answer
        assert answer["payload"]["data"]["storeOdds"]["seq"] == n + 1
        assert await feed.receive() == {"id": f"w{n}", "type": "complete"}

    received = [[(await client.next("odds"))["oddsUpdated"] for _ in range(5)] for client in shared]
    for updates in received:
        assert [u["seq"] for u in updates] == [1, 2, 3, 4, 5]
        assert [u["prices"][0]["decimal"] for u in updates] == [2.0, 2.1, 2.2, 2.3, 2.4]

    resumed = await GraphQLWs.open(hypercorn.ws)
    await resumed.subscribe("again", ODDS, ids=[race["id"]], after=received[0][1]["cursor"])
    assert [(await resumed.next("again"))["oddsUpdated"]["seq"] for _ in range(3)] == [3, 4, 5]
    for client in (*shared, feed, resumed):
        await client.close()


async def test_close_codes_are_the_same_under_hypercorn(hypercorn: ServerProcess) -> None:
    async with connect(hypercorn.ws, subprotocols=["graphql-transport-ws"], open_timeout=5) as early:
        await early.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": "{ __typename }"}}))
        await asyncio.wait_for(early.wait_closed(), 10)
    async with connect(hypercorn.ws, subprotocols=["graphql-transport-ws"], open_timeout=5) as bad:
        await bad.send(json.dumps({"type": "connection_init", "payload": {"heartbeatMs": 10}}))
        await asyncio.wait_for(bad.wait_closed(), 10)

    assert (early.close_code, early.close_reason) == (4401, "Unauthorized")
    assert bad.close_code == 4400 and "heartbeatMs" in bad.close_reason
