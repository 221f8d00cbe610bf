"""Query limits at the schema: cost arithmetic, limits counted through fragments, and every shipped
operation within the published defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import parse

from conftest import Api
from schema.limits import QueryLimits, operation_cost
from schema.schema import build_schema, schema

OPERATIONS = Path(__file__).resolve().parents[2] / "graphql" / "operations"


def cost(query: str, **variables: object) -> int:
    return operation_cost(schema._schema, parse(query), None, variables, default_list_size=10)  # noqa: SLF001


def test_cost_is_one_per_field_times_the_items_a_list_may_return() -> None:
    assert cost("{ __typename }") == 1
    assert cost('{ race(id: "1") { id name } }') == 3
    assert cost('{ race(id: "1") { runners { id } } }') == 1 + (1 + 10 * 1)
    assert cost('{ race(id: "1") { runners { priceHistory(last: 3) { decimal } } } }') == 1 + (1 + 10 * (1 + 3))
    assert cost("query($n: Int!) { races(first: $n) { edges { node { id } } } }", n=4) == 1 + 4 * (1 + 1 * 2)


def test_cost_counts_fragments_each_time_they_are_spread_and_survives_cycles() -> None:
    spread = 'fragment R on Race { id name } { race(id: "1") { ...R ... on Race { status } } }'
    assert cost(spread) == 1 + 3
    assert cost("fragment A on Query { ...B __typename } fragment B on Query { ...A } { ...A }") == 1


async def test_aliases_and_depth_are_counted_through_fragments(api: Api) -> None:
    strict = build_schema(QueryLimits(max_aliases=3, max_depth=3))
    aliases = "fragment F on Query { a: __typename b: __typename } { ...F ...F }"
    deep = 'fragment M on Race { meeting { races { meeting { venue } } } } { race(id: "1") { ...M } }'
    for query, code in ((aliases, "TOO_MANY_ALIASES"), (deep, "QUERY_TOO_DEEP")):
        result = await strict.execute(query, context_value=api.context())
        assert result.errors and result.errors[0].extensions["code"] == code, result.errors


async def test_an_over_cost_query_is_refused_with_its_cost(api: Api) -> None:
    result = await build_schema(QueryLimits(max_cost=10)).execute(
        '{ race(id: "1") { runners { id } } }', context_value=api.context())
    assert result.errors and result.errors[0].extensions == {"code": "QUERY_TOO_COMPLEX", "cost": 12, "maximumCost": 10}


@pytest.mark.parametrize("path", sorted(OPERATIONS.glob("*.graphql")), ids=lambda p: p.stem)
def test_every_shipped_operation_is_within_the_default_limits(path: Path) -> None:
    limits = QueryLimits()
    document = parse(path.read_text())
    assert operation_cost(schema._schema, document, None, {}, default_list_size=limits.default_list_size,  # noqa: SLF001
                          max_list_size=100) <= limits.max_cost
