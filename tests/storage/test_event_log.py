"""The event log: contiguous seq per stream under concurrency, reads after a position, pruning."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from events.payloads import RunnerScratched
from storage import events
from storage.database import Database

SCRATCH = RunnerScratched(race_id=1, runner_id=1)  # the log stores any record alike


async def append(db: Database, stream: str) -> int:
    async with db.write() as session:
        event = await events.append(session, stream=stream, payload=SCRATCH, now=datetime.now(UTC))
    return event.seq


async def test_concurrent_writers_get_unique_contiguous_seqs_per_stream(db: Database) -> None:
    seqs = await asyncio.gather(*[append(db, f"s{n % 3}") for n in range(60)])

    async with db.read() as session:
        stored = {s: [e.seq for e in await events.read_after(session, stream=s, after=0)] for s in ("s0", "s1", "s2")}
        heads = await events.heads(session, ["s0", "s1", "s2", "never"])
    assert sorted(seqs) == sorted(list(range(1, 21)) * 3)
    assert stored == {s: list(range(1, 21)) for s in ("s0", "s1", "s2")}
    assert heads == {"s0": 20, "s1": 20, "s2": 20, "never": 0}


async def test_pruning_keeps_the_newest_events_of_each_stream(db: Database) -> None:
    for _ in range(5):
        await append(db, "a")
    await append(db, "b")
    async with db.write() as session:
        removed = await events.prune(session, keep=2)
    async with db.read() as session:
        oldest = await events.oldest_kept(session, "a"), await events.oldest_kept(session, "b")
        window = [e.seq for e in await events.read_after(session, stream="a", after=3, until=4)]

    assert removed == 3 and oldest == (4, 1) and window == [4]
