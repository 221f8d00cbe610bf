"""Events written by the version before the payload codec (camelCase payloads) after an upgrade:
replayed from the log and heard live from a process of the old version, through real subscriptions."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from broadcaster import Broadcast
from sqlalchemy import select, update

from conftest import Api, Tick
from pubsub.hub import Hub
from pubsub.seal import Seal
from resolvers.cursors import encode_positions
from storage import events
from storage.database import Database
from storage.models import Event, IdempotencyKey, Stream

KEY = b"old-and-new-processes-share-this"
ODDS = """
subscription($ids: [ID!]!, $after: String) {
  oddsUpdated(raceIds: $ids, after: $after) {
    seq source sourceStatus marketStale observedAt prices { runnerId source decimal stale } scratchedRunnerIds
  }
}
"""
STATUS = (
    "subscription($after: String) { raceStatus(after: $after) { raceId status previousStatus resultRunnerIds seq } }"
)


async def store_as_the_old_version(db: Database, stream: str, kind: str, payload: dict[str, Any]) -> int:
    """Appends a row as the old version stored it: the next seq, the payload as given."""
    async with db.write() as session:
        head = (await events.heads(session, [stream]))[stream]
        if head:
            await session.execute(update(Stream).where(Stream.name == stream).values(last_seq=head + 1))
        else:
            session.add(Stream(name=stream, last_seq=1))
        session.add(Event(stream=stream, seq=head + 1, kind=kind, payload=payload, created_at=datetime.now(UTC)))
    return head + 1


def sealed_by_the_old_version(channel: str, body: dict[str, Any]) -> bytes:
    """The wire format (docs/security.md) around an envelope whose payload is in the old form."""
    raw = orjson.dumps(body)
    mac = hmac.new(KEY, channel.encode() + b"\n" + raw, hashlib.sha256).hexdigest()
    return b"v1." + mac.encode() + b"." + raw


async def next_data(stream: AsyncIterator[Any], field: str) -> dict[str, Any]:
    result = await asyncio.wait_for(anext(stream), timeout=5)
    assert result.errors is None, result.errors
    return result.data[field]


@pytest.fixture
async def sealed() -> AsyncIterator[tuple[Broadcast, Hub]]:
    """A hub with the deployment's key, as every process of both versions holds it."""
    broadcast = Broadcast("memory://")
    await broadcast.connect()
    hub = Hub(broadcast, seal=Seal(KEY))
    yield broadcast, hub
    await hub.close()
    await broadcast.disconnect()


async def test_old_odds_and_freshness_rows_replay_after_an_upgrade(api: Api, race: dict[str, Any]) -> None:
    seen = await Tick(api, race)()  # seq 1, in the new form
    stream, runner = f"odds:{race['id']}", race["runners"][0]
    at = (datetime.now(UTC) - timedelta(minutes=5)).replace(microsecond=0)
    old_odds = {"raceId": race["id"], "source": "bet365", "observedAt": at.isoformat(), "prices": []}
    old_odds["prices"] = [{"runnerId": runner, "decimal": 4.5}]
    await store_as_the_old_version(api.db, stream, "odds", old_odds)
    old_feed = {
        "raceId": race["id"],
        "source": "bet365",
        "status": "STALE",
        "stale": True,
        "marketStale": False,
        "prices": [{"runnerId": runner, "decimal": 4.5, "observedAt": at.isoformat()}],
    }
    await store_as_the_old_version(api.db, stream, "feed", old_feed)
    await store_as_the_old_version(api.db, stream, "scratch", {"raceId": race["id"], "runnerId": race["runners"][7]})

    replay = await api.subscribe(ODDS, ids=[str(race["id"])], after=seen["cursor"])
    priced, stale, scratched = [await next_data(replay, "oddsUpdated") for _ in range(3)]
    await replay.aclose()

    assert (priced["seq"], priced["source"], priced["sourceStatus"], priced["marketStale"]) == (
        2,
        "bet365",
        None,
        False,
    )
    assert datetime.fromisoformat(priced["observedAt"]) == at
    assert priced["prices"] == [{"runnerId": str(runner), "source": "bet365", "decimal": 4.5, "stale": False}]
    assert (stale["seq"], stale["sourceStatus"], stale["marketStale"]) == (3, "STALE", False)
    assert stale["prices"] == [{"runnerId": str(runner), "source": "bet365", "decimal": 4.5, "stale": True}]
    assert (scratched["seq"], scratched["scratchedRunnerIds"]) == (4, [str(race["runners"][7])])


