"""Live data in a federated deployment: a router's WebSocket passthrough reaches Racewire's own
graphql-transport-ws endpoint with the partner's token, as Apollo Router sends it (the client's
Authorization header on the upgrade, and the same header's whole value as `connection_init`'s
`token`), on a live server that needs a token for every operation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from conftest import card, seeded_sqlite
from live_server import GraphQLWs, ServerProcess
from server.auth import create_access_token

SECRET = "test-secret-for-racewire-0123456789abcdef"
ODDS = "subscription($ids: [ID!]!) { oddsUpdated(raceIds: $ids, snapshot: true) { raceId snapshot } }"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    url = seeded_sqlite(tmp_path, card(runners=3))
    process = ServerProcess(
        {"RACEWIRE_DATABASE_URL": url, "RACEWIRE_JWT_SECRET": SECRET, "RACEWIRE_REQUIRE_AUTH": "true"}
    ).start()
    yield process
    process.stop()


async def _router_handshake(server: ServerProcess, authorization: str) -> GraphQLWs:
    connection = await connect(
        server.ws,
        subprotocols=["graphql-transport-ws"],
        open_timeout=5,
        additional_headers={"Authorization": authorization},
    )
    client = GraphQLWs(connection)
    await client.send({"type": "connection_init", "payload": {"token": authorization}})
    return client


async def test_a_routers_passthrough_subscription_carries_the_partners_token(server: ServerProcess) -> None:
    partner = f"Bearer {create_access_token(secret=SECRET, subject='tipster-router', scopes=[])}"
    async with httpx.AsyncClient(base_url=server.http) as http:
        query = {"query": "{ races(first: 1) { edges { node { id } } } }"}
        race_id = (await http.post("/graphql", json=query, headers={"Authorization": partner})).json()["data"]["races"][
            "edges"
        ][0]["node"]["id"]
        anonymous = (await http.post("/graphql", json=query)).json()
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    client = await _router_handshake(server, partner)
    try:
        assert (await client.receive())["type"] == "connection_ack"
        await client.subscribe("1", ODDS, ids=[race_id])
        assert (await client.next("1"))["oddsUpdated"] == {"raceId": race_id, "snapshot": True}
    finally:
        await client.close()


async def test_a_passthrough_with_a_forged_token_is_refused(server: ServerProcess) -> None:
    forged = f"Bearer {create_access_token(secret='another-secret-0123456789abcdefghij', subject='x', scopes=[])}"
    client = await _router_handshake(server, forged)
    with pytest.raises(ConnectionClosed) as closed:
        message = await client.receive()
        pytest.fail(f"expected the connection to be refused, got {json.dumps(message)}")
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
