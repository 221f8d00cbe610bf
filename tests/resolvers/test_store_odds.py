from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, func, select

from conftest import Api
from resolvers.viewer import ANONYMOUS, Viewer
from storage.database import Database
from storage.models import Event, Price

STORE = """
mutation Store($input: StoreOddsInput!) {
  storeOdds(input: $input) {
    raceId seq cursor stored replayed
    changed { runnerId source decimal fractional }
    stale { runnerId decimal currentObservedAt }
  }
}
"""
MARKET = """
query Market($id: ID!) {
  race(id: $id) { market { favouriteRunnerId overround bestPrices { runnerId source decimal fractional } } }
}
"""


def odds_input(
    race: dict[str, Any],
    decimals: list[float],
    *,
    at: datetime | None = None,
    source: str = "bet365",
    key: str | None = None,
) -> dict[str, Any]:
    at = at or datetime.now(UTC)
    body: dict[str, Any] = {
        "raceId": str(race["id"]),
        "source": source,
        "observedAt": at.isoformat(),
        "prices": [{"runnerId": str(r), "decimal": d} for r, d in zip(race["runners"], decimals, strict=False)],
    }
    if key is not None:
        body["idempotencyKey"] = key
    return body


async def counts(db: Database) -> tuple[int, int]:
    async with db.read() as session:
        prices = await session.scalar(select(func.count()).select_from(Price))
        events = await session.scalar(select(func.count()).select_from(Event))
    return prices, events


async def test_stores_prices_and_one_event_with_the_next_seq(api: Api, race: dict[str, Any]) -> None:
    first = await api.data(STORE, input=odds_input(race, [2.5, 1.91, 4.33]))
    second = await api.data(STORE, input=odds_input(race, [3.5]))

    assert first["storeOdds"]["seq"] == 1 and second["storeOdds"]["seq"] == 2
    assert [c["fractional"] for c in first["storeOdds"]["changed"]] == ["6/4", "10/11", "10/3"]
    assert await counts(api.db) == (4, 2)
    market = (await api.data(MARKET, id=str(race["id"])))["race"]["market"]
    assert market["favouriteRunnerId"] == str(race["runners"][1])
    assert market["overround"] == round(100 / 3.5 + 100 / 1.91 + 100 / 4.33, 2)


async def test_a_write_needs_a_token_with_the_odds_scope(api: Api, race: dict[str, Any]) -> None:
    anonymous = await api.error(STORE, ANONYMOUS, input=odds_input(race, [2.0]))
    reader = await api.error(STORE, Viewer("someone", frozenset({"news:write"})), input=odds_input(race, [2.0]))

    assert anonymous["code"] == "UNAUTHENTICATED"
    assert reader["code"] == "FORBIDDEN" and reader["requiredScope"] == "odds:write"
    assert await counts(api.db) == (0, 0)


async def test_invalid_prices_name_the_item_and_store_nothing(api: Api, race: dict[str, Any]) -> None:
    for bad in (1.0, 0.5, 1000.01, -3.0):
        error = await api.error(STORE, input=odds_input(race, [2.0, bad]))
        assert error["code"] == "BAD_USER_INPUT"
        assert error["index"] == 1 and error["runnerId"] == str(race["runners"][1])
        assert "prices[1]" in error["message"]
    assert await counts(api.db) == (0, 0)


async def test_runners_must_belong_to_the_race(api: Api, race: dict[str, Any]) -> None:
    body = odds_input(race, [2.0])
    body["prices"].append({"runnerId": "999999", "decimal": 3.0})
    error = await api.error(STORE, input=body)

    assert error["code"] == "BAD_USER_INPUT" and error["runnerId"] == "999999"
    assert await counts(api.db) == (0, 0)


async def test_unknown_race_and_bad_ids_are_typed_errors(api: Api, race: dict[str, Any]) -> None:
    missing = await api.error(STORE, input={**odds_input(race, [2.0]), "raceId": "424242"})
    garbage = await api.error(STORE, input={**odds_input(race, [2.0]), "raceId": "abc"})

    assert missing["code"] == "NOT_FOUND"
    assert garbage["code"] == "BAD_USER_INPUT"


