"""The fan-out beyond `oddsUpdated`'s plain groups (tests/server/test_fanout.py): `raceUpdated`'s
identical subscribers share one execution, and a late snapshot or a resumed member gets exactly
its own stream before joining; a member resuming with `after` and `conflateMs` gets every update
once, in order, then shares its group's execution."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from live_server import GraphQLWs, ServerProcess, executions, store, token, wait_executions, wait_subscribed
from resolvers.viewer import Viewer
from server.live.fanout_plan import Planner

RACE = """subscription Race($ids: [ID!]!, $after: String, $snapshot: Boolean! = false) {
  raceUpdated(raceIds: $ids, after: $after, snapshot: $snapshot) {
    raceId cursor odds { seq snapshot prices { decimal } } status { status }
  }
}"""
PACED = """subscription Paced($ids: [ID!]!, $after: String, $window: Int) {
  oddsUpdated(raceIds: $ids, after: $after, conflateMs: $window) { seq seqFrom conflated cursor prices { decimal } }
}"""
STATUS = "mutation($id: ID!, $s: RaceStatus!) { setRaceStatus(raceId: $id, status: $s) { status } }"


@pytest.fixture
def race(served_race: dict[str, Any]) -> dict[str, Any]:
    """The race the live server serves (tests/fixtures/live.py)."""
    return served_race


async def set_status(server: ServerProcess, race: dict[str, Any], status: str) -> None:
    async with httpx.AsyncClient(base_url=server.http) as http:
        response = await http.post(
            "/graphql",
            json={"query": STATUS, "variables": {"id": race["id"], "s": status}},
            headers={"Authorization": f"Bearer {token('races:write')}"},
        )
    assert "errors" not in response.json(), response.text


def test_the_streams_that_read_nothing_of_the_viewer_are_planned_and_keyed_by_scope() -> None:
    planner = Planner()
    reader = Viewer(subject=None, scopes=frozenset())
    other_reader = Viewer(subject="someone", scopes=frozenset())
    writer = Viewer(subject="feed", scopes=frozenset({"odds:write"}))
    feeds = 'subscription($after: String) { feedStatus(sources: ["tote"], after: $after) { seq } }'
    own = "subscription($after: String) { notifications(after: $after) { seq } }"
    race = planner.plan(RACE, {"ids": ["1"]}, None, reader)
    feed = planner.plan(feeds, {}, None, reader)

    assert race is not None and feed is not None
    assert race.field == "raceUpdated" and feed.field == "feedStatus"
    assert race.key != planner.plan(RACE, {"ids": ["1"]}, None, writer).key
    assert race.key == planner.plan(RACE, {"ids": ["1"], "after": "x"}, None, reader).key
    assert planner.plan(own, {}, None, other_reader) is None  # the viewer's own stream: never shared


def shown(event: dict[str, Any]) -> tuple[Any, ...]:
    update = event["raceUpdated"]
    if update["status"] is not None:
        return ("status", update["status"]["status"])
    return ("snapshot" if update["odds"]["snapshot"] else "odds", update["odds"]["seq"])


async def test_race_updated_subscribers_share_one_execution_and_late_ones_get_exactly_their_stream(
    server: ServerProcess, race: dict[str, Any]
) -> None:
    # All with a snapshot: the first starts the group, the others are served their own snapshot
    # alone, then join it (a snapshot is part of the key's variables, like every argument).
    clients = await asyncio.gather(*[GraphQLWs.open(server.ws) for _ in range(20)])
    await asyncio.gather(
        *[c.subscribe(f"race-{n}", RACE, ids=[race["id"]], snapshot=True) for n, c in enumerate(clients)]
    )
    opening = [shown(await c.next(f"race-{n}")) for n, c in enumerate(clients)]
    await wait_executions(server, 1)
    await store(server, race, 3.0)
    await set_status(server, race, "BETTING_OPEN")
    await store(server, race, 3.5)
    early = [[await c.next(f"race-{n}") for _ in range(3)] for n, c in enumerate(clients)]
    assert opening == [("snapshot", 0)] * 20
    assert all(received == early[0] for received in early)  # the same bytes, cursors included
    assert [shown(e) for e in early[0]] == [("odds", 1), ("status", "BETTING_OPEN"), ("odds", 2)]

    snapshotter = await GraphQLWs.open(server.ws)
    await snapshotter.subscribe("late", RACE, ids=[race["id"]], snapshot=True)
    resumer = await GraphQLWs.open(server.ws)
    await resumer.subscribe("resume", RACE, ids=[race["id"]], snapshot=True, after=early[0][0]["raceUpdated"]["cursor"])
    snapshot = await snapshotter.next("late")
    replayed = [shown(await resumer.next("resume")) for _ in range(2)]
    await wait_executions(server, 1)

    await store(server, race, 4.0)
    await set_status(server, race, "SUSPENDED")
    everyone = [*((c, f"race-{n}") for n, c in enumerate(clients)), (snapshotter, "late"), (resumer, "resume")]
    later = [[await c.next(id) for _ in range(2)] for c, id in everyone]
    await store(server, race, 4.5)  # the next one each gets is this one: nothing was sent twice
    last = [shown(await c.next(id)) for c, id in everyone]
    # The snapshot's cursor places every stream (the status one too): resumed from it, nothing is missed.
    from_snapshot = await GraphQLWs.open(server.ws)
    await from_snapshot.subscribe("again", RACE, ids=[race["id"]], after=snapshot["raceUpdated"]["cursor"])
    again = [shown(await from_snapshot.next("again")) for _ in range(3)]
    await from_snapshot.close()

    assert shown(snapshot) == ("snapshot", 2)
    assert replayed == [("status", "BETTING_OPEN"), ("odds", 2)]
    assert all(received == later[0] for received in later)  # the late ones are group members now
    assert [shown(e) for e in later[0]] == [("odds", 3), ("status", "SUSPENDED")]
    assert last == [("odds", 4)] * len(everyone)
    assert again == [("odds", 3), ("status", "SUSPENDED"), ("odds", 4)]
    await wait_executions(server, 1)
    await asyncio.gather(*[c.close() for c, _ in everyone])


def covered(updates: list[dict[str, Any]]) -> list[int]:
    return [seq for u in updates for seq in range(u["seqFrom"], u["seq"] + 1)]


async def test_a_member_resuming_with_conflate_ms_gets_every_update_once_then_joins_its_group(
    server: ServerProcess, race: dict[str, Any]
) -> None:
    window = 200
    members = await asyncio.gather(*[GraphQLWs.open(server.ws) for _ in range(3)])
    for n, member in enumerate(members):
        await member.subscribe(f"paced-{n}", PACED, ids=[race["id"]], window=window)
    await wait_subscribed(server, 3)
    assert await executions(server) == 1
    seen: list[dict[str, Any]] = []
    for n in range(3):  # one window each: three updates
        await store(server, race, 2.0 + n / 10)
        seen.append((await members[0].next("paced-0"))["oddsUpdated"])
        for other, member in enumerate(members[1:], start=1):
            assert (await member.next(f"paced-{other}"))["oddsUpdated"] == seen[-1]
    assert covered(seen) == [1, 2, 3]

    resumer = await GraphQLWs.open(server.ws)
    await resumer.subscribe("resumed", PACED, ids=[race["id"]], after=seen[0]["cursor"], window=window)
    caught_up = [(await resumer.next("resumed"))["oddsUpdated"]]  # 2 and 3, merged into one at once
    await wait_executions(server, 1)
    everyone = [*((m, f"paced-{n}") for n, m in enumerate(members)), (resumer, "resumed")]
    for n in range(3):
        await store(server, race, 3.0 + n / 10)
        live = [(await c.next(id))["oddsUpdated"] for c, id in everyone]
        assert all(u == live[0] for u in live)  # one execution's bytes, the resumer's included
        caught_up.append(live[0])

    assert covered(caught_up) == [2, 3, 4, 5, 6]  # every update once, in order
    assert caught_up[0]["conflated"] is True and (caught_up[0]["seqFrom"], caught_up[0]["seq"]) == (2, 3)
    await wait_executions(server, 1)
    await asyncio.gather(*[c.close() for c, _ in everyone])
