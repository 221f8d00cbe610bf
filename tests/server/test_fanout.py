"""The fan-out engine: identical subscribers share one execution; late joiners, resumers and
laggards are served on their own until they can join, with no gap and no duplicate."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from live_server import SECRET, GraphQLWs, ServerProcess, store, wait_subscribed
from resolvers.viewer import Viewer
from server.live.fanout_plan import Planner

ODDS = """subscription Odds($ids: [ID!]!, $after: String, $snapshot: Boolean! = false) {
  oddsUpdated(raceIds: $ids, after: $after, snapshot: $snapshot) { seq seqFrom snapshot cursor prices { decimal } }
}"""


@pytest.fixture
def race(served_race: dict[str, Any]) -> dict[str, Any]:
    """The race the live server serves (tests/fixtures/live.py), not the suite's race in the test database."""
    return served_race


@pytest.fixture
def server(database_url: str) -> Iterator[ServerProcess]:
    process = ServerProcess({"RACEWIRE_DATABASE_URL": database_url, "RACEWIRE_JWT_SECRET": SECRET}).start()
    yield process
    process.stop()


def test_the_group_key_holds_everything_a_result_depends_on() -> None:
    planner = Planner()
    reader = Viewer(subject=None, scopes=frozenset())
    writer = Viewer(subject="feed", scopes=frozenset({"odds:write"}))
    base = planner.plan(ODDS, {"ids": ["1"]}, None, reader)
    resumed = planner.plan(ODDS, {"ids": ["1"], "after": "abc"}, None, reader)
    other_race = planner.plan(ODDS, {"ids": ["2"]}, None, reader)
    other_scopes = planner.plan(ODDS, {"ids": ["1"]}, None, writer)

    assert base is not None and resumed is not None and other_race is not None and other_scopes is not None
    assert base.key == resumed.key and resumed.resumes and not base.resumes
    assert base.key != other_race.key
    assert base.key != other_scopes.key  # different authorisation: never the same execution
    assert planner.plan("query { race(id: 1) { name } }", None, None, reader) is None
    assert planner.plan('subscription { oddsUpdated(raceIds: ["1"], after: "x") { seq } }', None, None, reader) is None
    assert planner.plan("subscription {", None, None, reader) is None


async def test_many_identical_subscribers_get_identical_updates(server: ServerProcess, race: dict[str, Any]) -> None:
    clients = await asyncio.gather(*[GraphQLWs.open(server.ws) for _ in range(50)])
    await asyncio.gather(*[c.subscribe(f"op-{n}", ODDS, ids=[race["id"]]) for n, c in enumerate(clients)])
    await wait_subscribed(server, 50)
    async with httpx.AsyncClient(base_url=server.http) as http:
        ready = (await http.get("/ready")).json()
    assert (ready["subscriptions"], ready["executions"]) == (50, 1)
    await store(server, race, 3.0)
    await store(server, race, 3.5)

    received = [[await c.next(f"op-{n}") for _ in range(2)] for n, c in enumerate(clients)]
    async with httpx.AsyncClient(base_url=server.http) as http:
        metrics = (await http.get("/metrics")).text
    delivered = next(
        float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith('racewire_events_delivered_total{field="oddsUpdated"}')
    )
    assert all(r == received[0] for r in received)
    assert delivered == 100  # every frame counted, though the group executed each update once
    assert [u["oddsUpdated"]["seq"] for u in received[0]] == [1, 2]
    await asyncio.gather(*[c.close() for c in clients])


async def test_late_snapshot_joiners_and_resumers_join_without_gap_or_duplicate(
    server: ServerProcess, race: dict[str, Any]
) -> None:
    first = await GraphQLWs.open(server.ws)
    await first.subscribe("first", ODDS, ids=[race["id"]], snapshot=True)
    assert (await first.next("first"))["oddsUpdated"]["snapshot"] is True
    for n in range(3):
        await store(server, race, 2.0 + n / 10)
    seen = [(await first.next("first"))["oddsUpdated"] for _ in range(3)]

    snapshotter = await GraphQLWs.open(server.ws)
    await snapshotter.subscribe("late", ODDS, ids=[race["id"]], snapshot=True)
    resumer = await GraphQLWs.open(server.ws)
    await resumer.subscribe("resume", ODDS, ids=[race["id"]], after=seen[0]["cursor"])
    late_snapshot = (await snapshotter.next("late"))["oddsUpdated"]
    replayed = [(await resumer.next("resume"))["oddsUpdated"]["seq"] for _ in range(2)]
    for n in range(5):
        await store(server, race, 5.0 + n / 10)
    live = {
        name: [(await client.next(name))["oddsUpdated"]["seq"] for _ in range(5)]
        for name, client in (("first", first), ("late", snapshotter), ("resume", resumer))
    }

    assert late_snapshot["snapshot"] is True and late_snapshot["seq"] == 3
    assert replayed == [2, 3]
    assert live == {"first": [4, 5, 6, 7, 8], "late": [4, 5, 6, 7, 8], "resume": [4, 5, 6, 7, 8]}
    for client in (first, snapshotter, resumer):
        await client.close()


async def test_errors_and_completion_reach_every_member(server: ServerProcess) -> None:
    clients = [await GraphQLWs.open(server.ws) for _ in range(3)]
    for n, client in enumerate(clients):
        await client.subscribe(str(n), ODDS, ids=["424242"])
    answers = [await c.receive() for c in clients]
    finals = [await c.receive() for c in clients]

    assert all(a["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND" for a in answers)
    assert [f["type"] for f in finals] == ["complete"] * 3
    for client in clients:
        await client.close()
