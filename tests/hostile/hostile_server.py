"""One live server for the hostile-input suite, a race card in it, and the checks every case ends
with: the server still serves a well-behaved client, and a refused write stored nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from conftest import card, seeded_sqlite
from jwt_forge import rsa_key_pair, signed
from live_server import GraphQLWs, ServerProcess

SECRET = "hostile-suite-secret-0123456789abcdefgh"
PRIVATE, PUBLIC = rsa_key_pair()
TRUSTED_ORIGIN = "http://app.racewire.test"
FOREIGN_ORIGIN = "http://evil.example"
MUTATIONS_PER_SUBJECT = 5
ENV = {
    "RACEWIRE_JWT_SECRET": SECRET,
    "RACEWIRE_JWT_ALGORITHMS": "HS256,RS256",
    "RACEWIRE_JWT_PUBLIC_KEY": PUBLIC,
    "RACEWIRE_CORS_ORIGINS": TRUSTED_ORIGIN,
    "RACEWIRE_WS_INIT_TIMEOUT_SECONDS": "1",
    "RACEWIRE_WS_MESSAGES_PER_SECOND": "10",
    "RACEWIRE_WS_MESSAGE_BURST": "50",
    # A bucket that never refills within a test: the sixth write of one subject is refused.
    "RACEWIRE_MUTATIONS_PER_SECOND": "0.001",
    "RACEWIRE_MUTATION_BURST": str(MUTATIONS_PER_SUBJECT),
}
STORE = "mutation($input: StoreOddsInput!) { storeOdds(input: $input) { seq } }"
PRICES = "query($id: ID!) { race(id: $id) { runners { priceHistory { decimal } } } }"


def start_server(directory: Any, **env: str) -> ServerProcess:
    """The suite's server on a fresh race card, with `env` over the suite's settings."""
    url = seeded_sqlite(directory, card(races=2, runners=4))
    return ServerProcess({**ENV, **env, "RACEWIRE_DATABASE_URL": url}).start()


def bearer(subject: str, scope: str = "odds:write", **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {signed(SECRET, subject=subject, scope=scope, **claims)}"}


async def post(
    server: ServerProcess,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    content: bytes | str | None = None,
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.http, timeout=30) as client:
        if content is not None:
            return await client.post(
                "/graphql", content=content, headers={"content-type": "application/json", **(headers or {})}
            )
        return await client.post("/graphql", json=body, headers=headers)


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert body.get("data") is None or any(v is None for v in body["data"].values()), body
    return str(body["errors"][0]["extensions"]["code"])


async def price_count(server: ServerProcess, race_id: str) -> int:
    body = (await post(server, {"query": PRICES, "variables": {"id": race_id}})).json()
    return sum(len(r["priceHistory"]) for r in body["data"]["race"]["runners"])


async def assert_still_serving(server: ServerProcess) -> None:
    """A well-behaved client, over HTTP and over graphql-transport-ws, is served as usual."""
    response = await post(server, {"query": "{ __typename }"})
    assert response.status_code == 200 and response.json()["data"] == {"__typename": "Query"}
    client = await GraphQLWs.open(server.ws)
    await client.subscribe("ok", "query { __typename }")
    assert await client.next("ok") == {"__typename": "Query"}
    await client.close()


async def raw_ws(server: ServerProcess, **options: Any) -> ClientConnection:
    return await connect(
        server.ws, subprotocols=options.pop("subprotocols", ["graphql-transport-ws"]), open_timeout=5, **options
    )


async def close_code(connection: ClientConnection, timeout: float = 10) -> int | None:
    """Reads until the server closes the connection; its close code."""
    try:
        while True:
            await asyncio.wait_for(connection.recv(), timeout)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None


async def ws_closed_with(server: ServerProcess, messages: list[Any], **options: Any) -> int | None:
    connection = await raw_ws(server, **options)
    try:
        for message in messages:
            await connection.send(message)
    except ConnectionClosed:
        pass
    return await close_code(connection)
