"""A client may choose the server's ping interval in `connection_init` (`heartbeatMs`), within
bounds; the ack says which interval holds, and without a choice the server's setting holds."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from live_server import ServerProcess
from server.live.heartbeat import MAX_HEARTBEAT_MS, MIN_HEARTBEAT_MS


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    path: Path = tmp_path_factory.mktemp("heartbeat") / "racewire.db"
    # The server's own interval far longer than any wait below: a ping seen here is the client's choice.
    process = ServerProcess(
        {"RACEWIRE_DATABASE_URL": f"sqlite+aiosqlite:///{path}", "RACEWIRE_WS_PING_INTERVAL_SECONDS": "600"}
    ).start()
    yield process
    process.stop()


async def _init(server: ServerProcess, payload: Any) -> tuple[ClientConnection, dict[str, Any] | None]:
    connection = await connect(server.ws, subprotocols=["graphql-transport-ws"], open_timeout=5)
    await connection.send(json.dumps({"type": "connection_init", "payload": payload}))
    try:
        return connection, json.loads(await asyncio.wait_for(connection.recv(), 10))
    except Exception:  # noqa: BLE001 - refused: the close code tells why
        return connection, None


async def test_a_client_that_asks_for_a_fast_heartbeat_is_pinged_at_its_pace(server: ServerProcess) -> None:
    connection, ack = await _init(server, {"heartbeatMs": MIN_HEARTBEAT_MS})
    assert ack == {"type": "connection_ack", "payload": {"heartbeatMs": MIN_HEARTBEAT_MS}}
    pings = 0
    for _ in range(3):  # each answered: the connection stays open through all of them
        message = json.loads(await asyncio.wait_for(connection.recv(), 30))
        assert message == {"type": "ping"}
        pings += 1
        await connection.send(json.dumps({"type": "pong"}))
    await connection.send(json.dumps({"type": "ping"}))
    assert json.loads(await asyncio.wait_for(connection.recv(), 10)) == {"type": "pong"}
    await connection.close()

    assert pings == 3


async def test_without_a_choice_the_server_s_interval_holds(server: ServerProcess) -> None:
    connection, ack = await _init(server, {})
    assert ack == {"type": "connection_ack", "payload": {"heartbeatMs": 600_000}}
    with pytest.raises(TimeoutError):  # no ping for as long as the fast one above sent three
        await asyncio.wait_for(connection.recv(), 3 * MIN_HEARTBEAT_MS / 1000 + 1)
    await connection.close()


@pytest.mark.parametrize("asked", [MIN_HEARTBEAT_MS - 1, MAX_HEARTBEAT_MS + 1, 0, -5, 5000.5, "5000", True, None])
async def test_a_heartbeat_out_of_bounds_is_refused_with_4400_naming_the_bounds(
    server: ServerProcess,
    asked: Any,
) -> None:
    connection, ack = await _init(server, {"heartbeatMs": asked})
    await asyncio.wait_for(connection.wait_closed(), 10)

    assert ack is None
    assert connection.close_code == 4400
    assert connection.close_reason == f"`heartbeatMs` must be an integer from {MIN_HEARTBEAT_MS} to {MAX_HEARTBEAT_MS}"


async def test_the_slowest_heartbeat_allowed_is_taken(server: ServerProcess) -> None:
    connection, ack = await _init(server, {"heartbeatMs": MAX_HEARTBEAT_MS, "token": None})
    assert ack == {"type": "connection_ack", "payload": {"heartbeatMs": MAX_HEARTBEAT_MS}}
    await connection.close()
