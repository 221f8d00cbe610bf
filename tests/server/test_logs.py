"""Structured logs from a real server process, each line tagged with its request or subscription id."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from live_server import GraphQLWs, ServerProcess
from server.logs import ContextIds, request_id, subscription_id, with_subscription_ids


@pytest.fixture
def json_server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess({"RACEWIRE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/racewire.db",
                             "RACEWIRE_LOG_FORMAT": "json", "RACEWIRE_ACCESS_LOG": "true"}).start()
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


async def test_subscription_logs_name_their_connection_and_operation() -> None:
    seen: list[str] = []

    class Handler:
        async def handle_subscribe(self, message: dict[str, str]) -> None:
            record = logging.LogRecord("t", logging.INFO, __file__, 1, "subscribed", None, None)
            ContextIds().filter(record)
            seen.append(f"{record.request_id} {record.subscription_id}")

    request_id.set("conn-1")
    await with_subscription_ids(Handler)().handle_subscribe({"id": "op-7", "type": "subscribe"})

    assert subscription_id.get() == "-"
    assert seen == ["conn-1 conn-1/op-7"]