async def test_an_old_status_row_replays_after_an_upgrade(api: Api, race: dict[str, Any]) -> None:
    first, second = race["runners"][:2]
    old = {"raceId": race["id"], "status": "RESULTED", "previous": "OFF", "result": [second, first]}
    await store_as_the_old_version(api.db, "status", "status", old)
    replay = await api.subscribe(STATUS, after=encode_positions({"status": 0}))
    changed = await next_data(replay, "raceStatus")
    await replay.aclose()
    assert changed == {
        "raceId": str(race["id"]),
        "status": "RESULTED",
        "previousStatus": "OFF",
        "resultRunnerIds": [str(second), str(first)],
        "seq": 1,
    }


async def test_an_old_processes_message_is_heard_live_by_a_new_one(
    db: Database, race: dict[str, Any], sealed: tuple[Broadcast, Hub]
) -> None:
    broadcast, hub = sealed
    api = Api(db, hub)
    stream = f"odds:{race['id']}"
    live = await api.subscribe(ODDS, ids=[str(race["id"])])
    pending = asyncio.ensure_future(next_data(live, "oddsUpdated"))
    for _ in range(500):  # listening once the hub counts it: then nothing published is missed
        if hub.listener_count:
            break
        await asyncio.sleep(0.01)
    at = datetime.now(UTC).replace(microsecond=0)
    body = {
        "stream": stream,
        "seq": 1,
        "kind": "odds",
        "payload": {
            "raceId": race["id"],
            "source": "old-process",
            "observedAt": at.isoformat(),
            "prices": [{"runnerId": race["runners"][0], "decimal": 3.25}],
        },
        "created_at": at.isoformat(),
    }
    await broadcast.publish(
        hub.namespace.channel(stream), sealed_by_the_old_version(hub.namespace.channel(stream), body)
    )
    heard = await asyncio.wait_for(pending, 5)
    await live.aclose()
    assert (heard["seq"], heard["source"]) == (1, "old-process")
    assert heard["prices"] == [
        {"runnerId": str(race["runners"][0]), "source": "old-process", "decimal": 3.25, "stale": False}
    ]


STORE = """
mutation($input: StoreOddsInput!) {
  storeOdds(input: $input) {
    seq stored replayed changed { runnerId decimal } stale { runnerId decimal currentObservedAt }
  }
}
"""


async def test_an_idempotency_key_remembered_by_the_old_version_still_answers(api: Api, race: dict[str, Any]) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    first, second = (str(r) for r in race["runners"][:2])
    await api.data(STORE, input=_odds(race, now, [(first, 3.0)]))
    body = {**_odds(race, now - timedelta(seconds=5), [(first, 9.0), (second, 4.0)]), "idempotencyKey": "k-1"}
    answered = (await api.data(STORE, input=body))["storeOdds"]
    assert (answered["changed"], len(answered["stale"])) == ([{"runnerId": second, "decimal": 4.0}], 1)
    async with api.db.write() as session:
        row = (await session.scalars(select(IdempotencyKey))).one()
        old = dict(row.response)  # the outcome's fields, its prices as the old version kept them
        old["changed"] = [{"runnerId": int(second), "decimal": 4.0}]
        old["stale"] = [{"runnerId": int(first), "decimal": 9.0, "currentObservedAt": now.isoformat()}]
        row.response = old
    async with api.db.read() as session:
        assert (await session.scalars(select(IdempotencyKey))).one().response["changed"] == old["changed"]

    replayed = (await api.data(STORE, input=body))["storeOdds"]
    assert replayed == {**answered, "replayed": True}


def _odds(race: dict[str, Any], at: datetime, prices: list[tuple[str, float]]) -> dict[str, Any]:
    return {
        "raceId": str(race["id"]),
        "source": "bet365",
        "observedAt": at.isoformat(),
        "prices": [{"runnerId": runner, "decimal": decimal} for runner, decimal in prices],
    }
