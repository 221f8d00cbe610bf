"""HTTP streams (graphql-sse and Apollo's multipart subscriptions) under the WebSocket rules: the
token's expiry ends them, they count in the per-address connection cap beside WebSockets, a
foreign origin cannot open one, their one operation keeps every per-operation limit, and SIGTERM
ends them at once. Each refusal beside the well-behaved request it must not refuse."""

from __future__ import annotations

import asyncio
import hashlib
import signal
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from conftest import card, seeded_sqlite
from hostile_server import (
    ENV,
    FOREIGN_ORIGIN,
    SECRET,
    STORE,
    TRUSTED_ORIGIN,
    assert_still_serving,
    close_code,
    raw_ws,
    start_server,
)
from http_streams import Stream, error_codes
from jwt_forge import signed
from live_server import ROOT, ServerProcess

CAP = 4
STREAM_ENV = {**ENV, "RACEWIRE_MAX_CONNECTIONS_PER_CLIENT": str(CAP), "RACEWIRE_JWT_LEEWAY_SECONDS": "0"}
KINDS = ["sse", "multipart"]
NOTIFICATIONS = "subscription { notifications { seq notification { alertId } } }"
STATUS = "subscription { raceStatus { seq } }"  # nothing happens to the races: it stays open, quiet
ODDS = "subscription($ids: [ID!]!) { oddsUpdated(raceIds: $ids) { seq } }"
ALERT = "mutation($input: AlertInput!) { createAlert(input: $input) { id } }"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = start_server(tmp_path_factory.mktemp("hostile-sse"), **STREAM_ENV)
    yield process
    process.stop()


@pytest.fixture
async def streams(server: ServerProcess) -> AsyncIterator[list[Stream]]:
    """Streams a test opens, closed after it, and the server's count of them back to none."""
    opened: list[Stream] = []
    yield opened
    for stream in opened:
        await stream.close()
    await ready_counts(server, streams=0)


def token(subject: str, scope: str = "", ttl: float = 600) -> dict[str, str]:
    return {"Authorization": f"Bearer {signed(SECRET, subject=subject, scope=scope or None, ttl=ttl)}"}


async def graphql(
    server: ServerProcess,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.http, timeout=30) as client:
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables or {}, **extra}, headers=headers
        )
    return dict(response.json())


