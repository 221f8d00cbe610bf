"""The cluster tests' `Collector` (tests/fixtures/cluster.py) keeps reading past a snapshot, which
has no `seqFrom`, and records it apart from the seqs it covers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from fixtures.cluster import Collector


class Scripted:
    """Hands out the given updates, then waits as a quiet subscription does."""

    def __init__(self, updates: list[dict[str, Any]]) -> None:
        self.updates = updates

    async def next(self, id: str, timeout: float = 10) -> dict[str, Any]:
        if not self.updates:
            await asyncio.sleep(timeout)
        return {"oddsUpdated": self.updates.pop(0)}


async def test_a_snapshot_is_recorded_apart_and_reading_goes_on() -> None:
    updates = [
        {"seq": 1, "seqFrom": 1, "cursor": "a"},
        {"seq": 4, "seqFrom": None, "cursor": "b"},  # a snapshot, as the server sends it
        {"seq": 6, "seqFrom": 5, "cursor": "c"},  # conflated: 5 and 6
    ]
    collector = Collector(Scripted(updates), "1")
    reading = asyncio.create_task(collector.run())
    while updates:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.01)
    assert not reading.done()  # still reading: no TypeError ended it
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading
    assert (collector.seqs, collector.snapshots, collector.cursor) == ([1, 5, 6], [4], "c")
