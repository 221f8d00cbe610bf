"""Racewire as a Federation 2 subgraph: the SDL, `_entities` through the DataLoaders, and the
limits, cost and auth that apply to it as to any query."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from graphql import parse
from sqlalchemy import event, text

from conftest import WRITER, Api, card
from resolvers.race_cards import load_race_cards
from resolvers.store_odds import OddsWriter, Quote, StoreOdds, store_odds
from resolvers.viewer import ANONYMOUS
from schema.context import Context, Limits
from schema.query_limits import QueryLimits
from schema.schema import build_schema, schema
from schema.sdl import plain_sdl, subgraph_sdl

ROOT = Path(__file__).resolve().parents[2]

ENTITIES = """
query Entities($representations: [_Any!]!) {
  _entities(representations: $representations) {
    __typename
    ... on Race { id name status meeting { venue } runners { id horse bestPrice { source decimal } } }
    ... on Runner { id horse raceId bestPrice { source decimal } prices { source decimal } }
    ... on Meeting { id venue races { id number } }
    ... on NewsArticle { id headline tags races { id } }
  }
}
"""
# What a gateway asks for a join: within the cost limit at 100 representations.
JOIN = """
query Join($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on Runner { id horse bestPrice { source decimal } prices { source decimal } }
    ... on Race { id name runners { id } }
    ... on Meeting { id venue }
  }
}
"""


def test_the_subgraph_sdl_file_is_up_to_date() -> None:
    stored = (ROOT / "graphql" / "subgraph.graphql").read_text()
    assert stored == subgraph_sdl(schema), "run: racewire export-schema --federation --output graphql/subgraph.graphql"


def test_the_entities_are_keyed_by_id_and_the_plain_sdl_has_no_federation_in_it() -> None:
    document = parse(subgraph_sdl(schema))
    keyed = {
        d.name.value: [(a.name.value, [arg.value.value for arg in a.arguments]) for a in d.directives]
        for d in document.definitions
        if getattr(d, "directives", None) and hasattr(d, "fields")
    }
    assert keyed == {name: [("key", ["id"])] for name in ("Meeting", "NewsArticle", "Race", "Runner")}
    plain = plain_sdl(schema)
    assert "@key" not in plain and "_entities" not in plain and "_Any" not in plain and "@link" not in plain


def test_strawberry_still_names_the_any_scalar_federation_needs() -> None:
    """schema/federation.py takes `FederationAny` from inside Strawberry: it must still be `_Any`."""
    field = schema._schema.query_type.fields["_entities"]  # noqa: SLF001 - Strawberry's graphql-core schema
    assert str(field.args["representations"].type) == "[_Any!]!"
    assert str(field.type) == "[_Entity]!"
    assert sorted(t.name for t in schema._schema.type_map["_Entity"].types) == [  # noqa: SLF001
        "Meeting",
        "NewsArticle",
        "Race",
        "Runner",
    ]


async def test_service_answers_the_subgraph_sdl(api: Api) -> None:
    data = await api.data("{ _service { sdl } }")
    assert data["_service"]["sdl"] + "\n" == subgraph_sdl(schema)


async def _priced_card(api: Api, db: Any, venue: str, runners: int) -> tuple[int, list[int], int]:
    await load_race_cards(db=db, cards=[card(venue=venue, runners=runners)])
    async with db.read() as session:
        race_id = (await session.execute(text("SELECT max(id) FROM races"))).scalar_one()
        meeting_id = (
            await session.execute(text("SELECT meeting_id FROM races WHERE id = :r"), {"r": race_id})
        ).scalar_one()
        ids = [
            r
            for (r,) in await session.execute(
                text("SELECT id FROM runners WHERE race_id = :r ORDER BY number"), {"r": race_id}
            )
        ]
    for source in ("bet365", "betfair"):
        quotes = tuple(Quote(r, 2.0 + i) for i, r in enumerate(ids))
        await store_odds(odds=OddsWriter(db, api.hub), command=StoreOdds(race_id, source, datetime.now(UTC), quotes))
    return race_id, ids, meeting_id


async def test_entities_resolve_in_order_with_null_for_the_missing_and_an_error_for_the_malformed(
    api: Api, db: Any
) -> None:
    race_id, runners, meeting_id = await _priced_card(api, db, "Ascot", 3)
    article = await api.data(
        'mutation($r: ID!) { publishNews(input: {headline: "Going soft", body: "Rain", '
        'tags: ["going"], raceIds: [$r]}) { id } }',
        r=str(race_id),
    )
    representations = [
        {"__typename": "Runner", "id": str(runners[1])},
        {"__typename": "Race", "id": race_id},  # an integer id, as some gateways send it
        {"__typename": "Meeting", "id": str(meeting_id)},
        {"__typename": "NewsArticle", "id": article["publishNews"]["id"]},
        {"__typename": "Race", "id": "999999"},
        {"__typename": "Horse", "id": "1"},
        {"id": "1"},
    ]
    result = await api.execute(ENTITIES, representations=representations)
    entities = result.data["_entities"]

    assert entities[0]["horse"] == "Horse 1-2" and entities[0]["raceId"] == str(race_id)
    assert entities[0]["bestPrice"] == {"source": "bet365", "decimal": 3.0}
    assert [r["id"] for r in entities[1]["runners"]] == [str(r) for r in runners]
    assert entities[2] == {
        "__typename": "Meeting",
        "id": str(meeting_id),
        "venue": "Ascot",
        "races": [{"id": str(race_id), "number": 1}],
    }
    assert entities[3]["tags"] == ["going"] and entities[3]["races"] == [{"id": str(race_id)}]
    assert entities[4:] == [None, None, None]
    errors = {tuple(e.path): e.extensions["code"] for e in result.errors}
    assert errors == {("_entities", 5): "BAD_USER_INPUT", ("_entities", 6): "BAD_USER_INPUT"}


async def test_a_hundred_representations_cost_a_fixed_number_of_statements(api: Api, db: Any) -> None:
    """As the race card's: 10 or 100 representations of every kind, the same few SELECTs."""
    counts = []
    for size in (10, 100):
        race_id, runners, meeting_id = await _priced_card(api, db, f"Venue{size}", size)
        representations = [{"__typename": "Runner", "id": str(r)} for r in runners[: size - 2]]
        representations += [
            {"__typename": "Race", "id": str(race_id)},
            {"__typename": "Meeting", "id": str(meeting_id)},
        ]
        statements: list[str] = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731, B023 - called within this iteration
        event.listen(db.engine.sync_engine, "before_cursor_execute", listener)
        try:
            data = await api.data(JOIN, representations=representations)
        finally:
            event.remove(db.engine.sync_engine, "before_cursor_execute", listener)
        assert len(data["_entities"]) == size and all(e is not None for e in data["_entities"])
        assert all(len(e["prices"]) == 2 for e in data["_entities"][: size - 2])
        counts.append(len([s for s in statements if s.lstrip().upper().startswith("SELECT")]))
    print(f"SELECT statements for 10 and 100 representations: {counts}")
    assert counts[0] == counts[1] <= 8, counts


