"""Reads through the schema: race cards, markets, history, pagination, statement counts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import event, text

from conftest import Api, card
from resolvers.race_cards import load_race_cards
from resolvers.store_odds import Quote, StoreOdds, store_odds

CARD = """
query Card($id: ID!) {
  race(id: $id) {
    name status postTime distanceMeters
    meeting { venue country going }
    market { favouriteRunnerId overround updatedAt bestPrices { runnerId source decimal fractional american impliedProbability } }
    runners {
      number horse jockey scratched
      prices { source decimal fractional }
      bestPrice { source decimal }
      priceHistory(last: 3) { source decimal observedAt }
    }
  }
}
"""


async def price_race(api: Api, race: dict[str, Any], sources: int, rounds: int = 1) -> None:
    at = datetime.now(UTC) - timedelta(minutes=10)
    for round_ in range(rounds):
        for s in range(sources):
            at += timedelta(seconds=1)
            quotes = tuple(Quote(r, 2.0 + i + s * 0.5 + round_ * 0.1) for i, r in enumerate(race["runners"]))
            await store_odds(odds=api.odds, command=StoreOdds(race["id"], f"book{s}", at, quotes))


async def test_a_race_card_with_market_and_history(api: Api, race: dict[str, Any]) -> None:
    await price_race(api, race, sources=2, rounds=2)
    data = (await api.data(CARD, id=str(race["id"])))["race"]

    assert data["meeting"] == {"venue": "Ascot", "country": "GB", "going": "Good"}
    first = data["runners"][0]
    assert [p["source"] for p in first["prices"]] == ["book0", "book1"]
    assert first["bestPrice"] == {"source": "book1", "decimal": 2.6}
    assert [h["decimal"] for h in first["priceHistory"]] == [2.5, 2.1, 2.6]
    best = data["market"]["bestPrices"][0]
    assert best == {
        "runnerId": str(race["runners"][0]),
        "source": "book1",
        "decimal": 2.6,
        "fractional": "8/5",
        "american": "+160",
        "impliedProbability": 0.3846,
    }
    assert data["market"]["favouriteRunnerId"] == str(race["runners"][0])


async def test_a_full_card_costs_a_fixed_number_of_statements(api: Api, db: Any) -> None:
    counts = []
    for runners in (5, 20):
        await load_race_cards(db=db, cards=[card(venue=f"Venue{runners}", runners=runners)])
        async with db.read() as session:
            race_id = (await session.execute(text("SELECT max(id) FROM races"))).scalar_one()
            ids = [
                r
                for (r,) in await session.execute(
                    text("SELECT id FROM runners WHERE race_id = :r ORDER BY number"), {"r": race_id}
                )
            ]
        await price_race(api, {"id": race_id, "runners": ids}, sources=5)
        statements: list[str] = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731, B023 - called within this iteration
        event.listen(db.engine.sync_engine, "before_cursor_execute", listener)
        try:
            data = await api.data(CARD, id=str(race_id))
        finally:
            event.remove(db.engine.sync_engine, "before_cursor_execute", listener)
        assert len(data["race"]["runners"]) == runners
        assert all(len(r["prices"]) == 5 for r in data["race"]["runners"])
        counts.append(len([s for s in statements if s.lstrip().upper().startswith("SELECT")]))
    print(f"SELECT statements for a full card: {counts}")
    assert counts[0] == counts[1] <= 6, counts


async def test_races_page_by_post_time_with_cursors(api: Api, db: Any) -> None:
    today = date.today()
    await load_race_cards(
        db=db, cards=[card(venue="Ascot", races=3, day=today), card(venue="York", races=2, day=today)]
    )
    query = """
    query Races($first: Int!, $after: String, $filter: RaceFilter) {
      races(first: $first, after: $after, filter: $filter) {
        edges { cursor node { id name postTime meeting { venue } } }
        pageInfo { hasNextPage endCursor }
      }
    }"""
    seen: list[str] = []
    after = None
    while True:
        page = (await api.data(query, first=2, after=after))["races"]
        seen += [e["node"]["name"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    york = (await api.data(query, first=10, filter={"venue": "york", "date": today.isoformat()}))["races"]

    assert len(seen) == 5 and len(set(seen)) == 5
    assert [e["node"]["meeting"]["venue"] for e in york["edges"]] == ["York", "York"]
    too_many = await api.error(query, first=1000)
    assert too_many["code"] == "BAD_USER_INPUT"
    bad_cursor = await api.error(query, first=1, after="xyz")
    assert bad_cursor["code"] == "BAD_USER_INPUT"


async def test_meetings_by_date(api: Api, db: Any) -> None:
    today = date.today()
    await load_race_cards(db=db, cards=[card(venue="York", races=2, day=today), card(venue="Ascot", day=today)])
    data = await api.data("query($d: Date!) { meetings(date: $d) { venue races { number } } }", d=today.isoformat())
    assert data["meetings"] == [
        {"venue": "Ascot", "races": [{"number": 1}]},
        {"venue": "York", "races": [{"number": 1}, {"number": 2}]},
    ]


async def test_news_filtered_by_tag_and_race_newest_first(api: Api, race: dict[str, Any]) -> None:
    publish = """mutation($input: PublishNewsInput!) { publishNews(input: $input) { id headline tags races { id } } }"""
    for n, tags, races in (
        (1, ["going"], []),
        (2, ["non-runner"], [str(race["id"])]),
        (3, ["going"], [str(race["id"])]),
    ):
        await api.data(publish, input={"headline": f"Story {n}", "body": "…", "tags": tags, "raceIds": races})
    query = """query($f: NewsFilter, $after: String) {
      news(filter: $f, first: 1, after: $after) { edges { node { headline tags } } pageInfo { hasNextPage endCursor } }
    }"""
    going = (await api.data(query, f={"tag": "going"}))["news"]
    second = (await api.data(query, f={"tag": "going"}, after=going["pageInfo"]["endCursor"]))["news"]
    about_race = (await api.data(query, f={"raceId": str(race["id"])}))["news"]

    assert going["edges"][0]["node"] == {"headline": "Story 3", "tags": ["going"]}
    assert second["edges"][0]["node"]["headline"] == "Story 1" and not second["pageInfo"]["hasNextPage"]
    assert about_race["edges"][0]["node"]["headline"] == "Story 3" and about_race["pageInfo"]["hasNextPage"]
    bad_tag = await api.error(publish, input={"headline": "x", "body": "y", "tags": ["Bad Tag!"]})
    assert bad_tag["code"] == "BAD_USER_INPUT"
