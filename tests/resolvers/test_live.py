"""Subscriptions at the schema level: live delivery, resume by cursor, snapshots."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from conftest import Api, Tick
from storage import events

ODDS = """
subscription Odds($ids: [ID!]!, $after: String, $snapshot: Boolean! = false) {
  oddsUpdated(raceIds: $ids, after: $after, snapshot: $snapshot) {
    raceId seq seqFrom cursor snapshot conflated source
    prices { runnerId decimal fractional }
    scratchedRunnerIds
  }
}
"""


async def next_event(stream: AsyncIterator[Any]) -> dict[str, Any]:
    result = await asyncio.wait_for(stream.__anext__(), timeout=5)
    assert result.errors is None, result.errors
    return result.data["oddsUpdated"]


async def started(stream: AsyncIterator[Any], api: Api) -> asyncio.Future[Any]:
    """Waits until the subscription is listening (the hub counts it), without sleeping."""
    first = asyncio.ensure_future(stream.__anext__())
    for _ in range(500):
        if api.hub.listener_count:
            break
        await asyncio.sleep(0.01)
    return first


async def test_a_subscriber_receives_each_update_with_contiguous_seq(api: Api, race: dict[str, Any]) -> None:
    stream = await api.subscribe(ODDS, ids=[str(race["id"])])
    pending = await started(stream, api)
    tick = Tick(api, race)
    stored = [await tick() for _ in range(3)]

    first = (await asyncio.wait_for(pending, 5)).data["oddsUpdated"]
    rest = [await next_event(stream) for _ in range(2)]
    received = [first, *rest]
    assert [e["seq"] for e in received] == [1, 2, 3]
    assert [e["cursor"] for e in received] == [s["cursor"] for s in stored]
    assert received[2]["prices"] == [{"runnerId": str(race["runners"][0]), "decimal": 2.3, "fractional": "13/10"}]
    await stream.aclose()


async def test_resume_after_a_cursor_replays_exactly_what_was_missed(api: Api, race: dict[str, Any]) -> None:
    tick = Tick(api, race)
    seen = [await tick() for _ in range(2)]
    missed = [await tick() for _ in range(4)]

    stream = await api.subscribe(ODDS, ids=[str(race["id"])], after=seen[-1]["cursor"])
    replayed = [await next_event(stream) for _ in range(4)]
    live = await tick()
    after_replay = await next_event(stream)

    assert [e["seq"] for e in replayed] == [m["seq"] for m in missed] == [3, 4, 5, 6]
    assert after_replay["seq"] == live["seq"] == 7
    await stream.aclose()


async def test_events_stored_during_the_replay_are_neither_lost_nor_doubled(api: Api, race: dict[str, Any]) -> None:
    tick = Tick(api, race)
    start = await tick()
    for _ in range(30):
        await tick()
    stream = await api.subscribe(ODDS, ids=[str(race["id"])], after=start["cursor"])
    received = [await next_event(stream)]
    # Concurrent writers may commit out of order: a quote overtaken by a newer one is stale.
    written = await asyncio.gather(*[tick() for _ in range(10)])
    head = max([31] + [w["seq"] for w in written if w["seq"] is not None])
    while len(received) < head - 1:
        received.append(await next_event(stream))

    assert [e["seq"] for e in received] == list(range(2, head + 1))
    await stream.aclose()


async def test_snapshot_starts_with_the_full_market(api: Api, race: dict[str, Any]) -> None:
    tick = Tick(api, race)
    await tick()
    stream = await api.subscribe(ODDS, ids=[str(race["id"])], snapshot=True)
    snapshot = await next_event(stream)
    live = await tick()

    assert snapshot["snapshot"] is True and snapshot["seq"] == 1
    assert [p["decimal"] for p in snapshot["prices"]] == [2.1]
    assert (await next_event(stream))["seq"] == live["seq"] == 2
    await stream.aclose()


async def test_a_cursor_older_than_the_log_gets_a_flagged_snapshot(api: Api, race: dict[str, Any]) -> None:
    tick = Tick(api, race)
    old = await tick()
    for _ in range(5):
        await tick()
    async with api.db.write() as session:
        await events.prune(session, keep=2)

    stream = await api.subscribe(ODDS, ids=[str(race["id"])], after=old["cursor"])
    event = await next_event(stream)

    assert event["snapshot"] is True and event["seq"] == 6
    assert [p["decimal"] for p in event["prices"]] == [2.6]
    await stream.aclose()


async def test_a_cursor_follows_several_races(api: Api, db: Any, race: dict[str, Any]) -> None:
    from conftest import card
    from resolvers.race_cards import load_race_cards

    await load_race_cards(db=db, cards=[card(venue="York")])
    other = {"id": race["id"] + 1, "runners": [r + len(race["runners"]) for r in race["runners"]]}
    a, b = Tick(api, race), Tick(api, other)
    ids = [str(race["id"]), str(other["id"])]
    stream = await api.subscribe(ODDS, ids=ids)
    pending = await started(stream, api)
    await a()
    await b()
    first = (await asyncio.wait_for(pending, 5)).data["oddsUpdated"]
    second = await next_event(stream)
    await stream.aclose()
    missed = [await a(), await b(), await a()]

    resumed = await api.subscribe(ODDS, ids=ids, after=second["cursor"])
    replay = [await next_event(resumed) for _ in range(3)]
    assert {(e["raceId"], e["seq"]) for e in (first, second)} == {(ids[0], 1), (ids[1], 1)}
    assert sorted((e["raceId"], e["seq"]) for e in replay) == [(ids[0], 2), (ids[0], 3), (ids[1], 2)]
    assert len(missed) == 3
    await resumed.aclose()


async def test_bad_arguments_are_typed_errors(api: Api, race: dict[str, Any]) -> None:
    for variables, code in (
        ({"ids": ["999999"]}, "NOT_FOUND"),
        ({"ids": []}, "BAD_USER_INPUT"),
        ({"ids": [str(race["id"])], "after": "not-a-cursor"}, "BAD_USER_INPUT"),
        ({"ids": [str(n) for n in range(1, 60)]}, "BAD_USER_INPUT"),
    ):
        stream = await api.subscribe(ODDS, **variables)
        result = await asyncio.wait_for(stream.__anext__(), 5)
        assert result.errors[0].extensions["code"] == code, variables
