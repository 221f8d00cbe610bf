"""The GraphQL over HTTP protocol: every refusal of a request is a GraphQL error body with a stable
code and the status that says why, and application/graphql-response+json is honoured as the spec
says (4xx and no `data` for request errors, 200 once execution began)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from graphql import GraphQLError

from hostile_server import assert_still_serving
from live_server import ServerProcess
from server.http_errors import request_error_status
from server.negotiation import response_type

GRAPHQL_RESPONSE = "application/graphql-response+json"
TYPENAME = {"query": "{ __typename }"}
JSON = {"content-type": "application/json"}
WIDE = "{ races(first: 100) { edges { node { runners { priceHistory(last: 100) { decimal } } } } } }"

# case: (the refused request, its status and code, the well-behaved request beside it)
REFUSALS: dict[str, tuple[dict[str, Any], int, str, dict[str, Any]]] = {
    "bad JSON": (
        {"method": "POST", "content": b'{"query": "{ __typename "', "headers": JSON},
        400,
        "BAD_REQUEST",
        {"method": "POST", "json": TYPENAME},
    ),
    "a body that is not an object": (
        {"method": "POST", "content": b"42", "headers": JSON},
        400,
        "BAD_REQUEST",
        {"method": "POST", "json": TYPENAME},
    ),
    "a null body": (
        {"method": "POST", "content": b"null", "headers": JSON},
        400,
        "BAD_REQUEST",
        {"method": "POST", "json": TYPENAME},
    ),
    "GET variables not an object": (
        {"method": "GET", "params": {**TYPENAME, "variables": "7"}},
        400,
        "BAD_REQUEST",
        {"method": "GET", "params": {**TYPENAME, "variables": "{}"}},
    ),
    "mutation over GET": (
        {"method": "GET", "params": {"query": "mutation { __typename }"}},
        405,
        "METHOD_NOT_ALLOWED",
        {"method": "GET", "params": TYPENAME},
    ),
    "text/plain body": (
        {"method": "POST", "content": b'{"query": "{ __typename }"}', "headers": {"content-type": "text/plain"}},
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        {"method": "POST", "content": b'{"query": "{ __typename }"}', "headers": JSON},
    ),
    "form body": (
        {"method": "POST", "data": TYPENAME},
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        {"method": "POST", "json": TYPENAME},
    ),
    "PUT": ({"method": "PUT", "json": TYPENAME}, 405, "METHOD_NOT_ALLOWED", {"method": "POST", "json": TYPENAME}),
    "DELETE": ({"method": "DELETE"}, 405, "METHOD_NOT_ALLOWED", {"method": "GET", "params": TYPENAME}),
    "no query in a POST": ({"method": "POST", "json": {}}, 400, "BAD_REQUEST", {"method": "POST", "json": TYPENAME}),
    "no query in a GET": (
        {"method": "GET", "headers": {"accept": "application/json"}},
        400,
        "BAD_REQUEST",
        {"method": "GET", "params": TYPENAME, "headers": {"accept": "application/json"}},
    ),
}


@pytest.fixture(scope="module")
def server(hostile_server: ServerProcess) -> ServerProcess:
    return hostile_server


async def request(server: ServerProcess, spec: dict[str, Any], accept: str | None = None) -> httpx.Response:
    spec = dict(spec)
    headers = {**spec.pop("headers", {}), **({"accept": accept} if accept else {})}
    async with httpx.AsyncClient(base_url=server.http, timeout=30) as client:
        return await client.request(spec.pop("method"), "/graphql", headers=headers, **spec)


@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE])
@pytest.mark.parametrize("case", REFUSALS)
async def test_a_refused_request_is_a_graphql_error_body_with_its_status(
    server: ServerProcess, case: str, accept: str
) -> None:
    refused, status, code, control = REFUSALS[case]
    response = await request(server, refused, accept)
    assert response.status_code == status
    assert response.headers["content-type"] == accept
    body = response.json()
    assert list(body) == ["errors"] and len(body["errors"]) == 1
    assert isinstance(body["errors"][0]["message"], str) and body["errors"][0]["extensions"] == {"code": code}
    if status == 405:
        assert response.headers["allow"] in {"POST", "GET, POST"}

    served = await request(server, control, accept)
    assert served.status_code == 200 and served.json()["data"] == {"__typename": "Query"}
    await assert_still_serving(server)


REQUEST_ERRORS = {
    "parse": ({"query": "{ race(id: "}, "GRAPHQL_PARSE_FAILED"),
    "validation": ({"query": "{ nope }"}, "GRAPHQL_VALIDATION_FAILED"),
    "variable coercion": (
        {"query": "query($d: Date!) { meetings(date: $d) { venue } }", "variables": {"d": 42}},
        "BAD_USER_INPUT",
    ),
    "persisted query not found": (
        {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}},
        "PERSISTED_QUERY_NOT_FOUND",
    ),
    "query cost": ({"query": WIDE}, "QUERY_TOO_COMPLEX"),
}


@pytest.mark.parametrize("case", REQUEST_ERRORS)
async def test_a_request_error_is_400_without_data_under_graphql_response_json(
    server: ServerProcess, case: str
) -> None:
    body, code = REQUEST_ERRORS[case]
    async with httpx.AsyncClient(base_url=server.http, timeout=30) as client:
        spec = await client.post("/graphql", json=body, headers={"accept": GRAPHQL_RESPONSE})
        legacy = await client.post("/graphql", json=body, headers={"accept": "application/json"})
    assert spec.status_code == 400 and spec.headers["content-type"] == GRAPHQL_RESPONSE
    assert "data" not in spec.json() and spec.json()["errors"][0]["extensions"]["code"] == code
    # application/json stays as it was: 200, with `data: null`.
    assert legacy.status_code == 200 and legacy.headers["content-type"] == "application/json"
    assert legacy.json()["data"] is None and legacy.json()["errors"][0]["extensions"]["code"] == code
    await assert_still_serving(server)


async def test_execution_errors_and_success_are_200_under_graphql_response_json(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.http, timeout=30) as client:
        failed = await client.post(
            "/graphql", json={"query": '{ race(id: "abc") { id } }'}, headers={"accept": GRAPHQL_RESPONSE}
        )
        served = await client.post("/graphql", json=TYPENAME, headers={"accept": GRAPHQL_RESPONSE})
        anything = await client.post("/graphql", json=TYPENAME, headers={"accept": "*/*"})
    assert failed.status_code == 200 and failed.headers["content-type"] == GRAPHQL_RESPONSE
    assert failed.json()["data"] == {"race": None} and failed.json()["errors"][0]["path"] == ["race"]
    assert served.status_code == 200 and served.headers["content-type"] == GRAPHQL_RESPONSE
    assert served.json()["data"] == {"__typename": "Query"}
    assert anything.status_code == 200 and anything.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE}, application/json;q=0.9", GRAPHQL_RESPONSE),
        (f"application/json, {GRAPHQL_RESPONSE}", "application/json"),
        (f"application/json, {GRAPHQL_RESPONSE};q=0.5", "application/json"),
        (f"{GRAPHQL_RESPONSE};q=0, application/json", "application/json"),
        ("*/*", "application/json"),
        ("", "application/json"),
        ("text/html", "application/json"),
    ],
)
def test_the_response_media_type_follows_the_clients_ranking(accept: str, media: str) -> None:
    assert response_type(accept) == media


def coded(*codes: str) -> list[GraphQLError]:
    return [GraphQLError("refused", extensions={"code": code}) for code in codes]


def test_request_errors_whose_code_says_more_get_its_status() -> None:
    assert request_error_status(coded("GRAPHQL_VALIDATION_FAILED")) == 400
    assert request_error_status(coded("UNAUTHENTICATED")) == 401
    assert request_error_status(coded("RATE_LIMITED")) == 429
    assert request_error_status(coded("BAD_USER_INPUT", "FORBIDDEN")) == 403
