"""What a real server process logs: a client's mistakes are one INFO line each with no traceback,
an unexpected error is ERROR with its errorId and traceback, and a database outage is a WARNING
line for the server and a retryable SERVICE_UNAVAILABLE (HTTP 503, retryAfter) for the client."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import card, seeded_sqlite
from hostile_server import ENV, bearer, ws_closed_with
from live_server import GraphQLWs, ServerProcess
from postgres_server import PostgresServer


async def logged(server: ServerProcess, text: str, timeout: float = 10) -> str:
    """The server's log once `text` is in it: the line is written by the other process."""
    deadline = asyncio.get_running_loop().time() + timeout
    while text not in (log := "".join(server.log)):
        assert asyncio.get_running_loop().time() < deadline, f"{text!r} never logged:\n{log[-3000:]}"
        await asyncio.sleep(0.02)
    return log


async def post(
    server: ServerProcess, query: str, variables: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.http, timeout=30) as client:
        return await client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[tuple[ServerProcess, Path]]:
    url = seeded_sqlite(tmp_path, card(races=1, runners=2))
    process = ServerProcess({**ENV, "RACEWIRE_DATABASE_URL": url, "RACEWIRE_PRODUCTION": "true"}).start()
    yield process, tmp_path / "racewire.db"
    process.stop()


async def test_client_errors_are_info_lines_and_an_internal_error_is_an_error_with_its_traceback(
    sqlite_server: tuple[ServerProcess, Path],
) -> None:
    server, database = sqlite_server
    races = (await post(server, "{ races { edges { node { id runners { id } } } } }")).json()["data"]["races"]["edges"]
    race, runner = races[0]["node"]["id"], races[0]["node"]["runners"][0]["id"]
    store = "mutation($i: StoreOddsInput!) { storeOdds(input: $i) { stored } }"
    bad_price = {
        "i": {
            "raceId": race,
            "source": "feed",
            "observedAt": datetime.now(UTC).isoformat(),
            "prices": [{"runnerId": runner, "decimal": 0.5}],
        }
    }
    client_errors = {
        "BAD_USER_INPUT": (store, bad_price, bearer(f"feed-{uuid.uuid4().hex[:6]}")),
        "UNAUTHENTICATED": (store, bad_price, {}),
        "GRAPHQL_VALIDATION_FAILED": ("{ racez }", None, {}),
        "GRAPHQL_PARSE_FAILED": ("{ race(", None, {}),
        "NOT_FOUND": ('mutation { deleteAlert(id: "99999999999999999999") }', None, bearer("someone")),
    }
    for code, (query, variables, headers) in client_errors.items():
        body = (await post(server, query, variables, headers)).json()
        assert body["errors"][0]["extensions"]["code"] in (code, "FORBIDDEN"), body
    assert await ws_closed_with(server, [json.dumps({"type": "connection_init"}), "[1, 2]"]) == 4400

    # The positive control, last: a fault of the server's (a table gone from under it).
    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA foreign_keys=OFF")
        connection.execute("DROP TABLE news")
    failed = (await post(server, "{ news { edges { cursor } } }")).json()
    error_id = failed["errors"][0]["extensions"]["errorId"]
    log = await logged(server, f"internal error {error_id}")

    line_start = log.rindex("\n", 0, log.index(f"internal error {error_id}")) + 1
    before, error_line = log[:line_start], log[line_start:].splitlines()[0]
    assert " ERROR " not in before and "Traceback" not in before, before[-3000:]
    for code in client_errors:
        assert "INFO racewire.client_errors [req=" in before and f"client error {code} " in before, code
    after = log[log.index(f"internal error {error_id}") :]
    assert after.startswith(f"internal error {error_id}") and "Traceback (most recent call last)" in after
    assert " ERROR racewire.errors " in error_line
    assert "no such table" not in json.dumps(failed)  # the client sees none of it


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    cluster = PostgresServer().start()
    yield cluster
    cluster.remove()


async def test_a_database_outage_is_a_retryable_503_and_a_warning(postgres: PostgresServer) -> None:
    server = ServerProcess({**ENV, "RACEWIRE_DATABASE_URL": postgres.url, "RACEWIRE_PRODUCTION": "true"}).start()
    query = '{ race(id: "1") { id } }'
    try:
        healthy = await post(server, query)
        assert healthy.status_code == 200 and healthy.json()["data"] == {"race": None}

        postgres.stop()
        down = await post(server, query)
        client = await GraphQLWs.open(server.ws)
        await client.subscribe("q", query)
        frame = await client.receive()
        await client.close()

        assert down.status_code == 503 and down.headers["retry-after"] == "2"
        error = down.json()["errors"][0]
        assert error["extensions"] == {"code": "SERVICE_UNAVAILABLE", "retryAfter": 2}, error
        assert str(postgres.port) not in down.text
        ws_errors = frame["payload"]["errors"] if frame["type"] == "next" else frame["payload"]
        assert ws_errors[0]["extensions"]["code"] == "SERVICE_UNAVAILABLE", frame

        postgres.start()  # retryable indeed: the same request is served again
        again = await post(server, query)
        assert again.status_code == 200 and again.json()["data"] == {"race": None}
        log = await logged(server, "database unavailable at ['race']")
        assert "internal error" not in log and " ERROR racewire.errors " not in log
        lines = [line for line in log.splitlines() if "database unavailable" in line]
        assert lines and all(" WARNING racewire.errors " in line for line in lines)
    finally:
        server.stop()
