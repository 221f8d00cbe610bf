"""Partners-only mode, token expiry on a long subscription (and the resume after it), and the
cap on connections per client address, through a real server process."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from conftest import card, seeded_sqlite
from jwt_forge import signed
from live_server import GraphQLWs, ServerProcess, wait_subscribed
from server.app import create_app
from server.settings import Settings

SECRET = "connection-security-secret-0123456789ab"
ODDS = """subscription($ids: [ID!]!, $after: String) {
  oddsUpdated(raceIds: $ids, after: $after) { seq cursor prices { decimal } }
}"""
STORE = "mutation($input: StoreOddsInput!) { storeOdds(input: $input) { seq } }"
WRITER = {"Authorization": f"Bearer {signed(SECRET, subject='feed', scope='odds:write')}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    url = seeded_sqlite(tmp_path_factory.mktemp("partners"), card(runners=2))
    process = ServerProcess(
        {
            "RACEWIRE_DATABASE_URL": url,
            "RACEWIRE_JWT_SECRET": SECRET,
            "RACEWIRE_REQUIRE_AUTH": "true",
            "RACEWIRE_JWT_LEEWAY_SECONDS": "0",
            "RACEWIRE_MAX_CONNECTIONS_PER_CLIENT": "3",
            "RACEWIRE_WS_LEGACY_PROTOCOL": "true",
        }
    ).start()
    yield process
    process.stop()


def reader(ttl: float = 600) -> str:
    return signed(SECRET, subject="partner", scope="", ttl=ttl)


async def store(server: ServerProcess, price: float, at: datetime) -> int:
    body = {
        "query": STORE,
        "variables": {
            "input": {
                "raceId": "1",
                "source": "x",
                "observedAt": at.isoformat(),
                "prices": [{"runnerId": "1", "decimal": price}],
            }
        },
    }
    async with httpx.AsyncClient(base_url=server.http) as client:
        return int((await client.post("/graphql", json=body, headers=WRITER)).json()["data"]["storeOdds"]["seq"])


async def test_partners_only_refuses_anonymous_reads(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.http) as client:
        anonymous = await client.post("/graphql", json={"query": "{ __typename }"})
        partner = await client.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"Authorization": f"Bearer {reader()}"}
        )
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert partner.json()["data"] == {"__typename": "Query"}

    with pytest.raises(ConnectionClosed) as closed:
        await GraphQLWs.open(server.ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    client = await GraphQLWs.open(server.ws, {"token": reader()})
    await client.close()


async def test_a_token_expiring_mid_subscription_closes_it_and_a_fresh_token_resumes(server: ServerProcess) -> None:
    start = datetime.now(UTC) - timedelta(minutes=5)
    short = await GraphQLWs.open(server.ws, {"Authorization": f"Bearer {reader(ttl=2)}"})
    await short.subscribe("a", ODDS, ids=["1"])
    await wait_subscribed(server, 1)
    await store(server, 2.0, start)
    last_seen = (await short.next("a"))["oddsUpdated"]

    with pytest.raises(ConnectionClosed) as closed:
        await short.receive(timeout=15)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403

    missed = [await store(server, 2.0 + n / 10, start + timedelta(seconds=n)) for n in (1, 2)]
    fresh = await GraphQLWs.open(server.ws, {"Authorization": f"Bearer {reader()}"})
    await fresh.subscribe("b", ODDS, ids=["1"], after=last_seen["cursor"])
    replayed = [(await fresh.next("b"))["oddsUpdated"] for _ in missed]
    live_seq = await store(server, 5.0, start + timedelta(seconds=10))
    live = (await fresh.next("b"))["oddsUpdated"]

    assert [e["seq"] for e in replayed] == missed == [last_seen["seq"] + 1, last_seen["seq"] + 2]
    assert [e["prices"][0]["decimal"] for e in replayed] == [2.1, 2.2]
    assert live["seq"] == live_seq == missed[-1] + 1
    await fresh.close()


async def test_connections_per_client_address_are_capped(server: ServerProcess) -> None:
    token = {"token": reader()}
    clients = [await GraphQLWs.open(server.ws, token) for _ in range(3)]
    async with connect(server.ws, subprotocols=["graphql-transport-ws"]) as refused:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(refused.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4429

    await clients.pop().close()
    async with httpx.AsyncClient(base_url=server.http) as http:
        for _ in range(400):  # the server counts the close once its handler has finished
            if (await http.get("/ready")).json()["connections"] < 3:
                break
            await asyncio.sleep(0.025)
    again = await GraphQLWs.open(server.ws, token)
    for client in (*clients, again):
        await client.close()


def test_the_legacy_graphql_ws_protocol_is_offered_only_when_enabled() -> None:
    def offered(**settings: Any) -> list[str]:
        return create_app(Settings(**settings)).state.racewire.graphql.websocket_subprotocols

    assert offered() == ["graphql-transport-ws"]
    assert offered(ws_legacy_protocol=True) == ["graphql-transport-ws", "graphql-ws"]


async def test_a_legacy_graphql_ws_connection_is_closed_at_its_token_s_expiry_too(server: ServerProcess) -> None:
    async with connect(server.ws, subprotocols=["graphql-ws"], open_timeout=5) as legacy:
        assert legacy.subprotocol == "graphql-ws"
        await legacy.send(json.dumps({"type": "connection_init", "payload": {"token": reader(ttl=2)}}))
        assert json.loads(await asyncio.wait_for(legacy.recv(), 10))["type"] == "connection_ack"
        with pytest.raises(ConnectionClosed) as closed:
            while True:  # keep-alives, until the close
                await asyncio.wait_for(legacy.recv(), 15)

    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4403, "Token expired")


async def test_a_legacy_graphql_ws_connection_past_the_message_rate_is_closed_with_4429(server: ServerProcess) -> None:
    async with connect(server.ws, subprotocols=["graphql-ws"], open_timeout=5) as legacy:
        await legacy.send(json.dumps({"type": "connection_init", "payload": {"token": reader()}}))
        assert json.loads(await asyncio.wait_for(legacy.recv(), 10))["type"] == "connection_ack"
        with pytest.raises(ConnectionClosed) as closed:
            for n in range(1_000):  # the default burst is 100
                await legacy.send(json.dumps({"type": "stop", "id": f"none-{n}"}))
            while True:
                await asyncio.wait_for(legacy.recv(), 10)

    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4429, "Too many messages")
