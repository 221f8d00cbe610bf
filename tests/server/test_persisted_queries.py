"""Automatic persisted queries over HTTP GET, POST and WebSocket, and trusted-documents mode."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from live_server import GraphQLWs, ServerProcess
from resolvers.errors import BadUserInput
from schema.documents import MAX_CACHED_QUERY_BYTES
from schema.documents import document_id as sha256
from server.persisted import (
    OPERATIONS_DIR,
    OperationNotTrusted,
    PersistedQueries,
    PersistedQueryNotFound,
    _entry_bytes,
    load_trusted,
)

QUERY = "query Hello { __typename }"


def apq(digest: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


def test_the_store_registers_verified_documents_and_forgets_the_oldest() -> None:
    kept = ("{ a: __typename }", "{ b: __typename }")
    store = PersistedQueries(max_bytes=sum(_entry_bytes(document) for document in kept))
    with pytest.raises(PersistedQueryNotFound):
        store.resolve(None, apq(sha256(QUERY)))
    with pytest.raises(BadUserInput, match="does not match"):
        store.resolve(QUERY, apq(sha256("{ other }")))
    for document in (QUERY, "{ a: __typename }", "{ b: __typename }"):
        assert store.resolve(document, apq(sha256(document))) == document
    assert store.resolve(None, apq(sha256("{ b: __typename }"))) == "{ b: __typename }"
    with pytest.raises(PersistedQueryNotFound):
        store.resolve(None, apq(sha256(QUERY)))
    with pytest.raises(BadUserInput):
        store.resolve(None, {"persistedQuery": {"version": 2, "sha256Hash": sha256(QUERY)}})


def test_the_store_stays_within_its_byte_budget_and_keeps_no_large_document() -> None:
    budget = 64 * 1024
    store = PersistedQueries(max_bytes=budget)
    for n in range(300):
        document = f"# {n} {'x' * 1_000}\n{{ __typename }}"
        store.resolve(document, apq(sha256(document)))
        assert store.bytes <= budget
    assert store.resolve(None, apq(sha256(document))) == document
    large = f"# {'x' * MAX_CACHED_QUERY_BYTES}\n{{ __typename }}"
    assert store.resolve(large, apq(sha256(large))) == large  # run, but not kept
    with pytest.raises(PersistedQueryNotFound):
        store.resolve(None, apq(sha256(large)))


def test_trusted_mode_runs_only_the_shipped_operations() -> None:
    trusted = load_trusted()
    store = PersistedQueries(trusted=trusted)
    shipped = (OPERATIONS_DIR / "RaceCard.graphql").read_text()
    assert sha256(shipped) in trusted and len(trusted) == len(list(OPERATIONS_DIR.glob("*.graphql")))
    assert store.resolve(None, apq(sha256(shipped))) == shipped
    assert store.resolve(shipped, None) == shipped
    with pytest.raises(OperationNotTrusted):
        store.resolve(QUERY, None)
    with pytest.raises(OperationNotTrusted):
        store.resolve(QUERY, apq(sha256(QUERY)))
    with pytest.raises(PersistedQueryNotFound):
        store.resolve(None, apq(sha256(QUERY)))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('apq')}/racewire.db"
    process = ServerProcess({"RACEWIRE_DATABASE_URL": url}).start()
    yield process
    process.stop()


def code(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["extensions"]["code"])


async def test_apq_over_http_post_and_get(server: ServerProcess) -> None:
    digest = sha256(QUERY)
    async with httpx.AsyncClient(base_url=server.http) as client:
        miss = (await client.post("/graphql", json={"extensions": apq(digest)})).json()
        get_miss = (await client.get("/graphql", params={"extensions": json.dumps(apq(digest))})).json()
        wrong = (await client.post("/graphql", json={"query": "{ __typename }", "extensions": apq(digest)})).json()
        registered = (await client.post("/graphql", json={"query": QUERY, "extensions": apq(digest)})).json()
        post_hit = (await client.post("/graphql", json={"extensions": apq(digest)})).json()
        get_hit = (await client.get("/graphql", params={"extensions": json.dumps(apq(digest))})).json()

    assert miss["errors"][0]["message"] == "PersistedQueryNotFound" and code(miss) == "PERSISTED_QUERY_NOT_FOUND"
    assert code(get_miss) == "PERSISTED_QUERY_NOT_FOUND"
    assert code(wrong) == "BAD_USER_INPUT"
    assert registered["data"] == post_hit["data"] == get_hit["data"] == {"__typename": "Query"}


async def test_apq_over_websocket_subscribe(server: ServerProcess) -> None:
    query = "query Ws { ws: __typename }"
    client = await GraphQLWs.open(server.ws)
    await client.send({"id": "1", "type": "subscribe", "payload": {"extensions": apq(sha256(query))}})
    miss = await client.receive()
    await client.send({"id": "2", "type": "subscribe", "payload": {"query": query, "extensions": apq(sha256(query))}})
    registered = await client.next("2")
    assert (await client.receive())["type"] == "complete"
    await client.send({"id": "3", "type": "subscribe", "payload": {"extensions": apq(sha256(query))}})
    hit = await client.next("3")
    await client.close()

    assert miss["id"] == "1" and miss["type"] == "error"
    assert miss["payload"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert registered == hit == {"ws": "Query"}


@pytest.fixture(scope="module")
def trusted_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('trusted')}/racewire.db"
    process = ServerProcess({"RACEWIRE_DATABASE_URL": url, "RACEWIRE_TRUSTED_DOCUMENTS": "true"}).start()
    yield process
    process.stop()


async def test_trusted_documents_mode_over_http_and_websocket(trusted_server: ServerProcess) -> None:
    shipped = (OPERATIONS_DIR / "TodaysRaces.graphql").read_text()
    async with httpx.AsyncClient(base_url=trusted_server.http) as client:
        trusted = (
            await client.post(
                "/graphql", json={"extensions": apq(sha256(shipped)), "variables": {"date": "2026-06-01"}}
            )
        ).json()
        ad_hoc = (await client.post("/graphql", json={"query": QUERY})).json()
        unknown = (await client.post("/graphql", json={"extensions": apq(sha256(QUERY))})).json()
    ws = await GraphQLWs.open(trusted_server.ws)
    await ws.subscribe("1", QUERY)
    refused = await ws.receive()
    await ws.close()

    assert trusted["data"]["races"]["edges"] == [], trusted
    assert code(ad_hoc) == "OPERATION_NOT_TRUSTED"
    assert code(unknown) == "PERSISTED_QUERY_NOT_FOUND"
    assert refused["type"] == "error" and refused["payload"][0]["extensions"]["code"] == "OPERATION_NOT_TRUSTED"
