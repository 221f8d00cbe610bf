"""Hostile WebSocket clients: every graphql-transport-ws violation closes with its code."""

from __future__ import annotations

import json

import pytest
from websockets.exceptions import InvalidStatus

from hostile_server import FOREIGN_ORIGIN, TRUSTED_ORIGIN, assert_still_serving, close_code, raw_ws, ws_closed_with
from live_server import GraphQLWs, ServerProcess

INIT = json.dumps({"type": "connection_init", "payload": {}})
ODDS = "subscription($ids: [ID!]!) { oddsUpdated(raceIds: $ids) { seq } }"


@pytest.fixture(scope="module")
def server(hostile_server: ServerProcess) -> ServerProcess:
    return hostile_server


def subscribe(id: str, race_id: str = "1") -> str:
    return json.dumps({"id": id, "type": "subscribe", "payload": {"query": ODDS, "variables": {"ids": [race_id]}}})


VIOLATIONS = {
    "no connection_init in time": ([], 4408),
    "subscribe before ack": ([subscribe("1")], 4401),
    "second connection_init": ([INIT, INIT], 4429),
    "duplicate operation id": ([INIT, subscribe("1"), subscribe("1")], 4409),
    "unknown message type": ([INIT, json.dumps({"type": "bogus"})], 4400),
    "not JSON": ([INIT, "{nope"], 4400),
    "binary frame": ([INIT, b"\x00\x01"], 4400),
    "subscribe without payload": ([INIT, json.dumps({"id": "1", "type": "subscribe"})], 4400),
    "init payload not an object": ([json.dumps({"type": "connection_init", "payload": [1]})], 4400),
    "syntax error in subscribe": (
        [INIT, json.dumps({"id": "1", "type": "subscribe", "payload": {"query": "subscription {"}})],
        4400,
    ),
    "1 MB message": (
        [
            INIT,
            json.dumps({"id": "1", "type": "subscribe", "payload": {"query": "{ " + "__typename " * 100_000 + "}"}}),
        ],
        1009,
    ),
    "flood of subscribe messages": ([INIT, *(subscribe(str(n)) for n in range(300))], 4429),
}


@pytest.mark.parametrize("case", VIOLATIONS)
async def test_protocol_violation_closes_with_its_code(server: ServerProcess, case: str) -> None:
    messages, code = VIOLATIONS[case]
    assert await ws_closed_with(server, messages) == code
    await assert_still_serving(server)


async def test_10000_race_ids_are_refused_as_bad_input(server: ServerProcess) -> None:
    client = await GraphQLWs.open(server.ws)
    await client.subscribe("many", ODDS, ids=[str(n) for n in range(1, 10_001)])
    message = await client.receive()
    assert message["type"] in ("error", "next"), message
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    await client.close()
    await assert_still_serving(server)


OPERATION_REFUSALS = {
    "depth 50": ('{ race(id: "1") { ' + "meeting { races { " * 25 + "id" + " } }" * 25 + " } }", "QUERY_TOO_DEEP"),
    "300 aliases": ("{ " + " ".join(f"a{n}: __typename" for n in range(300)) + " }", "TOO_MANY_ALIASES"),
    "query cost": (
        'subscription { oddsUpdated(raceIds: ["1"]) { prices { runner { priceHistory(last: 500) '
        "{ runner { priceHistory(last: 500) { decimal } } } } } } }",
        "QUERY_TOO_COMPLEX",
    ),
}


@pytest.mark.parametrize("case", OPERATION_REFUSALS)
async def test_a_hostile_operation_over_websocket_gets_an_error_message(server: ServerProcess, case: str) -> None:
    query, code = OPERATION_REFUSALS[case]
    client = await GraphQLWs.open(server.ws)
    await client.send({"id": "x", "type": "subscribe", "payload": {"query": query}})
    message = await client.receive()
    assert message["id"] == "x" and message["type"] == "error", message
    assert message["payload"][0]["extensions"]["code"] == code
    await client.close()
    await assert_still_serving(server)


async def test_a_foreign_origin_cannot_open_a_websocket(server: ServerProcess) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await raw_ws(server, origin=FOREIGN_ORIGIN)
    assert refused.value.response.status_code == 403
    trusted = await raw_ws(server, origin=TRUSTED_ORIGIN)
    await trusted.send(INIT)
    assert json.loads(await trusted.recv())["type"] == "connection_ack"
    await trusted.close()
    await assert_still_serving(server)


async def test_the_legacy_graphql_ws_protocol_is_off_by_default(server: ServerProcess) -> None:
    connection = await raw_ws(server, subprotocols=["graphql-ws"])
    assert await close_code(connection) == 4406
    await assert_still_serving(server)
