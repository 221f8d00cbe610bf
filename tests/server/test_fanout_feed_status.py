"""`feedStatus` through the fan-out: identical subscribers share one execution, and a member
resuming with `after` gets exactly the transitions it missed, then joins the group."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from live_server import SECRET, GraphQLWs, ServerProcess, executions, store, wait_executions, wait_subscribed

FEEDS = """subscription Feeds($sources: [String!], $after: String) {
  feedStatus(sources: $sources, after: $after) { source status seq cursor }
}"""
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


def status(event: dict[str, Any]) -> tuple[str, int]:
    return event["feedStatus"]["status"], event["feedStatus"]["seq"]


async def test_feed_status_subscribers_share_one_execution_and_a_resumer_gets_exactly_what_it_missed(
    server: ServerProcess, race: dict[str, Any]
) -> None:
    clients = await asyncio.gather(*[GraphQLWs.open(server.ws) for _ in range(10)])
    await asyncio.gather(*[c.subscribe(f"feeds-{n}", FEEDS, sources=[SOURCE]) for n, c in enumerate(clients)])
    await wait_subscribed(server, 10)
    assert await executions(server) == 1
    await store(server, race, 3.0, source=SOURCE)
    went = [await c.next(f"feeds-{n}") for n, c in enumerate(clients)]  # silent for 1 s: STALE
    await store(server, race, 3.5, source=SOURCE)
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
    await store(server, race, 4.0, source=SOURCE)
    back = [status(await c.next(id)) for c, id in everyone]  # the next each gets: nothing twice

    assert missed == [("LIVE", first + 1)]
    assert all(e == again[0] for e in again) and status(again[0]) == ("STALE", first + 2)
    assert back == [("LIVE", first + 3)] * len(everyone)
    assert await executions(server) == 1
    await asyncio.gather(*[c.close() for c, _ in everyone])
