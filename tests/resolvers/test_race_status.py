"""The race status state machine, scratching, and the status stream."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from conftest import Api
from resolvers.race_status import allowed_next
from storage.models import RaceStatus

SET = """mutation($id: ID!, $s: RaceStatus!, $result: [ID!]) {
  setRaceStatus(raceId: $id, status: $s, result: $result) { status resultRunnerIds }
}"""
LEGAL_PATH = ["BETTING_OPEN", "SUSPENDED", "BETTING_OPEN", "OFF", "FINISHED"]


async def walk(api: Api, race: dict[str, Any], statuses: list[str]) -> None:
    for status in statuses:
        await api.data(SET, id=str(race["id"]), s=status)


async def test_a_race_walks_the_legal_path_to_its_result(api: Api, race: dict[str, Any]) -> None:
    await walk(api, race, LEGAL_PATH)
    order = [str(r) for r in race["runners"][:3]]
    done = await api.data(SET, id=str(race["id"]), s="RESULTED", result=order)

    assert done["setRaceStatus"] == {"status": "RESULTED", "resultRunnerIds": order}


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        ([], "OFF"),
        ([], "RESULTED"),
        (["BETTING_OPEN"], "SCHEDULED"),
        (["BETTING_OPEN", "OFF"], "BETTING_OPEN"),
        (LEGAL_PATH, "ABANDONED"),
        (["ABANDONED"], "BETTING_OPEN"),
    ],
)
async def test_illegal_transitions_are_rejected_and_change_nothing(
    api: Api, race: dict[str, Any], path: list[str], illegal: str
) -> None:
    await walk(api, race, path)
    error = await api.error(SET, id=str(race["id"]), s=illegal)
    status = (await api.data("query($id: ID!) { race(id: $id) { status } }", id=str(race["id"])))["race"]["status"]

    assert error["code"] == "BAD_USER_INPUT" and error["requested"] == illegal
    assert status == (path[-1] if path else "SCHEDULED")


def test_every_state_before_finished_may_be_abandoned() -> None:
    before_finished = [RaceStatus.SCHEDULED, RaceStatus.BETTING_OPEN, RaceStatus.SUSPENDED, RaceStatus.OFF]
    assert all(RaceStatus.ABANDONED in allowed_next(s) for s in before_finished)
    assert not any(RaceStatus.ABANDONED in allowed_next(s) for s in (RaceStatus.FINISHED, RaceStatus.RESULTED))


async def test_a_result_must_name_runners_of_the_race(api: Api, race: dict[str, Any]) -> None:
    await walk(api, race, LEGAL_PATH)
    missing = await api.error(SET, id=str(race["id"]), s="RESULTED")
    foreign = await api.error(SET, id=str(race["id"]), s="RESULTED", result=["999999"])

    assert missing["code"] == foreign["code"] == "BAD_USER_INPUT"


async def test_status_subscribers_get_changes_for_their_races_and_can_resume(api: Api, race: dict[str, Any]) -> None:
    query = """subscription($ids: [ID!], $after: String) {
      raceStatus(raceIds: $ids, after: $after) { raceId status previousStatus seq cursor }
    }"""
    stream = await api.subscribe(query, ids=[str(race["id"])])
    pending = asyncio.ensure_future(stream.__anext__())
    while not api.hub.listener_count:
        await asyncio.sleep(0.01)
    await walk(api, race, ["BETTING_OPEN", "SUSPENDED"])
    first = (await asyncio.wait_for(pending, 5)).data["raceStatus"]
    await stream.aclose()
    await walk(api, race, ["BETTING_OPEN"])

    resumed = await api.subscribe(query, ids=None, after=first["cursor"])
    replay = [(await asyncio.wait_for(resumed.__anext__(), 5)).data["raceStatus"] for _ in range(2)]
    assert first == {**first, "status": "BETTING_OPEN", "previousStatus": "SCHEDULED", "seq": 1}
    assert [(e["status"], e["seq"]) for e in replay] == [("SUSPENDED", 2), ("BETTING_OPEN", 3)]
    await resumed.aclose()


async def test_a_scratched_runner_leaves_the_market_and_takes_no_prices(api: Api, race: dict[str, Any]) -> None:
    runner = str(race["runners"][0])
    store = """mutation($input: StoreOddsInput!) { storeOdds(input: $input) { seq } }"""
    body = {
        "raceId": str(race["id"]),
        "source": "book",
        "observedAt": "2020-01-01T12:00:00+00:00",
        "prices": [{"runnerId": runner, "decimal": 3.0}],
    }
    await api.data(store, input=body)
    scratched = await api.data("mutation($r: ID!) { scratchRunner(runnerId: $r) { scratched } }", r=runner)
    market = await api.data(
        "query($id: ID!) { race(id: $id) { market { bestPrices { runnerId } } } }", id=str(race["id"])
    )
    again = await api.error(store, input=body)

    assert scratched["scratchRunner"]["scratched"] is True
    assert market["race"]["market"]["bestPrices"] == []
    assert again["code"] == "BAD_USER_INPUT" and again["runnerId"] == runner
