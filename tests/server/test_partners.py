"""Per-partner controls against a live server: the token's client (`client`, else `azp`) selects
the partner's cost limit, request rate, subscription allowance and registered operations, and
/metrics counts each client's requests, errors, cost and active subscriptions."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from conftest import card, seeded_sqlite
from hostile.http_streams import Stream
from live_server import ROOT, GraphQLWs, ServerProcess
from server.auth import create_access_token

SECRET = "test-secret-for-racewire-0123456789abcdef"
OPERATIONS = ROOT / "graphql" / "operations"
PARTNERS = """
[costly]
max_query_cost = 40

[chatty]
requests_per_second = 0.01
request_burst = 3

[streamer]
max_subscriptions = 2
"""
RACES = "{ races(first: 5) { edges { node { id name runners { horse } } } } }"  # cost 86
SMALL = "{ races(first: 1) { edges { node { id } } } }"
ODDS = "subscription($ids: [ID!]!) { oddsUpdated(raceIds: $ids, snapshot: true) { raceId snapshot } }"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    directory = tmp_path_factory.mktemp("partners")
    (directory / "partners.toml").write_text(PARTNERS)
    documents = directory / "documents"
    registered = subprocess.run(
        [
            sys.executable,
            "-m",
            "server.cli",
            "documents",
            "add",
            "--client",
            "bookie",
            "--dir",
            str(documents),
            str(OPERATIONS / "RaceCard.graphql"),
            str(OPERATIONS / "OddsUpdated.graphql"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert registered.returncode == 0, registered.stderr
    assert registered.stdout.count("added: ") == 2
    process = ServerProcess(
        {
            "RACEWIRE_DATABASE_URL": seeded_sqlite(directory, card(runners=3)),
            "RACEWIRE_JWT_SECRET": SECRET,
            "RACEWIRE_PARTNERS_FILE": str(directory / "partners.toml"),
            "RACEWIRE_PARTNER_DOCUMENTS_DIR": str(documents),
        }
    ).start()
    yield process
    process.stop()


def bearer(client: str | None, subject: str = "partner-app") -> dict[str, str]:
    return {"Authorization": f"Bearer {create_access_token(secret=SECRET, subject=subject, scopes=[], client=client)}"}


def azp_bearer(azp: str) -> dict[str, str]:
    now = datetime.now(UTC)
    token = jwt.encode(
        {"sub": "oidc-user", "azp": azp, "iat": now, "exp": now + timedelta(hours=1)}, SECRET, algorithm="HS256"
    )
    return {"Authorization": f"Bearer {token}"}


def post(server: ServerProcess, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = httpx.post(f"{server.http}/graphql", json=body, headers=headers or {}, timeout=10)
    return response.json()


def code(answer: dict[str, Any]) -> str | None:
    errors = answer.get("errors")
    return errors[0]["extensions"]["code"] if errors else None


def metric(server: ServerProcess, name: str, client: str) -> float:
    text = httpx.get(f"{server.http}/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith(f'{name}{{client="{client}"}} '):
            return float(line.split()[-1])
    return 0.0


def race_id(server: ServerProcess) -> str:
    return post(server, {"query": SMALL})["data"]["races"]["edges"][0]["node"]["id"]


def test_a_partners_cost_limit_applies_to_its_tokens_whether_named_by_client_or_azp(server: ServerProcess) -> None:
    for headers in (bearer("costly"), azp_bearer("costly")):
        refused = post(server, {"query": RACES}, headers)
        assert code(refused) == "QUERY_TOO_COMPLEX"
        assert refused["errors"][0]["extensions"]["maximumCost"] == 40
        small = post(server, {"query": SMALL}, headers)
        assert code(small) is None and small["extensions"]["cost"]["maximum"] == 40
    for headers in (bearer("unlisted-app"), bearer(None), {}):
        answer = post(server, {"query": RACES}, headers)
        assert code(answer) is None and answer["extensions"]["cost"]["maximum"] == 5000


def test_a_partners_request_rate_is_shared_by_all_its_tokens(server: ServerProcess) -> None:
    first, second = bearer("chatty", "chatty-web"), bearer("chatty", "chatty-batch")
    answers = [post(server, {"query": SMALL}, headers) for headers in (first, second, first, second)]
    assert [code(a) for a in answers] == [None, None, None, "RATE_LIMITED"]
    assert answers[-1]["errors"][0]["extensions"]["retryAfter"] > 0
    assert code(post(server, {"query": SMALL}, bearer("costly"))) is None  # another client's allowance


async def test_a_partners_subscriptions_are_capped_and_counted(server: ServerProcess) -> None:
    race = race_id(server)
    before = metric(server, "racewire_client_active_subscriptions", "streamer")
    first = await GraphQLWs.open(server.ws, bearer("streamer"))
    second = await GraphQLWs.open(server.ws, bearer("streamer", "streamer-2"))
    try:
        for id in ("1", "2"):
            await first.subscribe(id, ODDS, ids=[race])
            assert (await first.next(id))["oddsUpdated"]["snapshot"] is True
        assert metric(server, "racewire_client_active_subscriptions", "streamer") == before + 2

        await second.subscribe("3", ODDS, ids=[race])  # another connection, the same partner
        refused = await second.receive()
        assert refused["type"] == "error" and refused["payload"][0]["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS"
        over_sse = await Stream.open(server.http, "sse", ODDS, {"ids": [race]}, headers=bearer("streamer"))
        try:
            kind, payload = await over_sse.event()
            assert kind == "next" and payload["errors"][0]["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS"
        finally:
            await over_sse.close()

        await first.send({"id": "1", "type": "complete"})
        await _until(lambda: metric(server, "racewire_client_active_subscriptions", "streamer") == before + 1)
        await first.send({"id": "2", "type": "complete"})
        await _until(lambda: metric(server, "racewire_client_active_subscriptions", "streamer") == before)
        await second.subscribe("4", ODDS, ids=[race])
        assert (await second.next("4"))["oddsUpdated"]["snapshot"] is True
        over_sse = await Stream.open(server.http, "sse", ODDS, {"ids": [race]}, headers=bearer("streamer"))
        try:
            kind, payload = await over_sse.event()
            assert kind == "next" and payload["data"]["oddsUpdated"]["snapshot"] is True
            assert metric(server, "racewire_client_active_subscriptions", "streamer") == before + 2
        finally:
            await over_sse.close()
        await _until(lambda: metric(server, "racewire_client_active_subscriptions", "streamer") == before + 1)
    finally:
        await first.close()
        await second.close()
    await _until(lambda: metric(server, "racewire_client_active_subscriptions", "streamer") == before)


async def _until(check: Any, timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "the condition never held"
        await asyncio.sleep(0.05)


async def test_a_partner_with_a_manifest_runs_only_its_registered_operations(server: ServerProcess) -> None:
    race = race_id(server)
    card_text = (OPERATIONS / "RaceCard.graphql").read_text()
    digest = hashlib.sha256(card_text.encode()).hexdigest()
    bookie = bearer("bookie")

    by_text = post(server, {"query": card_text, "variables": {"raceId": race}}, bookie)
    by_hash = post(
        server,
        {"variables": {"raceId": race}, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}},
        bookie,
    )
    assert code(by_text) is None and by_text["data"]["race"]["id"] == race
    assert by_hash["data"] == by_text["data"]
    assert code(post(server, {"query": SMALL}, bookie)) == "OPERATION_NOT_TRUSTED"
    assert code(post(server, {"query": SMALL}, bearer("costly"))) is None  # no manifest: any operation

    odds_text = (OPERATIONS / "OddsUpdated.graphql").read_text()
    client = await GraphQLWs.open(server.ws, bookie)
    try:
        await client.subscribe("free", ODDS, ids=[race])  # a shareable subscription, not registered
        refused = await client.receive()
        assert refused["type"] == "error" and refused["payload"][0]["extensions"]["code"] == "OPERATION_NOT_TRUSTED"
        odds_hash = hashlib.sha256(odds_text.encode()).hexdigest()
        await client.send(
            {
                "id": "registered",
                "type": "subscribe",
                "payload": {
                    "variables": {"raceIds": [race]},
                    "extensions": {"persistedQuery": {"version": 1, "sha256Hash": odds_hash}},
                },
            }
        )
        event = await client.receive()
        assert event["type"] == "next" and "errors" not in event["payload"], event
    finally:
        await client.close()


def test_metrics_count_each_clients_requests_errors_and_cost(server: ServerProcess) -> None:
    before = {
        name: metric(server, f"racewire_client_{name}_total", "costly") for name in ("requests", "errors", "cost_spent")
    }
    anonymous = metric(server, "racewire_client_requests_total", "none")
    other = metric(server, "racewire_client_requests_total", "other")
    ran = post(server, {"query": SMALL}, bearer("costly"))
    post(server, {"query": RACES}, bearer("costly"))  # refused: no cost spent
    post(server, {"query": SMALL})
    post(server, {"query": SMALL}, bearer("somebody-else"))

    assert metric(server, "racewire_client_requests_total", "costly") == before["requests"] + 2
    assert metric(server, "racewire_client_errors_total", "costly") == before["errors"] + 1
    assert (
        metric(server, "racewire_client_cost_spent_total", "costly")
        == before["cost_spent"] + ran["extensions"]["cost"]["requested"]
    )
    assert metric(server, "racewire_client_requests_total", "none") == anonymous + 1
    assert metric(server, "racewire_client_requests_total", "other") == other + 1
    text = httpx.get(f"{server.http}/metrics", timeout=10).text
    assert 'client="somebody-else"' not in text  # an unlisted client is `other`: as many series as partners


def test_the_server_refuses_to_start_with_a_bad_partners_file(tmp_path: Path) -> None:
    (tmp_path / "partners.toml").write_text("[tipster]\nmax_query_kost = 10\n")
    done = subprocess.run(
        [sys.executable, "-m", "server.cli", "serve", "--port", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "RACEWIRE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/r.db",
            "RACEWIRE_PARTNERS_FILE": str(tmp_path / "partners.toml"),
        },
    )
    assert done.returncode != 0
    assert "max_query_kost" in done.stderr and "unknown settings" in done.stderr


def test_a_manifest_that_cannot_be_trusted_stops_the_server_at_start(tmp_path: Path) -> None:
    documents = tmp_path / "documents"
    documents.mkdir()
    (documents / "tipster.json").write_text(
        '{"format": "apollo-persisted-query-manifest", "version": 1, "operations": '
        '[{"id": "0000", "name": "Card", "type": "query", "body": "query Card { __typename }"}]}'
    )
    done = subprocess.run(
        [sys.executable, "-m", "server.cli", "serve", "--port", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "RACEWIRE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/r.db",
            "RACEWIRE_PARTNER_DOCUMENTS_DIR": str(documents),
        },
    )
    assert done.returncode != 0
    assert "id is not the sha256 of its body" in done.stderr