async def test_a_race_that_is_off_accepts_no_prices(api: Api, race: dict[str, Any]) -> None:
    for status in ("BETTING_OPEN", "OFF"):
        await api.data(
            "mutation($id: ID!, $s: RaceStatus!) { setRaceStatus(raceId: $id, status: $s) { status } }",
            id=str(race["id"]),
            s=status,
        )
    error = await api.error(STORE, input=odds_input(race, [2.0]))

    assert error["code"] == "BAD_USER_INPUT" and error["status"] == "OFF"
    assert (await counts(api.db))[0] == 0


async def test_an_older_quote_is_reported_stale_and_never_overwrites(api: Api, race: dict[str, Any]) -> None:
    now = datetime.now(UTC)
    await api.data(STORE, input=odds_input(race, [3.0], at=now))
    late = await api.data(STORE, input=odds_input(race, [9.0, 4.0], at=now - timedelta(seconds=5)))

    result = late["storeOdds"]
    assert [s["runnerId"] for s in result["stale"]] == [str(race["runners"][0])]
    assert [c["runnerId"] for c in result["changed"]] == [str(race["runners"][1])]
    best = (await api.data(MARKET, id=str(race["id"])))["race"]["market"]["bestPrices"]
    assert {b["runnerId"]: b["decimal"] for b in best}[str(race["runners"][0])] == 3.0


async def test_an_unchanged_price_is_history_but_not_published(api: Api, race: dict[str, Any]) -> None:
    now = datetime.now(UTC)
    await api.data(STORE, input=odds_input(race, [3.0], at=now - timedelta(seconds=1)))
    again = await api.data(STORE, input=odds_input(race, [3.0], at=now))

    assert again["storeOdds"]["seq"] is None and again["storeOdds"]["changed"] == []
    assert again["storeOdds"]["stored"] == 1
    assert await counts(api.db) == (2, 1)


async def test_the_same_idempotency_key_stores_once_and_answers_the_same(api: Api, race: dict[str, Any]) -> None:
    body = odds_input(race, [2.2, 5.0], key="feed-1:batch-77")
    first = (await api.data(STORE, input=body))["storeOdds"]
    retry = (await api.data(STORE, input=body))["storeOdds"]

    assert retry == {**first, "replayed": True}
    assert await counts(api.db) == (2, 1)
    reused = await api.error(STORE, input={**body, "prices": body["prices"][:1]})
    assert reused["code"] == "CONFLICT"
    assert await counts(api.db) == (2, 1)


async def test_concurrent_writes_share_transactions_and_each_gets_its_own_answer(
    api: Api, race: dict[str, Any]
) -> None:
    commits: list[int] = []
    event.listen(api.db.engine.sync_engine, "commit", lambda _conn: commits.append(1))
    now = datetime.now(UTC)
    bodies = [odds_input(race, [2.0 + n / 10, 3.0 + n / 10], at=now, source=f"feed{n}") for n in range(24)]
    bodies[5]["prices"][1]["runnerId"] = "999999"  # refused: not in the race
    bodies[9] = odds_input(race, [2.5], at=now - timedelta(seconds=1), source="feed8")  # older than feed8's
    bodies[12] = bodies[13] = odds_input(race, [7.0], at=now, source="dup", key="dup-key")

    results = await asyncio.gather(*[api.execute(STORE, input=body) for body in bodies])

    assert results[5].errors and results[5].errors[0].extensions["code"] == "BAD_USER_INPUT"
    answers = {n: r.data["storeOdds"] for n, r in enumerate(results) if n != 5}
    assert all(r.errors is None for n, r in enumerate(results) if n != 5)
    assert answers[9]["stale"] and answers[9]["seq"] is None  # feed8 at `now` came first
    assert {answers[12]["replayed"], answers[13]["replayed"]} == {False, True}
    assert {**answers[12], "replayed": None} == {**answers[13], "replayed": None}
    seqs = sorted(a["seq"] for n, a in answers.items() if n not in (9, 13))
    assert seqs == list(range(1, 22))
    async with api.db.read() as session:
        logged = {e.seq: e.payload for e in await session.scalars(select(Event))}
    for n, answer in answers.items():
        if answer["seq"] is not None:
            assert logged[answer["seq"]]["source"] == bodies[n]["source"]
            assert [p["decimal"] for p in logged[answer["seq"]]["prices"]] == [
                p["decimal"] for p in bodies[n]["prices"]
            ]
    assert await counts(api.db) == (2 * 20 + 1, 21)
    assert len(commits) < len(bodies)  # concurrent writes were batched


