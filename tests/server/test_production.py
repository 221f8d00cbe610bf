"""RACEWIRE_PRODUCTION=true: no introspection, no GraphiQL, no field suggestions, and an
unreachable database retryable for the client and a WARNING without a traceback for the server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from live_server import ServerProcess

UNREACHABLE = "postgresql+asyncpg://nobody@127.0.0.1:1/none"
SECRET = "production-test-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    process = ServerProcess(
        {
            "RACEWIRE_PRODUCTION": "true",
            "RACEWIRE_DATABASE_URL": UNREACHABLE,
            "RACEWIRE_MIGRATE_ON_START": "false",
            "RACEWIRE_JWT_SECRET": SECRET,
        }
    ).start()
    yield process
    process.stop()


async def query(server: ServerProcess, text: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.http) as client:
        body: dict[str, Any] = (await client.post("/graphql", json={"query": text})).json()
    return body


async def test_introspection_graphiql_and_suggestions_are_off(server: ServerProcess) -> None:
    introspection = await query(server, "{ __schema { types { name } } }")
    suggestion = await query(server, "{ racez }")
    async with httpx.AsyncClient(base_url=server.http) as client:
        graphiql = await client.get("/graphql", headers={"Accept": "text/html"})

    assert introspection["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "introspection" in introspection["errors"][0]["message"]
    assert suggestion["errors"][0]["message"] == "Cannot query field 'racez' on type 'Query'."
    assert graphiql.status_code == 404


async def test_an_unreachable_database_is_retryable_and_logged_without_a_traceback(server: ServerProcess) -> None:
    # The masking of a real fault, with its errorId and traceback: tests/hostile/test_hostile_logs.py.
    body = await query(server, '{ race(id: "1") { name } }')
    error = body["errors"][0]
    assert error["extensions"] == {"code": "SERVICE_UNAVAILABLE", "retryAfter": 2}
    assert "127.0.0.1" not in str(body)

    for _ in range(200):  # the log line is written by the server process; wait for it
        logged = "".join(server.log)
        if "database unavailable" in logged:
            break
        await asyncio.sleep(0.025)
    start = logged.index("database unavailable")
    assert "WARNING" in logged[logged.rindex("\n", 0, start) : start] and "Traceback" not in logged


def test_production_defaults_can_be_overridden() -> None:
    from server.settings import Settings

    production = Settings.from_env({"RACEWIRE_PRODUCTION": "true"})
    assert not production.graphiql_enabled and not production.introspection_enabled
    explicit = Settings.from_env({"RACEWIRE_PRODUCTION": "true", "RACEWIRE_GRAPHIQL": "true"})
    assert explicit.graphiql_enabled and not explicit.introspection_enabled
    assert Settings().graphiql_enabled and Settings().introspection_enabled


def test_production_refuses_to_start_without_its_own_way_to_check_tokens() -> None:
    from server.settings import DEV_JWT_SECRET, InvalidSettings, Settings

    def problem(**env: str) -> str:
        with pytest.raises(InvalidSettings) as refused:
            Settings.from_env({"RACEWIRE_PRODUCTION": "true", **env}).check()
        return str(refused.value)

    assert "no way to check tokens" in problem()
    assert "no way to check tokens" in problem(RACEWIRE_JWT_SECRET=DEV_JWT_SECRET)
    assert "no way to check tokens" in problem(RACEWIRE_JWT_SECRET="")
    # A key for RS256 tokens, but only HS256 allowed: still no way.
    assert "no way to check tokens" in problem(RACEWIRE_JWT_PUBLIC_KEY="-----BEGIN PUBLIC KEY-----")
    assert "too weak" in problem(RACEWIRE_JWT_SECRET="s3cret")
    assert "too weak" in problem(RACEWIRE_JWT_SECRET="ab" * 32)
    # The positive controls: a strong secret, or a key with an asymmetric algorithm and the secret
    # left at the default (which then checks nothing).
    Settings.from_env({"RACEWIRE_PRODUCTION": "true", "RACEWIRE_JWT_SECRET": SECRET}).check()
    keyed = Settings.from_env(
        {
            "RACEWIRE_PRODUCTION": "true",
            "RACEWIRE_JWT_ALGORITHMS": "HS256,RS256",
            "RACEWIRE_JWT_PUBLIC_KEY": "-----BEGIN PUBLIC KEY-----",
        }
    )
    keyed.check()
    assert keyed.own_jwt_secret == ""
    Settings().check()  # development: the built-in secret is fine
    assert Settings().own_jwt_secret == DEV_JWT_SECRET


def test_token_sources_are_required_in_production_unless_turned_off() -> None:
    from server.settings import Settings

    assert Settings(production=True).token_sources_required
    assert not Settings().token_sources_required
    assert not Settings.from_env(
        {"RACEWIRE_PRODUCTION": "true", "RACEWIRE_REQUIRE_TOKEN_SOURCES": "false"}
    ).token_sources_required
    assert Settings.from_env({"RACEWIRE_REQUIRE_TOKEN_SOURCES": "true"}).token_sources_required
