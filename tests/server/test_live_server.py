"""End to end through a real uvicorn process: HTTP writes, graphql-transport-ws reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from live_server import ODDS, STORE, GraphQLWs, ServerProcess, store, token, wait_subscribed
from server.auth import create_access_token


@pytest.fixture
def race(served_race: dict[str, Any]) -> dict[str, Any]:
    """The race the live server serves (tests/fixtures/live.py), not the suite's race in the test database."""
    return served_race


async def test_a_stored_price_reaches_a_websocket_subscriber(server: ServerProcess, race: dict[str, Any]) -> None:
    client = await GraphQLWs.open(server.ws)
    await client.subscribe("1", ODDS, ids=[race["id"]])
    await wait_subscribed(server, 1)
    response = await store(server, race, 2.5)
    update = (await client.next("1"))["oddsUpdated"]

    assert response.json()["data"]["storeOdds"]["seq"] == 1
    assert update["seq"] == 1 and update["raceId"] == race["id"]
    assert update["prices"] == [{"runnerId": race["runners"][0], "decimal": 2.5, "fractional": "6/4"}]
    await client.close()


async def test_a_disconnected_subscriber_resumes_with_exactly_what_it_missed(
    server: ServerProcess, race: dict[str, Any]
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=5)
    client = await GraphQLWs.open(server.ws)
    await client.subscribe("a", ODDS, ids=[race["id"]])
    await wait_subscribed(server, 1)
    await store(server, race, 3.0, at=start)
    last_seen = (await client.next("a"))["oddsUpdated"]
    await client.close()

    for n in range(1, 5):
        await store(server, race, 3.0 + n / 10, at=start + timedelta(seconds=n))
    resumed = await GraphQLWs.open(server.ws)
    await resumed.subscribe("b", ODDS, ids=[race["id"]], after=last_seen["cursor"])
    missed = [(await resumed.next("b"))["oddsUpdated"] for _ in range(4)]
    await store(server, race, 9.0, at=start + timedelta(seconds=10))
    live = (await resumed.next("b"))["oddsUpdated"]

    assert [m["seq"] for m in missed] == [2, 3, 4, 5]
    assert [m["prices"][0]["decimal"] for m in missed] == [3.1, 3.2, 3.3, 3.4]
    assert live["seq"] == 6
    await resumed.close()


async def test_a_feed_pipelines_writes_over_one_websocket_and_each_gets_its_own_answer(
    server: ServerProcess, race: dict[str, Any]
) -> None:
    reader = await GraphQLWs.open(server.ws)
    await reader.subscribe("odds", ODDS, ids=[race["id"]])
    await wait_subscribed(server, 1)
    feed = await GraphQLWs.open(server.ws, {"token": token("odds:write")})
    start = datetime.now(UTC) - timedelta(minutes=5)
    for n in range(40):  # sent at once: the server stores waiting writes together
        runner = "999999" if n == 17 else race["runners"][n % 4]
        await feed.subscribe(
            f"w{n}",
            STORE,
            input={
                "raceId": race["id"],
                "source": f"feed{n % 3}",
                "observedAt": (start + timedelta(seconds=n)).isoformat(),
                "prices": [{"runnerId": runner, "decimal": 2 + n / 10}],
            },
        )
    answers: dict[str, dict[str, Any]] = {}
    while len(answers) < 40:
        message = await feed.receive()
        if message["type"] == "next":
            answers[message["id"]] = message["payload"]
        else:
            assert message["type"] == "complete" and message["id"] in answers, message
    updates = [(await reader.next("odds"))["oddsUpdated"] for _ in range(39)]

    assert answers["w17"]["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    seqs = {id_: a["data"]["storeOdds"]["seq"] for id_, a in answers.items() if id_ != "w17"}
    assert sorted(seqs.values()) == list(range(1, 40))
    assert [u["seq"] for u in updates] == list(range(1, 40))
    by_seq = {seq: int(id_[1:]) for id_, seq in seqs.items()}
    assert all(u["prices"][0]["decimal"] == 2 + by_seq[u["seq"]] / 10 for u in updates)
    await feed.close()
    await reader.close()


async def test_writes_need_a_valid_token(server: ServerProcess, race: dict[str, Any]) -> None:
    forged = create_access_token(secret="another-secret-entirely-0123456789", subject="x", scopes=["odds:write"])
    for bearer, code in ((forged, "UNAUTHENTICATED"), (token("news:write"), "FORBIDDEN")):
        body = (await store(server, race, 2.0, bearer=bearer)).json()
        assert body["data"] is None and body["errors"][0]["extensions"]["code"] == code
    async with httpx.AsyncClient(base_url=server.http) as client:
        anonymous = await client.post(
            "/graphql",
            json={
                "query": STORE,
                "variables": {
                    "input": {"raceId": race["id"], "source": "x", "observedAt": "2026-01-01T00:00:00Z", "prices": []}
                },
            },
        )
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_an_invalid_websocket_token_is_refused_with_4403(server: ServerProcess) -> None:
    with pytest.raises(ConnectionClosed) as closed:
        client = await GraphQLWs.open(server.ws, {"Authorization": "Bearer not-a-jwt"})
        await client.receive()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


async def test_health_and_readiness(server: ServerProcess) -> None:
    client = await GraphQLWs.open(server.ws)
    async with httpx.AsyncClient(base_url=server.http) as http:
        health = await http.get("/health")
        ready = await http.get("/ready")
    await client.close()

    assert health.json() == {"status": "ok"}
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "broadcaster": "ok"}
    assert ready.json()["connections"] == 1
