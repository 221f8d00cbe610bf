"""Query limits at the schema: the one-pass measure (cost, depth, aliases, spreads) and its work,
the cost of what execution will run, the gate's refusals each beside an accepted control, and
every shipped operation within the published defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import GraphQLList, GraphQLObjectType, get_introspection_query, get_nullable_type, parse

from conftest import Api
from schema.list_size import list_size
from schema.measure import Measure, coerce_variables, measure
from schema.query_limits import QueryLimits
from schema.schema import build_schema, schema

OPERATIONS = Path(__file__).resolve().parents[2] / "graphql" / "operations"
GRAPHQL = schema._schema  # noqa: SLF001


def figures(query: str, *, page_size: int | None = 100, **variables: object) -> Measure:
    document = parse(query)
    coerced = coerce_variables(GRAPHQL, document, None, variables)
    assert not isinstance(coerced, list), coerced
    return measure(GRAPHQL, document, None, coerced, default_list_size=10, page_size=page_size)


def cost(query: str, **variables: object) -> int:
    return figures(query, **variables).cost


def doubling(levels: int) -> str:
    fragments = [f"fragment F{n} on Query {{ ...F{n + 1} ...F{n + 1} }}" for n in range(levels)]
    return "{ ...F0 }\n" + "\n".join([*fragments, f"fragment F{levels} on Query {{ a: __typename }}"])


def test_cost_is_one_per_field_times_the_items_a_list_may_return() -> None:
    assert cost("{ __typename }") == 1
    assert cost('{ race(id: "1") { id name } }') == 3
    assert cost('{ race(id: "1") { runners { id } } }') == 1 + (1 + 10 * 1)
    assert cost('{ race(id: "1") { runners { priceHistory(last: 3) { decimal } } } }') == 1 + (1 + 10 * (1 + 3))
    assert cost("query($n: Int!) { races(first: $n) { edges { node { id } } } }", n=4) == 1 + 4 * (1 + 1 * 2)


HISTORY = 'race(id: "1") { runners { priceHistory(last: $h) { decimal } } }'


@pytest.mark.parametrize(
    ("query", "variables", "items"),
    [
        ('{ race(id: "1") { runners { priceHistory(last: 500) { decimal } } } }', {}, 500),
        ('{ race(id: "1") { runners { priceHistory { decimal } } } }', {}, 50),  # the argument's default
        (f"query($h: Int!) {{ {HISTORY} }}", {"h": 7}, 7),
        (f"query($h: Int! = 500) {{ {HISTORY} }}", {}, 500),  # the variable's default
        (f"query($h: Int = 300) {{ {HISTORY} }}", {"h": 20}, 20),
        (f"query($h: Int) {{ {HISTORY} }}", {}, 50),  # an absent variable leaves the argument's default
        ('{ race(id: "1") { runners { priceHistory(last: 9000) { decimal } } } }', {}, 500),  # refused above 500
    ],
)
def test_cost_counts_the_size_execution_will_use(query: str, variables: dict[str, object], items: int) -> None:
    assert cost(query, **variables) == 1 + (1 + 10 * (1 + items))


def test_a_page_counts_its_own_size_up_to_the_page_limit() -> None:
    assert cost("{ races { edges { node { id } } } }") == 1 + 20 * 3  # `first` defaults to 20
    assert cost("query($n: Int! = 60) { races(first: $n) { edges { node { id } } } }") == 1 + 60 * 3
    assert cost("{ races(first: 1000) { edges { node { id } } } }") == 1 + 100 * 3
    assert figures("{ races(first: 1000) { edges { node { id } } } }", page_size=None).cost == 1 + 1000 * 3


def test_every_list_field_with_a_size_argument_declares_its_size() -> None:
    undeclared = [
        f"{type_.name}.{name}"
        for type_ in GRAPHQL.type_map.values()
        if not type_.name.startswith("__")
        for name, field in getattr(type_, "fields", {}).items()
        if {"first", "last"} & set(getattr(field, "args", {})) and list_size(field) is None
    ]
    assert undeclared == []
    runner = GRAPHQL.type_map["Runner"]
    assert isinstance(runner, GraphQLObjectType)
    history = runner.fields["priceHistory"]
    size = list_size(history)
    assert isinstance(get_nullable_type(history.type), GraphQLList) and size is not None and size.maximum == 500


def test_fragments_count_each_time_they_are_spread_and_cycles_end() -> None:
    spread = 'fragment R on Race { id name } { race(id: "1") { ...R ... on Race { status } } }'
    assert cost(spread) == 1 + 3
    assert figures("fragment A on Query { ...B __typename } fragment B on Query { ...A } { ...A }").cost == 1
    twice = figures("fragment T on Query { a: __typename b: __typename } { ...T ...T }")
    assert (twice.aliases, twice.spreads) == (4, 2)


@pytest.mark.parametrize("levels", [22, 60, 150])
def test_doubling_fragments_are_measured_exactly_with_each_selection_walked_once(levels: int) -> None:
    result = figures(doubling(levels))
    assert result.spreads == 2 ** (levels + 1) - 1
    assert result.aliases == result.cost == 2**levels
    # Work linear in the document: its 2 * levels + 2 selections, each walked once.
    assert result.visited == 2 * levels + 2


def test_a_long_chain_of_fragments_needs_no_stack() -> None:
    levels = 3_000
    chain = "{ ...F0 } " + " ".join(f"fragment F{n} on Query {{ ...F{n + 1} }}" for n in range(levels))
    result = figures(chain + f" fragment F{levels} on Query {{ __typename }}")
    assert (result.spreads, result.visited) == (levels + 1, levels + 2)


def test_depth_skips_introspection_and_counts_through_fragments() -> None:
    assert figures('fragment M on Race { meeting { races { id } } } { race(id: "1") { ...M } }').depth == 3
    assert figures(get_introspection_query(descriptions=True)).depth == 0


STRICT = QueryLimits(max_aliases=3, max_depth=3, max_fragment_spreads=4, max_cost=10)
REFUSALS = {
    "aliases through fragments": (
        "fragment F on Query { a: __typename b: __typename } { ...F ...F }",
        "fragment F on Query { a: __typename } { ...F ...F }",
        "TOO_MANY_ALIASES",
    ),
    "depth through fragments": (
        'fragment M on Race { meeting { races { meeting { venue } } } } { race(id: "1") { ...M } }',
        'fragment M on Race { meeting { races { id } } } { race(id: "1") { ...M } }',
        "QUERY_TOO_DEEP",
    ),
    "spreads": (
        "fragment F on Query { ...G ...G } fragment G on Query { __typename } { ...F ...F }",
        "fragment F on Query { ...G } fragment G on Query { __typename } { ...F ...F }",
        "TOO_MANY_FRAGMENT_SPREADS",
    ),
    "doubling fragments": (doubling(22), doubling(1), "TOO_MANY_FRAGMENT_SPREADS"),
    "cost of a variable's default": (
        'query($h: Int! = 500) { runner(id: "1") { priceHistory(last: $h) { decimal } } }',
        'query($h: Int! = 5) { runner(id: "1") { priceHistory(last: $h) { decimal } } }',
        "QUERY_TOO_COMPLEX",
    ),
    "overlapping fields": (
        "{ " + 'race(id: "1") { id } ' * 100 + "}",
        "{ " + 'race(id: "1") { id } ' * 2 + "}",
        "QUERY_TOO_COMPLEX",
    ),
    "an integer literal of 5,000 digits": (
        "{ races(first: " + "9" * 5000 + ") { edges { cursor } } }",
        "{ races(first: 3) { edges { cursor } } }",
        "GRAPHQL_VALIDATION_FAILED",
    ),
    "query length": ("{ __typename }" + " " * 40_000, "{ __typename }" + " " * 30_000, "QUERY_TOO_LARGE"),
}


@pytest.mark.parametrize("case", REFUSALS)
async def test_the_gate_refuses_over_a_limit_and_accepts_under_it(api: Api, case: str) -> None:
    refused, accepted, code = REFUSALS[case]
    strict = build_schema(STRICT)
    result = await strict.execute(refused, context_value=api.context())
    assert result.errors and result.errors[0].extensions["code"] == code, result.errors
    control = await strict.execute(accepted, context_value=api.context())
    assert not control.errors or control.errors[0].extensions["code"] not in {code, "INTERNAL_SERVER_ERROR"}, (
        control.errors
    )


async def test_an_over_cost_query_is_refused_with_its_cost(api: Api) -> None:
    result = await build_schema(QueryLimits(max_cost=10)).execute(
        '{ race(id: "1") { runners { id } } }', context_value=api.context()
    )
    assert result.errors and result.errors[0].extensions == {"code": "QUERY_TOO_COMPLEX", "cost": 12, "maximumCost": 10}
    accepted = await build_schema(QueryLimits(max_cost=12)).execute(
        '{ race(id: "1") { runners { id } } }', context_value=api.context()
    )
    assert accepted.errors is None and accepted.extensions["cost"] == {"requested": 12, "maximum": 12}


@pytest.mark.parametrize("path", sorted(OPERATIONS.glob("*.graphql")), ids=lambda p: p.stem)
def test_every_shipped_operation_is_within_the_default_limits(path: Path) -> None:
    limits = QueryLimits()
    text = path.read_text()
    result = measure(GRAPHQL, parse(text), None, None, default_list_size=limits.default_list_size, page_size=100)
    assert result.cost <= limits.max_cost and result.depth <= limits.max_depth
    assert result.aliases <= limits.max_aliases and result.spreads <= limits.max_fragment_spreads
    assert len(text) <= limits.max_query_length


async def test_graphiql_introspection_passes_every_limit(api: Api) -> None:
    result = await schema.execute(get_introspection_query(descriptions=True), context_value=api.context())
    assert result.errors is None and result.data["__schema"]["queryType"]["name"] == "Query"
