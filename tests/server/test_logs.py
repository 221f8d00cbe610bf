"""Structured logs from a real server process, each line tagged with its request or subscription id."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from live_server import GraphQLWs, ServerProcess
from server.logs import request_id, subscription_id


@pytest.fixture
def json_server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(
        {
            "RACEWIRE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/racewire.db",
            "RACEWIRE_LOG_FORMAT": "json",
            "RACEWIRE_ACCESS_LOG": "true",
        }
    ).start()
    yield process
    process.stop()


async def test_without_the_access_log_requests_and_handshakes_get_no_line(tmp_path: Path) -> None:
    server = ServerProcess({"RACEWIRE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/racewire.db"}).start()
    try:
        async with httpx.AsyncClient(base_url=server.http) as client:
            assert (await client.get("/health")).status_code == 200
        client_ws = await GraphQLWs.open(server.ws)
        await client_ws.close()
    finally:
        server.stop()
    log = "".join(server.log)

    assert "Uvicorn running on" in log  # the server's own lines stay
    assert "GET /health" not in log and '"WebSocket /graphql"' not in log
    assert "connection open" not in log and "connection closed" not in log  # websockets' own lines


async def test_json_logs_carry_the_request_id_the_client_sent(json_server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=json_server.http) as client:
        response = await client.get("/health", headers={"X-Request-ID": "req-from-client"})
        generated = await client.get("/health")
    client_ws = await GraphQLWs.open(json_server.ws)
    await client_ws.close()
    json_server.stop()
    entries = [json.loads(line) for line in json_server.log if line.startswith("{")]

    assert response.headers["x-request-id"] == "req-from-client"
    assert len(generated.headers["x-request-id"]) == 16
    assert entries and len(entries) == len([line for line in json_server.log if line.strip()])
    health = [e for e in entries if "GET /health" in e["message"]]
    assert [e["request_id"] for e in health] == ["req-from-client", generated.headers["x-request-id"]]
    assert any('"WebSocket /graphql" [accepted]' in e["message"] for e in entries)
    assert any(e["message"] == "connection open" for e in entries)


async def test_subscription_logs_name_their_connection_and_operation(json_server: ServerProcess) -> None:
    async with connect(
        json_server.ws,
        subprotocols=["graphql-transport-ws"],
        open_timeout=5,
        additional_headers={"X-Request-ID": "conn-1"},
    ) as connection:
        client = GraphQLWs(connection)
        await client.send({"type": "connection_init", "payload": {}})
        assert (await client.receive())["type"] == "connection_ack"
        for operation_id, query in (
            ("op-7", 'subscription { oddsUpdated(raceIds: ["not-a-number"]) { seq } }'),
            ("op-8", "subscription { notifications { seq } }"),
        ):
            await client.subscribe(operation_id, query)
            answer = await client.receive()
            assert answer["id"] == operation_id and answer["type"] in {"error", "next"}, answer
            while answer["type"] == "next":  # an error in the first event, then the end
                answer = await client.receive()
            assert answer["id"] == operation_id and answer["type"] in {"error", "complete"}, answer
    json_server.stop()
    entries = [json.loads(line) for line in json_server.log if line.startswith("{")]
    client_errors = [e for e in entries if e["message"].startswith("client error")]

    # One shared (the fan-out's) and one of the connection's own: both name connection and operation.
    assert sorted(e["subscription_id"] for e in client_errors) == ["conn-1/op-7", "conn-1/op-8"], client_errors
    assert {e["request_id"] for e in client_errors} == {"conn-1"}
    assert subscription_id.get() == "-" and request_id.get() == "-"  # nothing leaked into this process
