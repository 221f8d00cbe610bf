"""Documents built to make judging them slow: each is refused with its code over HTTP, over
graphql-transport-ws (through the fan-out planner too) and over SSE, the well-behaved request
beside it is answered, and `/health` answers while a flood of them is being judged."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from hostile_server import assert_still_serving, error_code, post
from live_server import GraphQLWs, ServerProcess


@pytest.fixture(scope="module")
def server(hostile_server: ServerProcess) -> ServerProcess:
    return hostile_server


def doubling(levels: int, on: str = "Query", leaf: str = "__typename") -> str:
    """Each fragment spreads the next one twice: 2**levels copies of the leaf."""
    fragments = [f"fragment F{n} on {on} {{ ...F{n + 1} ...F{n + 1} }}" for n in range(levels)]
    return "\n".join([*fragments, f"fragment F{levels} on {on} {{ {leaf} }}"])


HISTORY = 'race(id: "1") { runners { priceHistory(last: $h) { decimal } } }'
EIGHT_HISTORIES = "query($h: Int! = 500) { " + " ".join(f"h{n}: {HISTORY}" for n in range(8)) + " }"

# name: (hostile document, its code, a well-behaved document of the same shape)
DOCUMENTS = {
    "doubling fragments, 22 levels": (
        "{ ...F0 }\n" + doubling(22),
        "TOO_MANY_FRAGMENT_SPREADS",
        "{ ...F0 }\n" + doubling(2),
    ),
    "doubling fragments, 80 levels": (
        "{ ...F0 }\n" + doubling(80),
        "TOO_MANY_FRAGMENT_SPREADS",
        "{ ...F0 }\n" + doubling(3),
    ),
    "one field repeated, compared pairwise": (
        "{ " + 'race(id: "1") { id } ' * 100 + "}",
        "QUERY_TOO_COMPLEX",
        "{ " + 'race(id: "1") { id } ' * 3 + "}",
    ),
    "200 KiB string literal": (
        '{ race(id: "' + "x" * 200_000 + '") { id } }',
        "QUERY_TOO_LARGE",
        '{ race(id: "' + "x" * 2_000 + '") { id } }',
    ),
    "200 KiB of comment": ("{ __typename }\n#" + "c" * 200_000, "QUERY_TOO_LARGE", "{ __typename }\n#" + "c" * 2_000),
    "integer literal of 5,000 digits": (
        "{ races(first: " + "9" * 5_000 + ") { edges { cursor } } }",
        "GRAPHQL_VALIDATION_FAILED",
        "{ races(first: 9) { edges { cursor } } }",
    ),
    "eight histories of a variable's default 500": (
        EIGHT_HISTORIES,
        "QUERY_TOO_COMPLEX",
        EIGHT_HISTORIES.replace("= 500", "= 5"),
    ),
}


@pytest.mark.parametrize("case", DOCUMENTS)
async def test_a_slow_to_judge_document_is_refused_over_http(server: ServerProcess, case: str) -> None:
    hostile, code, control = DOCUMENTS[case]
    assert error_code(await post(server, {"query": hostile})) == code
    accepted = (await post(server, {"query": control})).json()
    assert "errors" not in accepted or accepted["errors"][0]["extensions"]["code"] != code, accepted
    await assert_still_serving(server)


async def test_cost_counts_the_size_each_field_will_be_asked_for(server: ServerProcess) -> None:
    literal = (await post(server, {"query": '{ runner(id: "1") { priceHistory(last: 500) { decimal } } }'})).json()
    assert literal["extensions"]["cost"]["requested"] == 1 + (1 + 500 * 1)  # not clamped to the page size
    default = (
        await post(
            server, {"query": 'query($h: Int! = 400) { runner(id: "1") { priceHistory(last: $h) { decimal } } }'}
        )
    ).json()
    assert default["extensions"]["cost"]["requested"] == 1 + (1 + 400 * 1)
    given = (await post(server, {"query": EIGHT_HISTORIES, "variables": {"h": 3}})).json()
    assert given["extensions"]["cost"]["requested"] == 8 * (1 + (1 + 10 * (1 + 3))) and "errors" not in given


@pytest.mark.parametrize("case", DOCUMENTS)
async def test_a_slow_to_judge_document_is_refused_over_websocket(server: ServerProcess, case: str) -> None:
    hostile, code, control = DOCUMENTS[case]
    client = await GraphQLWs.open(server.ws)
    await client.subscribe("hostile", hostile)
    message = await client.receive()
    assert message["id"] == "hostile" and message["type"] == "error", message
    assert message["payload"][0]["extensions"]["code"] == code
    await client.subscribe("control", control)
    reply = await client.receive()
    assert reply["id"] == "control" and reply["type"] in ("next", "error"), reply
    errors = reply["payload"] if reply["type"] == "error" else reply["payload"].get("errors") or []
    assert all(e["extensions"]["code"] != code for e in errors), reply
    await client.close()
    await assert_still_serving(server)


SHARED = "subscription($ids: [ID!]!) { oddsUpdated(raceIds: $ids, snapshot: true) { ...F0 } }\n"


async def test_a_shareable_subscription_of_doubling_fragments_is_refused(server: ServerProcess, races: list) -> None:
    """The fan-out planner parses shareable subscriptions first: it must not judge them slower."""
    client = await GraphQLWs.open(server.ws)
    await client.subscribe("hostile", SHARED + doubling(60, on="OddsUpdate", leaf="seq"), ids=[races[0]["id"]])
    message = await client.receive()
    assert message["id"] == "hostile" and message["type"] == "error", message
    assert message["payload"][0]["extensions"]["code"] == "TOO_MANY_FRAGMENT_SPREADS"
    await client.subscribe("control", SHARED + doubling(2, on="OddsUpdate", leaf="seq"), ids=[races[0]["id"]])
    assert "seq" in (await client.next("control"))["oddsUpdated"]
    await client.send({"id": "control", "type": "complete"})
    await client.close()
    await assert_still_serving(server)


async def sse(server: ServerProcess, query: str) -> str:
    async with httpx.AsyncClient(base_url=server.http, timeout=30) as client:
        response = await client.post("/graphql", json={"query": query}, headers={"accept": "text/event-stream"})
        return f"{response.status_code} {response.text}"


@pytest.mark.parametrize(
    "case", ["doubling fragments, 22 levels", "200 KiB string literal", "one field repeated, compared pairwise"]
)
async def test_a_slow_to_judge_subscription_is_refused_over_sse(server: ServerProcess, case: str) -> None:
    hostile, code, _ = DOCUMENTS[case]
    subscription = (
        hostile.replace("{ ...F0 }", "subscription { raceStatus { ...F0 } }")
        .replace("on Query", "on RaceStatusEvent")
        .replace("__typename", "seq")
        if "F0" in hostile
        else hostile
    )
    assert code in await sse(server, subscription)
    accepted = await sse(server, "{ __typename }")
    assert "Query" in accepted and code not in accepted
    await assert_still_serving(server)


async def test_health_answers_while_a_flood_of_hostile_documents_is_judged(server: ServerProcess) -> None:
    """Before, one of these held the event loop for hours (each level doubled the work)."""
    flood = [f"{{ ...F0 }}\n{doubling(40)}\n# copy {n}" for n in range(40)]
    async with httpx.AsyncClient(base_url=server.http, timeout=60) as client:
        judged = [asyncio.create_task(client.post("/graphql", json={"query": q})) for q in flood]
        health = await asyncio.wait_for(client.get("/health"), timeout=20)
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        for response in await asyncio.gather(*judged):
            assert response.json()["errors"][0]["extensions"]["code"] == "TOO_MANY_FRAGMENT_SPREADS"
    await assert_still_serving(server)


async def test_an_over_long_document_over_websocket_leaves_the_connection_usable(server: ServerProcess) -> None:
    client = await GraphQLWs.open(server.ws)
    await client.send({"id": "long", "type": "subscribe", "payload": {"query": "{ __typename }" + " " * 100_000}})
    message = await client.receive()
    assert message["type"] == "error" and message["payload"][0]["extensions"]["code"] == "QUERY_TOO_LARGE"
    await client.subscribe("ok", "{ __typename }")
    assert await client.next("ok") == {"__typename": "Query"}
    await client.close()
    await assert_still_serving(server)
