"""A careless operator and a neighbouring feed: production starts only with its own way to check
tokens and never takes the development secret; one feed's idempotency key never answers
another's call; a token that names its sources writes only those, over HTTP and WebSocket; a
malformed token is told so in a fixed sentence, never the decoder's text."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from conftest import card, seeded_sqlite
from hostile_server import (
    PRIVATE,
    PUBLIC,
    SECRET,
    assert_still_serving,
    bearer,
    close_code,
    error_code,
    post,
    price_count,
    raw_ws,
)
from jwt_forge import signed
from live_server import ROOT, GraphQLWs, ServerProcess, free_port
from server.settings import DEV_JWT_SECRET

NO_WAY_TO_CHECK = "RACEWIRE_PRODUCTION=true, but no way to check tokens is configured"
STORE_FULL = "mutation($input: StoreOddsInput!) { storeOdds(input: $input) { seq replayed stored } }"


@pytest.fixture(scope="module")
def server(hostile_server: ServerProcess) -> ServerProcess:
    return hostile_server


def odds(race: dict[str, Any], source: str, decimal: float = 3.0, key: str | None = None) -> dict[str, Any]:
    value: dict[str, Any] = {
        "raceId": race["id"],
        "source": source,
        "observedAt": datetime.now(UTC).isoformat(),
        "prices": [{"runnerId": race["runners"][0], "decimal": decimal}],
    }
    if key is not None:
        value["idempotencyKey"] = key
    return {"query": STORE_FULL, "variables": {"input": value}}


def start_refused(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Runs a server start that must end by itself."""
    return subprocess.run(
        command,
        cwd=ROOT,
        env={**os.environ, "RACEWIRE_PORT": str(free_port()), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


PRODUCTION_MISTAKES = {
    "no secret": {},
    "the development secret, set explicitly": {"RACEWIRE_JWT_SECRET": DEV_JWT_SECRET},
    "a key, but only HS256 allowed": {"RACEWIRE_JWT_PUBLIC_KEY": PUBLIC},
    "a weak secret": {"RACEWIRE_JWT_SECRET": "password123"},
}


@pytest.mark.parametrize("case", PRODUCTION_MISTAKES)
def test_production_without_its_own_secret_or_key_exits_with_the_reason(case: str, tmp_path: Any) -> None:
    env = {
        "RACEWIRE_PRODUCTION": "true",
        "RACEWIRE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/r.db",
        **PRODUCTION_MISTAKES[case],
    }
    done = start_refused([sys.executable, "-m", "server.cli", "serve"], env)
    assert done.returncode != 0
    expected = "RACEWIRE_JWT_SECRET is too weak" if case == "a weak secret" else NO_WAY_TO_CHECK
    assert expected in done.stderr and "Uvicorn running" not in done.stderr
    assert not (tmp_path / "r.db").exists()  # refused before touching the database


def test_uvicorn_workers_of_create_app_refuse_it_too_and_are_not_restarted(tmp_path: Any) -> None:
    env = {"RACEWIRE_PRODUCTION": "true", "RACEWIRE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/r.db"}
    uvicorn = [sys.executable, "-m", "uvicorn", "server.app:create_app", "--factory", "--port", str(free_port())]
    alone = start_refused(uvicorn, env)
    assert alone.returncode == 3 and NO_WAY_TO_CHECK in alone.stderr
    # With workers, each exits with uvicorn's start-failure status, so the supervisor stops
    # instead of restarting them forever (its own status is uvicorn's choice).
    workers = start_refused([*uvicorn, "--workers", "2"], env)
    assert NO_WAY_TO_CHECK in workers.stderr and "failed to start, stopping the parent process" in workers.stderr


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Production with an RS256 key and the secret left at the development default."""
    url = seeded_sqlite(tmp_path_factory.mktemp("production"), card(races=1, runners=2))
    process = ServerProcess(
        {
            "RACEWIRE_PRODUCTION": "true",
            "RACEWIRE_DATABASE_URL": url,
            "RACEWIRE_JWT_ALGORITHMS": "HS256,RS256",
            "RACEWIRE_JWT_PUBLIC_KEY": PUBLIC,
        }
    ).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def strong(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Production with its own secret."""
    url = seeded_sqlite(tmp_path_factory.mktemp("strong"), card(races=1, runners=2))
    process = ServerProcess(
        {"RACEWIRE_PRODUCTION": "true", "RACEWIRE_DATABASE_URL": url, "RACEWIRE_JWT_SECRET": SECRET}
    ).start()
    yield process
    process.stop()


async def race_of(server: ServerProcess) -> dict[str, Any]:
    query = "{ races(first: 1) { edges { node { id runners { id } } } } }"
    node = (await post(server, {"query": query})).json()["data"]["races"]["edges"][0]["node"]
    return {"id": node["id"], "runners": [r["id"] for r in node["runners"]]}


async def test_production_refuses_tokens_signed_with_the_development_secret(
    production: ServerProcess, strong: ServerProcess
) -> None:
    for server, own in (
        (production, signed(PRIVATE, "RS256", subject="rs-feed", sources=["rs-feed"])),
        (strong, signed(SECRET, subject="hs-feed", sources=["hs-feed"])),
    ):
        race = await race_of(server)
        source = "rs-feed" if server is production else "hs-feed"
        dev = signed(DEV_JWT_SECRET, subject="intruder", scope="odds:write", sources=[source])
        refused = await post(server, odds(race, source), headers={"Authorization": f"Bearer {dev}"})
        assert error_code(refused) == "UNAUTHENTICATED"
        assert await price_count(server, race["id"]) == 0
        connection = await raw_ws(server)
        await connection.send(json.dumps({"type": "connection_init", "payload": {"token": dev}}))
        assert await close_code(connection) == 4403
        # The positive control: the deployment's own token writes, over HTTP and WebSocket.
        written = await post(server, odds(race, source), headers={"Authorization": f"Bearer {own}"})
        assert written.json()["data"]["storeOdds"]["seq"] == 1
        client = await GraphQLWs.open(server.ws, {"token": own})
        await client.close()
        assert await price_count(server, race["id"]) == 1


async def test_production_takes_odds_only_from_tokens_that_name_their_sources(strong: ServerProcess) -> None:
    race = await race_of(strong)
    before = await price_count(strong, race["id"])
    unbounded = {"Authorization": f"Bearer {signed(SECRET, subject='old-feed')}"}
    refused = (await post(strong, odds(race, "old-feed"), headers=unbounded)).json()["errors"][0]
    assert refused["extensions"] == {"code": "FORBIDDEN", "field": "source", "source": "old-feed"}
    assert "no sources claim" in refused["message"]
    assert await price_count(strong, race["id"]) == before
    bounded = {"Authorization": f"Bearer {signed(SECRET, subject='new-feed', sources=['new-feed'])}"}
    assert (await post(strong, odds(race, "new-feed"), headers=bounded)).json()["data"]["storeOdds"]["seq"] >= 1
    assert await price_count(strong, race["id"]) == before + 1


async def test_two_feeds_with_the_same_idempotency_key_both_store(
    server: ServerProcess, races: list[dict[str, Any]]
) -> None:
    race = races[1]
    before = await price_count(server, race["id"])
    mine, theirs = odds(race, "key-feed-a", 2.0, key="shared-key-1"), odds(race, "key-feed-b", 4.0, key="shared-key-1")
    first = (await post(server, mine, headers=bearer("key-feed-a"))).json()
    second = (await post(server, theirs, headers=bearer("key-feed-b"))).json()

    assert first["data"]["storeOdds"]["replayed"] is False and second["data"]["storeOdds"]["replayed"] is False
    assert second["data"]["storeOdds"]["seq"] == first["data"]["storeOdds"]["seq"] + 1
    assert await price_count(server, race["id"]) == before + 2
    # The positive control: each feed's own retry is still answered from its first call.
    retry = (await post(server, mine, headers=bearer("key-feed-a"))).json()
    assert retry["data"]["storeOdds"] == {**first["data"]["storeOdds"], "replayed": True}
    assert await price_count(server, race["id"]) == before + 2


async def test_a_token_naming_its_sources_cannot_write_another_over_http(
    server: ServerProcess, races: list[dict[str, Any]]
) -> None:
    race = races[0]
    headers = bearer("bounded-http", sources=["bounded-http"])
    before = await price_count(server, race["id"])
    refused = (await post(server, odds(race, "someone-else"), headers=headers)).json()["errors"][0]
    assert refused["extensions"] == {"code": "FORBIDDEN", "field": "source", "source": "someone-else"}
    assert refused["message"] == "the token may not write source 'someone-else'"
    assert await price_count(server, race["id"]) == before
    written = (await post(server, odds(race, "bounded-http"), headers=headers)).json()
    assert written["data"]["storeOdds"]["stored"] == 1
    assert await price_count(server, race["id"]) == before + 1
    await assert_still_serving(server)


async def test_a_token_naming_its_sources_cannot_write_another_over_websocket(
    server: ServerProcess, races: list[dict[str, Any]]
) -> None:
    race = races[0]
    token = bearer("bounded-ws", sources=["bounded-ws"])["Authorization"].removeprefix("Bearer ")
    before = await price_count(server, race["id"])
    client = await GraphQLWs.open(server.ws, {"token": token})
    try:
        await client.subscribe("theirs", STORE_FULL, **odds(race, "someone-else")["variables"])
        refused = await client.receive()
        assert refused["type"] == "next" and refused["id"] == "theirs", refused
        error = refused["payload"]["errors"][0]
        assert error["extensions"] == {"code": "FORBIDDEN", "field": "source", "source": "someone-else"}
        assert (await client.receive())["type"] == "complete"
        assert await price_count(server, race["id"]) == before
        await client.subscribe("own", STORE_FULL, **odds(race, "bounded-ws")["variables"])
        assert (await client.next("own"))["storeOdds"]["stored"] == 1
    finally:
        await client.close()
    assert await price_count(server, race["id"]) == before + 1


MALFORMED = {
    "one segment": "not-a-jwt",
    "bad padding": "eyJhbGciOiJIUzI1NiJ9x.e30.x",
    "two segments": "abc.def",
    "header not JSON": "bm90anNvbg.e30.x",
}


@pytest.mark.parametrize("case", MALFORMED)
async def test_a_malformed_token_is_told_so_in_a_fixed_sentence(
    server: ServerProcess, races: list[dict[str, Any]], case: str
) -> None:
    response = await post(server, odds(races[0], "feed"), headers={"Authorization": f"Bearer {MALFORMED[case]}"})
    error = response.json()["errors"][0]
    assert error["message"] == "the token is malformed" and error["extensions"]["code"] == "UNAUTHENTICATED"
    expired = await post(server, odds(races[0], "feed"), headers=bearer("late", ttl=-3600))
    assert expired.json()["errors"][0]["message"] == "the token has expired: get a fresh one"
    wrong = signed("another-deployments-secret-0123456789", subject="x")
    signature = await post(server, odds(races[0], "feed"), headers={"Authorization": f"Bearer {wrong}"})
    assert signature.json()["errors"][0]["message"] == "the token's signature does not verify"
    await assert_still_serving(server)
