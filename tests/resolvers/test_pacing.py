"""Per-subscription pace (`conflateMs`): one update per race per window, covering seqFrom..seq
with the latest price of each runner, and a cursor that resumes exactly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import Api
from events.envelope import Envelope
from events.payloads import Conflated, OddsChanged, PriceChange
from resolvers.live import conflate_odds
from resolvers.pacing import Paced

PACED = """
subscription($ids: [ID!]!, $after: String, $ms: Int) {
  oddsUpdated(raceIds: $ids, after: $after, conflateMs: $ms) {
    raceId seq seqFrom cursor conflated source prices { runnerId source decimal }
  }
}
"""
STORE = "mutation($input: StoreOddsInput!) { storeOdds(input: $input) { seq cursor } }"


def odds(seq: int, runner: int, decimal: float, stream: str = "odds:1") -> Envelope:
    return Envelope(
        stream=stream,
        seq=seq,
        kind="odds",
        created_at="2026-01-01T00:00:00+00:00",
        payload=OddsChanged(1, "betfair", datetime(2026, 1, 1, tzinfo=UTC), (PriceChange(runner, decimal),)),
    )


class Script:
    """Events handed over as soon as asked for, then nothing until released: a feed burst."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Envelope] = asyncio.Queue()
        self.positions: dict[str, int] = {"odds:1": 0, "odds:2": 0}

    async def __aiter__(self) -> AsyncIterator[Envelope]:
        while True:
            event = await self.queue.get()
            self.positions[event.stream] = event.seq
            yield event


async def test_a_window_merges_its_events_into_one_update_per_race() -> None:
    script = Script()
    for seq, (runner, decimal) in enumerate([(1, 2.0), (2, 3.0), (1, 2.2), (1, 2.4)], start=1):
        script.queue.put_nowait(odds(seq, runner, decimal))
    script.queue.put_nowait(odds(1, 5, 9.0, stream="odds:2"))
    # A clock a tenth of a second before a window ends: the burst is all read by then.
    paced = Paced(window_ms=1000, conflate=conflate_odds, positions=lambda: script.positions, clock=lambda: 999.9)
    flushed = paced.run(script)

    first, cursor_first = await asyncio.wait_for(anext(flushed), 5)
    second, cursor_second = await asyncio.wait_for(anext(flushed), 5)
    assert isinstance(first.payload, Conflated)
    assert (first.stream, first.kind, first.payload.seq_from, first.seq) == ("odds:1", "conflated", 1, 4)
    assert sorted((p.runner_id, p.decimal) for p in first.payload.prices) == [(1, 2.4), (2, 3.0)]
    # Yielded before odds:2's event: its cursor must not claim odds:2 was delivered.
    assert cursor_first == {"odds:1": 4, "odds:2": 0}
    assert (second.stream, second.kind, second.seq) == ("odds:2", "odds", 1)
    assert cursor_second == {"odds:1": 4, "odds:2": 1}

    script.queue.put_nowait(odds(5, 2, 3.5))
    alone, cursor = await asyncio.wait_for(anext(flushed), 5)
    assert (alone.kind, alone.seq, cursor) == ("odds", 5, {"odds:1": 5, "odds:2": 1})
    await flushed.aclose()


async def test_conflate_ms_out_of_bounds_is_a_typed_error(api: Api, race: dict[str, Any]) -> None:
    for ms in (-1, 120_001):
        stream = await api.subscribe(PACED, ids=[str(race["id"])], ms=ms)
        result = await asyncio.wait_for(anext(stream), 5)
        error = result.errors[0]
        assert (error.extensions["code"], error.extensions["field"]) == ("BAD_USER_INPUT", "conflateMs"), ms


async def test_paced_updates_cover_every_seq_with_the_latest_prices_and_resume_exactly(
    api: Api, race: dict[str, Any]
) -> None:
    stream = await api.subscribe(PACED, ids=[str(race["id"])], ms=100)
    first = asyncio.ensure_future(anext(stream))
    for _ in range(500):
        if api.hub.listener_count:
            break
        await asyncio.sleep(0.01)
    at = datetime.now(UTC) - timedelta(hours=1)
    stored: list[tuple[int, int, float]] = []  # seq, runner, decimal

    async def store(n: int) -> None:
        runner = race["runners"][n % 3]
        decimal = round(2.0 + n / 10, 2)
        body = {
            "raceId": str(race["id"]),
            "source": "betfair",
            "observedAt": (at + timedelta(seconds=n)).isoformat(),
            "prices": [{"runnerId": str(runner), "decimal": decimal}],
        }
        seq = (await api.data(STORE, input=body))["storeOdds"]["seq"]
        stored.append((seq, runner, decimal))

    for n in range(12):
        await store(n)

    received = [(await asyncio.wait_for(first, 5)).data["oddsUpdated"]]
    while received[-1]["seq"] < 12:
        result = await asyncio.wait_for(anext(stream), 5)
        received.append(result.data["oddsUpdated"])
    await stream.aclose()

    assert [e["seqFrom"] for e in received] == [1] + [e["seq"] + 1 for e in received[:-1]]
    for event in received:
        assert event["conflated"] is (event["seqFrom"] < event["seq"])
        latest: dict[str, float] = {}
        for seq, runner, decimal in stored:
            if event["seqFrom"] <= seq <= event["seq"]:
                latest[str(runner)] = decimal
        assert {p["runnerId"]: p["decimal"] for p in event["prices"]} == latest

    # Resuming from the first update's cursor: one catch-up covering exactly what followed it.
    for n in range(12, 15):
        await store(n)
    resumed = await api.subscribe(PACED, ids=[str(race["id"])], after=received[0]["cursor"], ms=100)
    catch_up = (await asyncio.wait_for(anext(resumed), 5)).data["oddsUpdated"]
    await resumed.aclose()
    assert (catch_up["seqFrom"], catch_up["seq"]) == (received[0]["seq"] + 1, 15)