async def test_entities_take_no_more_than_a_page(api: Api, race: dict[str, Any]) -> None:
    representations = [{"__typename": "Runner", "id": str(race["runners"][0])}] * 101
    refused = await api.error(
        "query($r: [_Any!]!) { _entities(representations: $r) { ... on Runner { id } } }", r=representations
    )
    page = await api.error("query { races(first: 101) { edges { node { id } } } }")

    assert refused["code"] == page["code"] == "BAD_USER_INPUT"
    assert refused["limit"] == 100


async def test_each_representation_costs_what_the_entity_costs_and_the_cost_limit_refuses_them(
    api: Api, race: dict[str, Any]
) -> None:
    selection = "id name runners { horse priceHistory(last: 50) { decimal } }"
    as_entities = f"query($r: [_Any!]!) {{ _entities(representations: $r) {{ ... on Race {{ {selection} }} }} }}"
    as_page = f"query {{ races(first: 40) {{ edges {{ node {{ {selection} }} }} }} }}"
    one_race = f"query($id: ID!) {{ race(id: $id) {{ {selection} }} }}"
    representations = [{"__typename": "Race", "id": str(race["id"])}] * 40

    single = await api.execute(one_race, id=str(race["id"]))
    refused = await api.execute(as_entities, r=representations)
    page = await api.execute(as_page)
    entity_cost = single.extensions["cost"]["requested"] - 1
    assert refused.extensions["cost"]["requested"] == 1 + 40 * entity_cost > 5_000
    assert refused.data is None and refused.errors[0].extensions["code"] == "QUERY_TOO_COMPLEX"
    assert page.errors[0].extensions["code"] == "QUERY_TOO_COMPLEX"

    few = await api.execute(as_entities, r=representations[:3])
    assert few.errors is None and [e["id"] for e in few.data["_entities"]] == [str(race["id"])] * 3
    tight = build_schema(QueryLimits(max_cost=entity_cost))
    capped = await tight.execute(
        as_entities, variable_values={"r": representations[:2]}, context_value=api.context(WRITER)
    )
    assert capped.errors[0].extensions["code"] == "QUERY_TOO_COMPLEX"


async def test_entities_and_service_need_a_token_where_every_operation_does(api: Api, race: dict[str, Any]) -> None:
    partners_only = Limits(require_auth=True)
    anonymous = Context(db=api.db, hub=api.hub, odds=api.odds, limits=partners_only, viewer=ANONYMOUS)
    representations = [{"__typename": "Race", "id": str(race["id"])}]
    refused = await schema.execute(
        ENTITIES, variable_values={"representations": representations}, context_value=anonymous
    )
    assert refused.data is None and refused.errors[0].extensions["code"] == "UNAUTHENTICATED"

    production = build_schema(introspection=False)
    hidden = await production.execute("{ _service { sdl } }", context_value=api.context(ANONYMOUS))
    shown = await production.execute("{ _service { sdl } }", context_value=api.context(WRITER))
    assert hidden.data is None and hidden.errors[0].extensions["code"] == "UNAUTHENTICATED"
    assert shown.errors is None and "@key" in shown.data["_service"]["sdl"]