async def ready_counts(server: ServerProcess, timeout: float = 10, **expected: int) -> None:
    """Waits for /ready to report the expected counts (the server notices a closed stream at once,
    but in its own time)."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=server.http) as client:
        while True:
            ready = (await client.get("/ready")).json()
            if all(ready[name] == value for name, value in expected.items()):
                return
            assert time.monotonic() < deadline, f"/ready never reported {expected}: {ready}"
            await asyncio.sleep(0.02)


async def open_stream(
    server: ServerProcess,
    streams: list[Stream],
    kind: str,
    query: str | None = STATUS,
    variables: dict[str, Any] | None = None,
    **options: Any,
) -> Stream:
    stream = await Stream.open(server.http, kind, query, variables, **options)
    streams.append(stream)
    return stream


def store(race: dict[str, Any], runner_id: str, decimal: float, source: str) -> dict[str, Any]:
    return {
        "input": {
            "raceId": race["id"],
            "source": source,
            "observedAt": datetime.now(UTC).isoformat(),
            "prices": [{"runnerId": runner_id, "decimal": decimal}],
        }
    }


@pytest.mark.parametrize("kind", KINDS)
async def test_an_expired_token_ends_the_notifications_stream_with_unauthenticated(
    server: ServerProcess, races: list[dict[str, Any]], streams: list[Stream], kind: str
) -> None:
    user, race = f"sse-expiry-{kind}", races[0]
    runner = race["runners"][KINDS.index(kind)]
    lasting = await open_stream(server, streams, kind, NOTIFICATIONS, headers=token(user))
    expiring = await open_stream(server, streams, kind, NOTIFICATIONS, headers=token(user, ttl=3))
    assert expiring.response.status_code == 200 and lasting.response.status_code == 200

    kind_of_end, payload = await expiring.event(timeout=30)
    assert kind_of_end == "next" and error_codes(payload) == ["UNAUTHENTICATED"], payload
    assert "token expired" in payload["errors"][0]["message"]
    assert await expiring.event() == ("complete", None)

    # The stream of the token still valid goes on: a notification fired now reaches it.
    alert = await graphql(
        server,
        ALERT,
        {"input": {"kind": "PRICE_LEVEL", "runnerId": runner, "direction": "AT_OR_ABOVE", "level": 4.0}},
        headers=token(user),
    )
    stored = await graphql(
        server, STORE, store(race, runner, 5.0, f"feed-{kind}"), headers=token(f"feed-{kind}", "odds:write")
    )
    assert stored["data"]["storeOdds"]["seq"], stored
    event, delivered = await lasting.event()
    assert (
        event == "next"
        and delivered["data"]["notifications"]["notification"]["alertId"] == alert["data"]["createAlert"]["id"]
    )


async def test_streams_count_in_the_per_address_cap_shared_with_websockets(
    server: ServerProcess, streams: list[Stream]
) -> None:
    for n in range(CAP):
        stream = await open_stream(server, streams, KINDS[n % 2])
        assert stream.response.status_code == 200
    await ready_counts(server, streams=CAP)

    refused = await Stream.open(server.http, "sse", STATUS)
    body = await refused.response.aread()
    await refused.close()
    assert refused.response.status_code == 429 and refused.response.headers["content-type"] == "application/json"
    assert error_codes(httpx.Response(429, content=body).json()) == ["RATE_LIMITED"]
    refused_multipart = await Stream.open(server.http, "multipart", STATUS)
    assert refused_multipart.response.status_code == 429
    await refused_multipart.close()
    assert await close_code(await raw_ws(server)) == 4429  # WebSockets count in the same cap

    await streams.pop(0).close()
    await ready_counts(server, streams=CAP - 1)
    accepted = await open_stream(server, streams, "sse")
    assert accepted.response.status_code == 200
    assert accepted.response.headers["content-type"] == "text/event-stream"


async def test_ending_every_stream_frees_the_address_for_websockets(
    server: ServerProcess, streams: list[Stream]
) -> None:
    for kind in KINDS:
        await open_stream(server, streams, kind)
    await ready_counts(server, streams=2)
    for stream in streams:
        await stream.close()
    streams.clear()
    await ready_counts(server, streams=0)
    await assert_still_serving(server)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_foreign_origin_cannot_open_a_stream(server: ServerProcess, streams: list[Stream], kind: str) -> None:
    refused = await Stream.open(server.http, kind, STATUS, headers={"origin": FOREIGN_ORIGIN})
    body = await refused.response.aread()
    await refused.close()
    assert refused.response.status_code == 403
    assert error_codes(httpx.Response(403, content=body).json()) == ["FORBIDDEN"]

    for allowed in ({"origin": TRUSTED_ORIGIN}, {"origin": server.http}, {}):  # listed, same origin, no browser
        stream = await open_stream(server, streams, kind, headers=allowed)
        assert stream.response.status_code == 200, allowed


async def test_an_event_source_from_a_foreign_page_is_refused(server: ServerProcess) -> None:
    """EventSource sends a GET with `Accept: text/event-stream` and no preflight: a foreign page
    could make its every visitor hold streams open. Its Origin says where it comes from."""
    async with httpx.AsyncClient(base_url=server.http) as client:
        params = {"query": STATUS}
        foreign = await client.get(
            "/graphql", params=params, headers={"accept": "text/event-stream", "origin": FOREIGN_ORIGIN}
        )
        async with client.stream(
            "GET", "/graphql", params=params, headers={"accept": "text/event-stream", "origin": TRUSTED_ORIGIN}
        ) as listed:
            listed_status = listed.status_code
    assert foreign.status_code == 403 and error_codes(foreign.json()) == ["FORBIDDEN"]
    assert listed_status == 200
    await ready_counts(server, streams=0)


@pytest.mark.parametrize("kind", KINDS)
async def test_too_many_race_ids_on_a_stream_are_bad_input(
    server: ServerProcess, races: list[dict[str, Any]], streams: list[Stream], kind: str
) -> None:
    refused = await open_stream(server, streams, kind, ODDS, {"ids": [str(n) for n in range(1, 10_001)]})
    event, payload = await refused.event()
    assert event == "next" and error_codes(payload) == ["BAD_USER_INPUT"], payload
    assert await refused.event() == ("complete", None)

    race = races[1]
    following = await open_stream(server, streams, kind, ODDS, {"ids": [race["id"]]})
    await ready_counts(server, subscriptions=1)
    stored = await graphql(
        server,
        STORE,
        store(race, race["runners"][0], 3.0 + KINDS.index(kind), f"odds-{kind}"),
        headers=token(f"odds-{kind}", "odds:write"),
    )
    event, update = await following.event()
    assert event == "next" and update["data"]["oddsUpdated"]["seq"] == stored["data"]["storeOdds"]["seq"]


async def test_mutations_over_a_stream_take_from_the_same_allowance_per_token(
    server: ServerProcess, races: list[dict[str, Any]], streams: list[Stream]
) -> None:
    race = races[1]
    writer = token("sse-hasty", "odds:write")
    for n in range(int(ENV["RACEWIRE_MUTATION_BURST"])):  # the whole allowance, over plain HTTP
        answer = await graphql(server, STORE, store(race, race["runners"][1], 2.0 + n / 10, "hasty"), headers=writer)
        assert answer["data"]["storeOdds"]["seq"], answer
    refused = await open_stream(
        server, streams, "sse", STORE, store(race, race["runners"][1], 4.0, "hasty"), headers=writer
    )
    event, payload = await refused.event()
    assert event == "next" and error_codes(payload) == ["RATE_LIMITED"], payload

    patient = await open_stream(
        server,
        streams,
        "sse",
        STORE,
        store(race, race["runners"][1], 4.0, "patient"),
        headers=token("sse-patient", "odds:write"),
    )
    event, payload = await patient.event()
    assert event == "next" and payload["data"]["storeOdds"]["seq"], payload


@pytest.mark.parametrize("kind", KINDS)
async def test_a_stream_resolves_persisted_queries_as_every_transport_does(
    server: ServerProcess, streams: list[Stream], kind: str
) -> None:
    query = f"subscription Persisted{kind} {{ raceStatus {{ seq }} }}"
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(query.encode()).hexdigest()}}
    unknown = await open_stream(server, streams, kind, None, extensions=persisted)
    event, payload = await unknown.event()
    assert event == "next" and error_codes(payload) == ["PERSISTED_QUERY_NOT_FOUND"], payload

    await open_stream(server, streams, kind, query, extensions=persisted)  # sent with its hash: registered
    by_hash = await open_stream(server, streams, kind, None, extensions=persisted)
    assert by_hash.response.status_code == 200
    await ready_counts(server, subscriptions=2)  # both run the registered document


@pytest.mark.parametrize("kind", KINDS)
async def test_query_limits_hold_on_a_stream(server: ServerProcess, streams: list[Stream], kind: str) -> None:
    deep = "subscription { raceStatus { seq " + "".join(f"r{n}: __typename " for n in range(40)) + "} }"
    refused = await open_stream(server, streams, kind, deep)
    event, payload = await refused.event()
    assert event == "next" and error_codes(payload) == ["TOO_MANY_ALIASES"], payload
    assert await refused.event() == ("complete", None)
    await assert_still_serving(server)


async def test_sigterm_ends_every_stream_at_once(tmp_path_factory: pytest.TempPathFactory) -> None:
    # A grace longer than the test waits: a stream that ended by being cut off at its end would fail it.
    url = seeded_sqlite(tmp_path_factory.mktemp("hostile-sse-stop"), card(races=1, runners=2))
    process = ServerProcess({**STREAM_ENV, "RACEWIRE_DATABASE_URL": url, "RACEWIRE_SHUTDOWN_GRACE_SECONDS": "120"})
    process.start()
    opened = [await Stream.open(process.http, kind, STATUS) for kind in KINDS]
    try:
        await ready_counts(process, streams=2)
        process.process.terminate()
        for stream in opened:
            event, payload = await stream.event(timeout=30)
            assert event == "next" and error_codes(payload) == ["SERVICE_UNAVAILABLE"], payload
            assert await stream.event(timeout=30) == ("end", None)  # cut, not complete: clients reconnect
        assert await asyncio.to_thread(process.process.wait, 30) in (0, -signal.SIGTERM)  # uvicorn re-raises it
        assert any("Application shutdown complete" in line for line in process.log)
    finally:
        for stream in opened:
            await stream.close()
        process.stop()


@pytest.mark.parametrize("kind", KINDS)
async def test_trusted_documents_hold_on_a_stream(tmp_path_factory: pytest.TempPathFactory, kind: str) -> None:
    url = seeded_sqlite(tmp_path_factory.mktemp(f"hostile-sse-trusted-{kind}"), card(races=1, runners=2))
    process = ServerProcess({**STREAM_ENV, "RACEWIRE_DATABASE_URL": url, "RACEWIRE_TRUSTED_DOCUMENTS": "true"}).start()
    opened: list[Stream] = []
    try:
        untrusted = await open_stream(process, opened, kind, STATUS)
        event, payload = await untrusted.event()
        assert event == "next" and error_codes(payload) == ["OPERATION_NOT_TRUSTED"], payload

        trusted = (ROOT / "graphql" / "operations" / "RaceStatus.graphql").read_text()
        following = await open_stream(process, opened, kind, trusted)
        assert following.response.status_code == 200
        await ready_counts(process, subscriptions=1)
    finally:
        for stream in opened:
            await stream.close()
        process.stop()
