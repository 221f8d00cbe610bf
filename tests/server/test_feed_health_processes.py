"""Feed health across processes: two uvicorn processes on one PostgreSQL and a real Redis.
A source going stale is one transition, published once, and seen once by subscribers on both."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from conftest import _run_apart
from fixtures.live import stored_race
from live_server import SECRET, GraphQLWs, ServerProcess, store, wait_subscribed
from storage.database import Database
from storage.models import Base

FEED_STATUS = """subscription($sources: [String!]) {
  feedStatus(sources: $sources) { source status seq }
}"""
ODDS = """subscription($ids: [ID!]!) {
  oddsUpdated(raceIds: $ids) { seq source sourceStatus marketStale prices { decimal stale } }
}"""


@pytest.fixture
def pair(postgres_url: str) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    # Channels of this test's own, on the shared Redis; a source silent for 1 s is stale.
    env = {
        "RACEWIRE_DATABASE_URL": postgres_url,
        "RACEWIRE_JWT_SECRET": SECRET,
        "RACEWIRE_BROADCAST_URL": "redis://127.0.0.1:6379",
        "RACEWIRE_FEED_STALE_SECONDS": "1",
        "RACEWIRE_CHANNEL_PREFIX": f"feedhealth-{uuid.uuid4().hex[:8]}:",
    }
    a = ServerProcess(env).start()
    b = ServerProcess(env).start()
    yield a, b
    a.stop()
    b.stop()
    _run_apart(_empty(postgres_url))  # the session's database, as the other tests find it


async def _empty(url: str) -> None:
    db = Database(url)
    try:
        async with db.engine.begin() as conn:
            await conn.execute(
                text(f"TRUNCATE {', '.join(t.name for t in Base.metadata.sorted_tables)} RESTART IDENTITY CASCADE")
            )
    finally:
        await db.dispose()


async def store_price(server: ServerProcess, race: dict[str, Any], source: str, decimal: float) -> None:
    response = await store(server, race, decimal, source=source)
    assert response.status_code == 200 and "errors" not in response.json(), response.text


async def test_a_source_going_stale_is_seen_once_by_subscribers_on_both_processes(
    pair: tuple[ServerProcess, ServerProcess], postgres_url: str
) -> None:
    source = f"feed-{uuid.uuid4().hex[:8]}"
    race = await stored_race(postgres_url, "Stale Park")
    clients = [await GraphQLWs.open(server.ws) for server in pair]  # one per process for each stream
    watchers = [await GraphQLWs.open(server.ws) for server in pair]
    for client, watcher in zip(clients, watchers, strict=True):
        await client.subscribe("feeds", FEED_STATUS, sources=[source])
        await watcher.subscribe("odds", ODDS, ids=[race["id"]])
    for server in pair:
        await wait_subscribed(server, 2)

    await store_price(pair[0], race, source, 4.0)
    # Both processes sweep; one of them wins the transition. Each subscriber hears it once,
    # and the next thing it hears is the source coming back.
    went = [(await client.next("feeds"))["feedStatus"] for client in clients]
    assert went == [{"source": source, "status": "STALE", "seq": went[0]["seq"]}] * 2
    odds = [[(await watcher.next("odds"))["oddsUpdated"] for _ in range(2)] for watcher in watchers]
    assert odds[0] == odds[1]
    priced, stale = odds[0]
    assert (priced["source"], priced["sourceStatus"], priced["marketStale"]) == (source, None, False)
    assert (stale["source"], stale["sourceStatus"], stale["marketStale"]) == (source, "STALE", True)
    assert stale["prices"] == [{"decimal": 4.0, "stale": True}] and stale["seq"] == priced["seq"] + 1

    await store_price(pair[1], race, source, 4.5)
    came = [(await client.next("feeds"))["feedStatus"] for client in clients]
    assert came == [{"source": source, "status": "LIVE", "seq": went[0]["seq"] + 1}] * 2
    back = [[(await watcher.next("odds"))["oddsUpdated"] for _ in range(2)] for watcher in watchers]
    assert back[0] == back[1]
    assert [(e["seq"], e["sourceStatus"]) for e in back[0]] == [(stale["seq"] + 1, "LIVE"), (stale["seq"] + 2, None)]

    async with httpx.AsyncClient(base_url=pair[1].http) as http:
        feeds = (await http.post("/graphql", json={"query": "{ feeds { source status } }"})).json()["data"]["feeds"]
    assert {"source": source, "status": "LIVE"} in feeds
    for client in [*clients, *watchers]:
        await client.close()
