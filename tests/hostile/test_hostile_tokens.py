"""Bad tokens: refused over HTTP (UNAUTHENTICATED) and over WebSocket (close 4403), nothing stored."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from hostile_server import (
    PRIVATE,
    PUBLIC,
    SECRET,
    STORE,
    assert_still_serving,
    close_code,
    error_code,
    post,
    price_count,
    raw_ws,
)
from jwt_forge import claims, forged, signed
from live_server import GraphQLWs, ServerProcess

BAD_TOKENS = {
    "not a JWT": "not-a-jwt",
    "wrong secret": signed("some-other-secret-0123456789abcdefgh"),
    "expired": signed(SECRET, ttl=-3600),
    "alg none": forged({"alg": "none", "typ": "JWT"}, claims()),
    "HS256 keyed with the RS256 public key": forged({"alg": "HS256", "typ": "JWT"}, claims(), hmac_key=PUBLIC.encode()),
    "RS256 by another key": forged({"alg": "RS256", "typ": "JWT"}, claims(), hmac_key=b"x"),
    "no subject": signed(SECRET, subject=None),
}


@pytest.fixture(scope="module")
def server(hostile_server: ServerProcess) -> ServerProcess:
    return hostile_server


def write(race: dict[str, Any]) -> dict[str, Any]:
    return {
        "query": STORE,
        "variables": {
            "input": {
                "raceId": race["id"],
                "source": "feed",
                "observedAt": datetime.now(UTC).isoformat(),
                "prices": [{"runnerId": race["runners"][0], "decimal": 3.0}],
            }
        },
    }


@pytest.mark.parametrize("case", BAD_TOKENS)
async def test_a_bad_token_cannot_write(server: ServerProcess, races: list[dict[str, Any]], case: str) -> None:
    before = await price_count(server, races[0]["id"])
    response = await post(server, write(races[0]), headers={"Authorization": f"Bearer {BAD_TOKENS[case]}"})
    assert error_code(response) == "UNAUTHENTICATED"
    assert await price_count(server, races[0]["id"]) == before
    await assert_still_serving(server)


@pytest.mark.parametrize("case", BAD_TOKENS)
async def test_a_bad_token_is_refused_on_a_public_read_too(server: ServerProcess, case: str) -> None:
    """As on a WebSocket: a client whose token is refused learns it, not anonymous answers."""
    read = {"query": "{ races(first: 1) { edges { node { id } } } }"}
    refused = await post(server, read, headers={"Authorization": f"Bearer {BAD_TOKENS[case]}"})
    assert error_code(refused) == "UNAUTHENTICATED"
    served = await post(server, read)  # the same read without a token is public
    assert served.json()["data"]["races"]["edges"]


@pytest.mark.parametrize("case", BAD_TOKENS)
async def test_a_bad_token_closes_the_websocket_with_4403(server: ServerProcess, case: str) -> None:
    in_payload = await raw_ws(server)
    await in_payload.send('{"type": "connection_init", "payload": {"token": "' + BAD_TOKENS[case] + '"}}')
    in_header = await raw_ws(server, additional_headers={"Authorization": f"Bearer {BAD_TOKENS[case]}"})
    await in_header.send('{"type": "connection_init"}')
    assert await close_code(in_payload) == 4403
    assert await close_code(in_header) == 4403
    await assert_still_serving(server)


async def test_an_rs256_token_signed_with_the_private_key_writes(
    server: ServerProcess, races: list[dict[str, Any]]
) -> None:
    token = signed(PRIVATE, "RS256", subject="rs-partner")
    response = await post(server, write(races[1]), headers={"Authorization": f"Bearer {token}"})
    assert response.json()["data"]["storeOdds"]["seq"] >= 1
    client = await GraphQLWs.open(server.ws, {"Authorization": f"Bearer {token}"})
    await client.close()
