"""`feedStatus` through the fan-out: identical subscribers share one execution, and a member
resuming with `after` gets exactly the transitions it missed, then joins the group."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from live_server import SECRET, GraphQLWs, ServerProcess, token, wait_subscribed

FEEDS = """subscription Feeds($sources: [String!], $after: String) {
  feedStatus(sources: $sources, after: $after) { source status seq cursor }
}"""
STORE = "mutation($input: StoreOddsInput!) { storeOdds(input: $input) { seq } }"
SOURCE = "tote"


@pytest.fixture
def server(database_url: str) -> Iterator[ServerProcess]:
    # A source silent for 1 s goes STALE: transitions within a test's time.
    env = {"RACEWIRE_DATABASE_URL": database_url, "RACEWIRE_JWT_SECRET": SECRET, "RACEWIRE_FEED_STALE_SECONDS": "1"}
    process = ServerProcess(env).start()
    yield process
    process.stop()


@pytest.fixture
def race(served_race: dict[str, Any]) -> dict[str, Any]:
    return served_race


async def price(server: ServerProcess, race: dict[str, Any], decimal: float) -> None:
    body = {
        "query": STORE,
        "variables": {
            "input": {
                "raceId": race["id"],
                "source": SOURCE,
                "observedAt": datetime.now(UTC).isoformat(),
                "prices": [{"runnerId": race["runners"][0], "decimal": decimal}],
            }
        },
    }
    async with httpx.AsyncClient(base_url=server.http) as http:
        response = await http.post("/graphql", json=body, headers={"Authorization": f"Bearer {token('odds:write')}"})
    assert "errors" not in response.json(), response.text


async def executions(server: ServerProcess) -> int:
    async with httpx.AsyncClient(base_url=server.http) as http:
        return int((await http.get("/ready")).json()["executions"])


async def wait_executions(server: ServerProcess, count: int) -> None:
    for _ in range(400):
        if await executions(server) == count:
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"executions stayed at {await executions(server)}, not {count}")


def status(event: dict[str, Any]) -> tuple[str, int]:
    return event["feedStatus"]["status"], event["feedStatus"]["seq"]


async def test_feed_status_subscribers_share_one_execution_and_a_resumer_gets_exactly_what_it_missed(
    server: ServerProcess, race: dict[str, Any]
) -> None:
    clients = await asyncio.gather(*[GraphQLWs.open(server.ws) for _ in range(10)])
    await asyncio.gather(*[c.subscribe(f"feeds-{n}", FEEDS, sources=[SOURCE]) for n, c in enumerate(clients)])
    await wait_subscribed(server, 10)
    assert await executions(server) == 1
    await price(server, race, 3.0)
    went = [await c.next(f"feeds-{n}") for n, c in enumerate(clients)]  # silent for 1 s: STALE
    await price(server, race, 3.5)
    came = [await c.next(f"feeds-{n}") for n, c in enumerate(clients)]
    assert all(e == went[0] for e in went) and all(e == came[0] for e in came)  # the same bytes
    first = went[0]["feedStatus"]["seq"]
    assert [status(went[0]), status(came[0])] == [("STALE", first), ("LIVE", first + 1)]

    resumer = await GraphQLWs.open(server.ws)
    await resumer.subscribe("resumed", FEEDS, sources=[SOURCE], after=went[0]["feedStatus"]["cursor"])
    missed = [status(await resumer.next("resumed"))]
    await wait_executions(server, 1)
    everyone = [*((c, f"feeds-{n}") for n, c in enumerate(clients)), (resumer, "resumed")]
    again = [await c.next(id) for c, id in everyone]  # silent again: STALE, shared
    await price(server, race, 4.0)
    back = [status(await c.next(id)) for c, id in everyone]  # the next each gets: nothing twice

    assert missed == [("LIVE", first + 1)]
    assert all(e == again[0] for e in again) and status(again[0]) == ("STALE", first + 2)
    assert back == [("LIVE", first + 3)] * len(everyone)
    assert await executions(server) == 1
    await asyncio.gather(*[c.close() for c, _ in everyone])
