"""Hostile writes: impossible prices and runners are refused with BAD_USER_INPUT and store nothing;
a token that writes too fast is told to wait."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from hostile_server import MUTATIONS_PER_SUBJECT, STORE, assert_still_serving, bearer, error_code, post, price_count
from live_server import ServerProcess

PRICES = {"zero": 0, "minus one": -1, "1e308": 1e308, "one": 1.0, "1001": 1001}


@pytest.fixture(scope="module")
def server(hostile_server: ServerProcess) -> ServerProcess:
    return hostile_server


def write(race: dict[str, Any], runner_id: str, decimal: Any) -> dict[str, Any]:
    return {
        "query": STORE,
        "variables": {
            "input": {
                "raceId": race["id"],
                "source": "feed",
                "observedAt": datetime.now(UTC).isoformat(),
                "prices": [{"runnerId": runner_id, "decimal": decimal}],
            }
        },
    }


@pytest.mark.parametrize("case", PRICES)
async def test_an_impossible_price_stores_nothing(
    server: ServerProcess, races: list[dict[str, Any]], case: str
) -> None:
    race = races[0]
    before = await price_count(server, race["id"])
    response = await post(server, write(race, race["runners"][0], PRICES[case]), headers=bearer(f"price-{case}"))
    assert error_code(response) == "BAD_USER_INPUT"
    assert await price_count(server, race["id"]) == before
    await assert_still_serving(server)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
async def test_non_finite_json_numbers_store_nothing(
    server: ServerProcess, races: list[dict[str, Any]], literal: str
) -> None:
    race = races[0]
    before = await price_count(server, race["id"])
    body = json.dumps(write(race, race["runners"][0], 2.0)).replace("2.0", literal)
    response = await post(server, content=body, headers=bearer(f"nonfinite-{literal}"))
    # NaN and Infinity are not JSON (RFC 8259): the body is refused before GraphQL sees it.
    assert response.status_code == 400 and "Unable to parse request body as JSON" in response.text
    assert await price_count(server, race["id"]) == before
    await assert_still_serving(server)


async def test_unknown_runners_and_runners_of_another_race_store_nothing(
    server: ServerProcess, races: list[dict[str, Any]]
) -> None:
    race, other = races
    before = await price_count(server, race["id"])
    for runner_id in ("999999", other["runners"][0], "not-an-id", "-1"):
        response = await post(server, write(race, runner_id, 2.5), headers=bearer("runners"))
        assert error_code(response) == "BAD_USER_INPUT", runner_id
    assert await price_count(server, race["id"]) == before
    await assert_still_serving(server)


async def test_too_many_writes_for_one_token_are_rate_limited(
    server: ServerProcess, races: list[dict[str, Any]]
) -> None:
    race = races[1]
    answers = [
        await post(server, write(race, race["runners"][1], 2.0 + n / 10), headers=bearer("hasty"))
        for n in range(MUTATIONS_PER_SUBJECT + 1)
    ]
    stored = await price_count(server, race["id"])
    refused = answers[-1].json()["errors"][0]

    assert all(a.json()["data"]["storeOdds"]["seq"] for a in answers[:-1])
    assert refused["extensions"]["code"] == "RATE_LIMITED" and refused["extensions"]["retryAfter"] > 0
    other = await post(server, write(race, race["runners"][1], 9.0), headers=bearer("patient"))
    assert other.json()["data"]["storeOdds"]["seq"]  # the limit is per token subject
    assert await price_count(server, race["id"]) == stored + 1
    await assert_still_serving(server)
