"""Notifications are personal on every path: never planned for shared execution, and over two
server processes with one Redis (or a Redis Cluster) each user gets exactly their own notifications,
once each, including a user who was offline and resumes with their cursor."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import httpx

from fixtures.cluster import SECRET, Cluster, Writer
from live_server import GraphQLWs, ServerProcess
from resolvers.viewer import Viewer
from server.auth import create_access_token
from server.live.fanout_plan import SHAREABLE_FIELDS, Planner

LIVE = "subscription($after: String) { notifications(after: $after) { seq cursor notification { alertId price } } }"
CREATE = "mutation($i: AlertInput!) { createAlert(input: $i) { id } }"


def people(*names: str) -> list[str]:
    """Subjects of this test's own: each test runs against a single Redis and a cluster, on one
    database, and counts its users' notification seqs from 1."""
    suffix = os.urandom(3).hex()
    return [f"{name}-{suffix}" for name in names]


def token(subject: str) -> str:
    return create_access_token(secret=SECRET, subject=subject, scopes=[])


def test_the_planner_never_shares_notifications() -> None:
    assert "notifications" not in SHAREABLE_FIELDS
    for viewer in (Viewer(subject="alice", scopes=frozenset()), Viewer(subject=None, scopes=frozenset())):
        assert Planner().plan(LIVE, {"after": None}, None, viewer) is None
        assert Planner().plan("subscription { notifications { seq } }", None, None, viewer) is None


async def create_alert(server: ServerProcess, subject: str, alert: dict[str, Any]) -> str:
    async with httpx.AsyncClient(base_url=server.http) as http:
        response = await http.post(
            "/graphql",
            json={"query": CREATE, "variables": {"i": alert}},
            headers={"Authorization": f"Bearer {token(subject)}"},
        )
    payload = response.json()
    assert "errors" not in payload, payload
    return str(payload["data"]["createAlert"]["id"])


async def listen(server: ServerProcess, subject: str, after: str | None = None) -> GraphQLWs:
    client = await GraphQLWs.open(server.ws, {"Authorization": f"Bearer {token(subject)}"})
    await client.subscribe("n", LIVE, after=after)
    return client


async def received(client: GraphQLWs, count: int) -> list[dict[str, Any]]:
    return [(await client.next("n", timeout=30))["notifications"] for _ in range(count)]


async def test_two_users_on_two_processes_each_get_only_their_own_once(cluster: Cluster) -> None:
    alice, bob, carol_subject = people("alice", "bob", "carol")
    one, two = cluster.start(2)
    race = await cluster.race()
    move = {"kind": "PRICE_MOVE", "runnerId": race["runners"][0], "percent": 1}
    alerts = {alice: await create_alert(one, alice, move), bob: await create_alert(two, bob, move)}
    clients = {alice: await listen(one, alice), bob: await listen(two, bob)}
    carol_alert = await create_alert(two, carol_subject, move)
    carol = await listen(two, carol_subject)

    async with httpx.AsyncClient(base_url=one.http) as http:
        write = Writer(http, race)
        prices = []
        for _ in range(2):
            prices.append((await write())["seq"])
        # Carol has her first notification, then goes offline while two more fire.
        (carol_first,) = await received(carol, 1)
        await carol.close()
        for _ in range(2):
            await write()

        for user, client in clients.items():
            events = await received(client, 3)  # the first price set the reference
            assert [e["seq"] for e in events] == [1, 2, 3]
            assert {e["notification"]["alertId"] for e in events} == {alerts[user]}

        resumed = await listen(one, carol_subject, after=carol_first["cursor"])
        missed = await received(resumed, 2)
        await write()  # live again after the replay, with no gap and no duplicate
        (live,) = await received(resumed, 1)
    assert carol_first["seq"] == 1 and [e["seq"] for e in [*missed, live]] == [2, 3, 4]
    assert {e["notification"]["alertId"] for e in [*missed, live]} == {carol_alert}
    for user, client in clients.items():
        (next_one,) = await received(client, 1)
        assert next_one["seq"] == 4 and next_one["notification"]["alertId"] == alerts[user]
        await client.close()
    await resumed.close()


async def test_a_crossing_written_through_two_processes_at_once_fires_once(cluster: Cluster) -> None:
    (dana,) = people("dana")
    one, two = cluster.start(2)
    race = await cluster.race()
    alert = await create_alert(
        one, dana, {"kind": "PRICE_LEVEL", "runnerId": race["runners"][0], "direction": "AT_OR_ABOVE", "level": 6.0}
    )
    client = await listen(two, dana)
    async with httpx.AsyncClient(base_url=one.http) as a, httpx.AsyncClient(base_url=two.http) as b:
        writers = [Writer(a, race, source="book-a"), Writer(b, race, source="book-b")]
        for writer in writers:
            writer.n = 39  # the next price each stores is 6.0
        await asyncio.gather(*[w() for w in writers])
        (fired,) = await received(client, 1)
        writers[0].n = 9  # 3.0 on book-a; book-b still shows 6.0: no re-arm, so no firing
        await writers[0]()
        writers[1].n = 9
        await writers[1]()  # 3.0 everywhere: re-armed
        writers[0].n = 44  # 6.5: the second crossing
        await writers[0]()
        (second,) = await received(client, 1)
    assert fired["notification"]["alertId"] == alert and fired["seq"] == 1
    assert (second["seq"], second["notification"]["price"]) == (2, 6.5)
    await client.close()
