"""Alerts through the real schema: validation, ownership, firing once per crossing, the inbox."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from conftest import Api
from resolvers.alerts import MAX_ALERTS_PER_USER
from resolvers.viewer import Viewer
from schema.schema import schema
from schema.stream_tap import StreamTap
from storage.models import Alert, AlertKind

ALICE = Viewer(subject="alice@example.com", scopes=frozenset())
BOB = Viewer(subject="bob", scopes=frozenset())
CREATE = "mutation($i: AlertInput!) { createAlert(input: $i) { id kind armed referencePrice } }"
ALERTS = "{ alerts { id kind level direction } }"
DELETE = "mutation($id: ID!) { deleteAlert(id: $id) }"
INBOX = """query($first: Int!, $after: String) { notifications(first: $first, after: $after) {
  edges { cursor node { id kind price status newsId read message runnerId } } pageInfo { hasNextPage endCursor } } }"""
READ = "mutation($ids: [ID!]!) { markNotificationsRead(ids: $ids) }"
STORE = "mutation($i: StoreOddsInput!) { storeOdds(input: $i) { seq } }"
LIVE = "subscription($after: String) { notifications(after: $after) { seq cursor notification { id kind price } } }"


class Prices:
    def __init__(self, api: Api, race: dict[str, Any]) -> None:
        self.api, self.race = api, race
        self.at = datetime.now(UTC) - timedelta(hours=1)

    async def __call__(self, decimal: float, runner: int = 0, source: str = "bookie") -> None:
        self.at += timedelta(seconds=1)
        await self.api.data(
            STORE,
            i={
                "raceId": str(self.race["id"]),
                "source": source,
                "observedAt": self.at.isoformat(),
                "prices": [{"runnerId": str(self.race["runners"][runner]), "decimal": decimal}],
            },
        )


async def inbox(api: Api, viewer: Viewer) -> list[dict[str, Any]]:
    data = await api.data(INBOX, viewer, first=100)
    return [e["node"] for e in data["notifications"]["edges"]]


async def test_anonymous_gets_unauthenticated_everywhere(api: Api, race: dict[str, Any]) -> None:
    anonymous = Viewer(subject=None, scopes=frozenset())
    for query, variables in [
        (ALERTS, {}),
        (INBOX, {"first": 5}),
        (READ, {"ids": ["1"]}),
        (CREATE, {"i": {"kind": "NEWS", "raceId": str(race["id"])}}),
    ]:
        assert (await api.error(query, anonymous, **variables))["code"] == "UNAUTHENTICATED"


async def test_validation_names_the_field(api: Api, race: dict[str, Any]) -> None:
    runner = str(race["runners"][0])
    cases = [
        ({"kind": "PRICE_LEVEL", "runnerId": runner, "level": 6.0}, "direction"),
        ({"kind": "PRICE_LEVEL", "runnerId": runner, "direction": "AT_OR_ABOVE", "level": 1.0}, "level"),
        ({"kind": "PRICE_MOVE", "runnerId": runner, "percent": -5}, "percent"),
        ({"kind": "RACE_STATUS", "raceId": str(race["id"])}, "status"),
        ({"kind": "SCRATCHED"}, "runnerId"),
        ({"kind": "NEWS"}, "raceId"),
    ]
    for alert, field in cases:
        error = await api.error(CREATE, ALICE, i=alert)
        assert (error["code"], error["field"]) == ("BAD_USER_INPUT", field), error
    missing = await api.error(CREATE, ALICE, i={"kind": "SCRATCHED", "runnerId": "999999"})
    assert (missing["code"], missing["field"]) == ("NOT_FOUND", "runnerId")


async def test_alerts_are_capped_per_user(api: Api, race: dict[str, Any]) -> None:
    now = datetime.now(UTC)
    async with api.db.write() as session:
        await session.execute(
            insert(Alert),
            [{"user": ALICE.subject, "kind": AlertKind.NEWS, "race_id": race["id"], "armed": True, "created_at": now}]
            * MAX_ALERTS_PER_USER,
        )
    error = await api.error(CREATE, ALICE, i={"kind": "NEWS", "raceId": str(race["id"])})
    assert (error["code"], error["limit"]) == ("BAD_USER_INPUT", MAX_ALERTS_PER_USER)
    await api.data(CREATE, BOB, i={"kind": "NEWS", "raceId": str(race["id"])})


async def test_users_see_and_delete_only_their_own(api: Api, race: dict[str, Any]) -> None:
    mine = (await api.data(CREATE, ALICE, i={"kind": "NEWS", "raceId": str(race["id"])}))["createAlert"]
    assert (await api.data(ALERTS, BOB))["alerts"] == []
    assert (await api.error(DELETE, BOB, id=mine["id"]))["code"] == "NOT_FOUND"
    assert [a["id"] for a in (await api.data(ALERTS, ALICE))["alerts"]] == [mine["id"]]
    assert (await api.data(DELETE, ALICE, id=mine["id"]))["deleteAlert"] == mine["id"]
    assert (await api.data(ALERTS, ALICE))["alerts"] == []


async def test_level_alert_fires_once_per_crossing_and_rearms_past_the_margin(api: Api, race: dict[str, Any]) -> None:
    runner = str(race["runners"][0])
    await api.data(
        CREATE, ALICE, i={"kind": "PRICE_LEVEL", "runnerId": runner, "direction": "AT_OR_ABOVE", "level": 6.0}
    )
    price = Prices(api, race)
    await price(5.0)
    await price(6.0)  # reaches the level: fires
    await price(6.5, source="exchange")  # best across sources still above: no second firing
    await price(5.95)
    await price(5.95, source="exchange")  # back under, but within the 2% margin: not re-armed
    await price(6.2)  # so this does not fire
    await price(5.5)
    await price(5.5, source="exchange")  # well back: re-armed
    await price(7.0)  # fires again
    fired = await inbox(api, ALICE)
    assert [n["price"] for n in fired] == [7.0, 6.0]
    assert await inbox(api, BOB) == []


async def test_move_status_scratch_and_news_alerts_fire(api: Api, race: dict[str, Any]) -> None:
    runner = str(race["runners"][1])
    price = Prices(api, race)
    await price(4.0, runner=1)
    move = (await api.data(CREATE, ALICE, i={"kind": "PRICE_MOVE", "runnerId": runner, "percent": 10}))["createAlert"]
    assert move["referencePrice"] == 4.0
    for alert in [
        {"kind": "RACE_STATUS", "raceId": str(race["id"]), "status": "BETTING_OPEN"},
        {"kind": "SCRATCHED", "runnerId": str(race["runners"][2])},
        {"kind": "NEWS", "raceId": str(race["id"])},
    ]:
        await api.data(CREATE, ALICE, i=alert)
    await price(4.2, runner=1)  # 5%: nothing
    await price(4.5, runner=1)  # 12.5% from 4.0: a drifter; the reference moves to 4.5
    await price(4.7, runner=1)  # 4.4% from 4.5: nothing
    await api.data("mutation($id: ID!) { setRaceStatus(raceId: $id, status: BETTING_OPEN) { id } }", id=str(race["id"]))
    await api.data("mutation($id: ID!) { scratchRunner(runnerId: $id) { id } }", id=str(race["runners"][2]))
    await api.data(
        'mutation($r: [ID!]) { publishNews(input: {headline: "Going eases", body: "Rain", raceIds: $r}) { id } }',
        r=[str(race["id"])],
    )
    fired = await inbox(api, ALICE)
    assert [n["kind"] for n in fired][::-1] == ["PRICE_MOVE", "RACE_STATUS", "SCRATCHED", "NEWS"]
    assert fired[-1]["price"] == 4.5 and fired[-2]["status"] == "BETTING_OPEN" and fired[0]["newsId"]


async def test_inbox_pages_and_marks_read_only_own(api: Api, race: dict[str, Any]) -> None:
    await api.data(CREATE, ALICE, i={"kind": "PRICE_MOVE", "runnerId": str(race["runners"][0]), "percent": 1})
    price = Prices(api, race)
    for decimal in (3.0, 3.5, 4.0, 4.5):
        await price(decimal)
    page = (await api.data(INBOX, ALICE, first=2))["notifications"]
    assert [e["node"]["price"] for e in page["edges"]] == [4.5, 4.0] and page["pageInfo"]["hasNextPage"]
    rest = (await api.data(INBOX, ALICE, first=2, after=page["pageInfo"]["endCursor"]))["notifications"]
    assert [e["node"]["price"] for e in rest["edges"]] == [3.5]
    ids = [e["node"]["id"] for e in page["edges"]]
    assert (await api.data(READ, BOB, ids=ids))["markNotificationsRead"] == []
    assert sorted((await api.data(READ, ALICE, ids=ids))["markNotificationsRead"]) == sorted(ids)
    assert [n["read"] for n in await inbox(api, ALICE)] == [True, True, False]


async def test_subscription_streams_own_notifications_and_resumes(api: Api, race: dict[str, Any]) -> None:
    for viewer in (ALICE, BOB):
        await api.data(CREATE, viewer, i={"kind": "PRICE_MOVE", "runnerId": str(race["runners"][0]), "percent": 1})
    price = Prices(api, race)
    await price(3.0)
    tap = StreamTap()
    stream = await schema.subscribe(LIVE, context_value=api.context(ALICE), root_value=tap)
    first = asyncio.ensure_future(stream.__anext__())
    await asyncio.wait_for(tap.listening.wait(), 10)
    await price(3.5)
    event = (await asyncio.wait_for(first, 10)).data["notifications"]
    assert event["notification"]["price"] == 3.5
    await stream.aclose()
    await price(4.0)  # Alice is offline
    resumed = await schema.subscribe(LIVE, variable_values={"after": event["cursor"]}, context_value=api.context(ALICE))
    missed = (await asyncio.wait_for(resumed.__anext__(), 10)).data["notifications"]
    assert (missed["seq"], missed["notification"]["price"]) == (event["seq"] + 1, 4.0)
    await resumed.aclose()
    assert [n["price"] for n in await inbox(api, BOB)] == [4.0, 3.5]