async def test_idempotency_keys_are_each_subjects_own(api: Api, race: dict[str, Any]) -> None:
    feeds = [Viewer(subject=f"feed-{n}", scopes=frozenset({"odds:write"})) for n in (1, 2)]
    now = datetime.now(UTC)
    bodies = [odds_input(race, [2.0 + n, 3.0 + n], at=now, source=f"book{n}", key="batch-1") for n in (1, 2)]

    together = await asyncio.gather(
        *[api.execute(STORE, viewer, input=body) for viewer, body in zip(feeds, bodies, strict=True)]
    )
    answers = [result.data["storeOdds"] for result in together]
    assert [a["replayed"] for a in answers] == [False, False] and {a["seq"] for a in answers} == {1, 2}
    assert await counts(api.db) == (4, 2)
    # Apart, too: a third subject's same key is a third key; each retry replays its own answer.
    third = Viewer(subject="feed-3", scopes=frozenset({"odds:write"}))
    own = await api.data(STORE, third, input=odds_input(race, [9.0], at=now, source="book3", key="batch-1"))
    assert own["storeOdds"]["replayed"] is False and own["storeOdds"]["seq"] == 3
    for viewer, body, answer in zip(feeds, bodies, answers, strict=True):
        assert (await api.data(STORE, viewer, input=body))["storeOdds"] == {**answer, "replayed": True}
    assert await counts(api.db) == (5, 3)


async def write_as(api: Api, viewer: Viewer, body: dict[str, Any], *, required: bool = False) -> Any:
    from schema.context import Context, Limits
    from schema.schema import schema

    context = Context(
        db=api.db, hub=api.hub, odds=api.odds, viewer=viewer, limits=Limits(require_token_sources=required)
    )
    return await schema.execute(STORE, variable_values={"input": body}, context_value=context)


async def test_a_token_naming_its_sources_writes_only_those(api: Api, race: dict[str, Any]) -> None:
    bounded = Viewer(subject="feed-b", scopes=frozenset({"odds:write"}), sources=frozenset({"bet365", "betfair"}))
    refused = await write_as(api, bounded, odds_input(race, [2.0], source="skybet"))
    error = refused.errors[0]
    assert error.extensions == {"code": "FORBIDDEN", "field": "source", "source": "skybet"}
    assert error.message == "the token may not write source 'skybet'"
    assert await counts(api.db) == (0, 0)
    allowed = await write_as(api, bounded, odds_input(race, [2.0], source="betfair"))
    assert allowed.errors is None and allowed.data["storeOdds"]["seq"] == 1


async def test_when_required_a_token_without_sources_writes_none(api: Api, race: dict[str, Any]) -> None:
    unbounded = Viewer(subject="feed-u", scopes=frozenset({"odds:write"}))
    refused = await write_as(api, unbounded, odds_input(race, [2.0]), required=True)
    assert refused.errors[0].extensions == {"code": "FORBIDDEN", "field": "source", "source": "bet365"}
    assert "no sources claim" in refused.errors[0].message
    assert await counts(api.db) == (0, 0)
    assert (await write_as(api, unbounded, odds_input(race, [2.0]))).errors is None  # not required: any source
    bounded = Viewer(subject="feed-b", scopes=frozenset({"odds:write"}), sources=frozenset({"bet365"}))
    assert (await write_as(api, bounded, odds_input(race, [2.5]), required=True)).errors is None
    assert await counts(api.db) == (2, 2)
