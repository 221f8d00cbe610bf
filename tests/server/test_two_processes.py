"""redis:// works unchanged: a write on one process reaches a subscriber on another."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from fixtures.live import stored_race
from live_server import ODDS, SECRET, GraphQLWs, ServerProcess, store, wait_subscribed


@pytest.fixture
def pair(postgres_url: str) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    env = {
        "RACEWIRE_DATABASE_URL": postgres_url,
        "RACEWIRE_JWT_SECRET": SECRET,
        "RACEWIRE_BROADCAST_URL": "redis://127.0.0.1:6379",
    }
    a = ServerProcess(env).start()
    b = ServerProcess(env).start()
    yield a, b
    a.stop()
    b.stop()


async def test_an_update_stored_on_one_process_reaches_subscribers_on_another(
    pair: tuple[ServerProcess, ServerProcess], postgres_url: str
) -> None:
    writer, reader = pair
    race = await stored_race(postgres_url, "Redis Park")
    clients = [await GraphQLWs.open(reader.ws) for _ in range(3)]
    for n, client in enumerate(clients):
        await client.subscribe(str(n), ODDS, ids=[race["id"]])
    await wait_subscribed(reader, 3)

    stored = (await store(writer, race, 5.5)).json()["data"]["storeOdds"]
    updates = [(await client.next(str(n)))["oddsUpdated"] for n, client in enumerate(clients)]

    assert {(u["seq"], u["cursor"]) for u in updates} == {(stored["seq"], stored["cursor"])}
    async with httpx.AsyncClient(base_url=reader.http) as http:
        assert (await http.get("/ready")).json()["checks"]["broadcaster"] == "ok"
    for client in clients:
        await client.close()
