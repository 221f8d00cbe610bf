"""Hostile HTTP requests: each is refused with its exact code, and the server serves on."""

from __future__ import annotations

import json

import httpx
import pytest

from hostile_server import FOREIGN_ORIGIN, TRUSTED_ORIGIN, assert_still_serving, error_code, post
from live_server import ServerProcess


@pytest.fixture(scope="module")
def server(hostile_server: ServerProcess) -> ServerProcess:
    return hostile_server


def deep(levels: int) -> str:
    inner = "id"
    for n in range(levels):
        inner = f"meeting {{ races {{ {inner} }} }}" if n % 2 == 0 else inner
    return f'{{ race(id: "1") {{ {inner} }} }}'


def aliases(count: int) -> str:
    return "{ " + " ".join(f"a{n}: __typename" for n in range(count)) + " }"


FRAGMENT_ALIASES = (
    "fragment Ten on Query { " + " ".join(f"f{n}: __typename" for n in range(10)) + " }\n"
    '{ ...Ten a: race(id: "1") { id } ...Ten ...Ten ...Ten }'
)
CYCLE = 'fragment A on Race { meeting { races { ...B } } } fragment B on Race { ...A } { race(id: "1") { ...A } }'
WIDE = "{ races(first: 100) { edges { node { runners { priceHistory(last: 100) { decimal } } } } } }"

GRAPHQL_REFUSALS = {
    "wrong variable type": (
        {"query": "query($d: Date!) { meetings(date: $d) { venue } }", "variables": {"d": 42}},
        "BAD_USER_INPUT",
    ),
    "missing variable": ({"query": "query($d: Date!) { meetings(date: $d) { venue } }"}, "BAD_USER_INPUT"),
    "220 KB query": ({"query": "{ " + "__typename " * 20_000 + "}"}, "QUERY_TOO_LARGE"),
    "depth 50": ({"query": deep(50)}, "QUERY_TOO_DEEP"),
    "300 aliases": ({"query": aliases(300)}, "TOO_MANY_ALIASES"),
    "aliases through fragments": ({"query": FRAGMENT_ALIASES}, "TOO_MANY_ALIASES"),
    "fragment cycle": ({"query": CYCLE}, "GRAPHQL_VALIDATION_FAILED"),
    "query cost": ({"query": WIDE}, "QUERY_TOO_COMPLEX"),
    "syntax error": ({"query": "{ race(id: "}, "GRAPHQL_PARSE_FAILED"),
}


@pytest.mark.parametrize("case", GRAPHQL_REFUSALS)
async def test_hostile_operation_is_refused_with_its_code(server: ServerProcess, case: str) -> None:
    body, code = GRAPHQL_REFUSALS[case]
    response = await post(server, body)
    assert response.status_code == 200
    assert error_code(response) == code
    await assert_still_serving(server)


async def test_the_query_cost_is_reported_and_the_limit_published(server: ServerProcess) -> None:
    cheap = (await post(server, {"query": "{ races(first: 2) { edges { node { id } } } }"})).json()
    refused = (await post(server, {"query": WIDE})).json()
    assert cheap["extensions"]["cost"] == {"requested": 7, "maximum": 5000}
    assert refused["errors"][0]["extensions"]["cost"] > refused["errors"][0]["extensions"]["maximumCost"]


HTTP_REFUSALS = {
    "malformed JSON": ('{"query": "{ __typename "', "Unable to parse request body as JSON"),
    "batch of 1000 operations": (json.dumps([{"query": "{ __typename }"}] * 1000), "Batching is not enabled"),
    "query not a string": (json.dumps({"query": ["{ __typename }"]}), "`query` must be a string"),
    "variables not an object": (json.dumps({"query": "{ __typename }", "variables": [1]}), "`variables` must be"),
    "no query": (json.dumps({}), "No GraphQL query found"),
}


@pytest.mark.parametrize("case", HTTP_REFUSALS)
async def test_malformed_request_gets_400(server: ServerProcess, case: str) -> None:
    content, message = HTTP_REFUSALS[case]
    response = await post(server, content=content)
    assert response.status_code == 400 and message in response.text
    await assert_still_serving(server)


async def test_a_foreign_origin_gets_no_cors_grant(server: ServerProcess) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    async with httpx.AsyncClient(base_url=server.http) as client:
        foreign = await client.options("/graphql", headers={"Origin": FOREIGN_ORIGIN, **preflight})
        trusted = await client.options("/graphql", headers={"Origin": TRUSTED_ORIGIN, **preflight})
        simple = await client.post("/graphql", json={"query": "{ __typename }"}, headers={"Origin": FOREIGN_ORIGIN})

    assert foreign.status_code == 400 and "access-control-allow-origin" not in foreign.headers
    assert trusted.status_code == 200 and trusted.headers["access-control-allow-origin"] == TRUSTED_ORIGIN
    assert "access-control-allow-origin" not in simple.headers  # the browser withholds the answer
    await assert_still_serving(server)
