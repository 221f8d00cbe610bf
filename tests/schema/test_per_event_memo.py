"""`PerEventMemo` reaches into graphql-core: the memo of collected subfields, which graphql-core
shares between all events of a subscription, is replaced for each event. These tests fail loudly
when an upgrade moves what it relies on, and when the memo grows with events again."""

from __future__ import annotations

import asyncio
import gc
import inspect
import re
import tracemalloc
from collections.abc import AsyncGenerator
from importlib.metadata import version
from pathlib import Path

import pytest
import strawberry
from graphql import build_schema as build_graphql_schema
from graphql import parse
from graphql.execution.executor import Executor

from schema.schema import PerEventMemo, build_schema

CONSTRAINTS = Path(__file__).resolve().parents[2] / "constraints.txt"
SUBSCRIBERS = 100
EVENTS = 10_000  # in all, over the subscribers: each subscription runs EVENTS // SUBSCRIBERS
BYTES_PER_EVENT = 256  # the shared memo held ~2.7 KiB more per event


def pinned() -> str:
    found = re.search(r"^graphql-core==(\S+)$", CONSTRAINTS.read_text(), re.MULTILINE)
    assert found, "graphql-core is not pinned in constraints.txt"
    return found.group(1)


def moved(what: str) -> str:
    return (
        f"graphql-core {version('graphql-core')} (pinned: {pinned()}) no longer has {what}; "
        "PerEventMemo in schema/schema.py relies on it to give each subscription event its own memo "
        "of collected subfields: re-check Executor.collect_subfields and build_per_event_executor"
    )


def test_graphql_core_still_keeps_the_memo_where_per_event_memo_replaces_it() -> None:
    assert version("graphql-core") == pinned(), moved("the pinned version")
    assert issubclass(PerEventMemo, Executor), moved("Executor as the base of Strawberry's execution context")
    per_event = getattr(Executor, "build_per_event_executor", None)
    assert callable(per_event), moved("Executor.build_per_event_executor")
    assert list(inspect.signature(per_event).parameters) == ["self", "payload"], moved(
        "Executor.build_per_event_executor(self, payload)"
    )
    assert "self._relevant_sub_fields" in inspect.getsource(Executor.collect_subfields), moved(
        "Executor.collect_subfields reading its memo from self._relevant_sub_fields"
    )

    plain = Executor.build(
        build_graphql_schema("type Query { a: Int } type Subscription { b: Int }"), parse("subscription { b }")
    )
    assert isinstance(plain, Executor), "Executor.build refused a valid subscription"
    assert isinstance(getattr(plain, "_relevant_sub_fields", None), dict), moved(
        "a dict at Executor._relevant_sub_fields"
    )
    assert plain.build_per_event_executor(None)._relevant_sub_fields is plain._relevant_sub_fields, (  # noqa: SLF001
        f"graphql-core {version('graphql-core')} no longer shares the memo between events: "
        "PerEventMemo may be unnecessary now (keep the memory test below either way)"
    )


def test_the_schema_gives_each_event_its_own_memo() -> None:
    schema = build_schema()
    assert schema.execution_context_class is PerEventMemo

    executor = PerEventMemo.build(
        build_graphql_schema("type Query { a: Int } type Subscription { b: Int }"), parse("subscription { b }")
    )
    assert isinstance(executor, PerEventMemo)
    first, second = executor.build_per_event_executor(1), executor.build_per_event_executor(2)
    memos = [e._relevant_sub_fields for e in (executor, first, second)]  # noqa: SLF001
    assert len({id(m) for m in memos}) == 3 and all(m == {} for m in memos)
    assert (first.root_value, second.root_value) == (1, 2)  # otherwise the upstream copy, unchanged


@strawberry.type
class Price:
    runner_id: int
    decimal: float


@strawberry.type
class Update:
    seq: int
    prices: list[Price]


@strawberry.type
class Query:
    ok: bool = True


def memory_schema(feeds: list[asyncio.Queue[int]]) -> strawberry.Schema:
    """A subscription fed in-process, executed by the execution context the real schema uses."""

    @strawberry.type
    class Subscription:
        @strawberry.subscription
        async def odds(self, feed: int) -> AsyncGenerator[Update, None]:
            queue = feeds[feed]
            while (seq := await queue.get()) >= 0:
                yield Update(seq=seq, prices=[Price(runner_id=r, decimal=2.0 + r + seq % 7) for r in range(10)])

    return strawberry.Schema(
        query=Query, subscription=Subscription, execution_context_class=build_schema().execution_context_class
    )


@pytest.mark.soak
async def test_memory_stays_flat_over_ten_thousand_events_to_a_hundred_subscribers() -> None:
    feeds: list[asyncio.Queue[int]] = [asyncio.Queue() for _ in range(SUBSCRIBERS)]
    schema = memory_schema(feeds)
    query = "subscription($f: Int!) { odds(feed: $f) { seq prices { runnerId decimal } } }"
    received: asyncio.Queue[int] = asyncio.Queue()

    async def subscriber(feed: int) -> int:
        count = 0
        stream = await schema.subscribe(query, variable_values={"f": feed})
        async for result in stream:
            assert result.errors is None and result.data is not None
            count += 1
            received.put_nowait(result.data["odds"]["seq"])
        return count

    async def publish(rounds: range) -> None:
        for seq in rounds:
            for feed in feeds:
                feed.put_nowait(seq)
            for _ in feeds:
                assert await asyncio.wait_for(received.get(), 10) == seq

    def traced() -> int:
        gc.collect()
        return tracemalloc.get_traced_memory()[0]

    per_subscriber = EVENTS // SUBSCRIBERS
    fill, half = per_subscriber // 5, (per_subscriber - per_subscriber // 5) // 2
    tasks = [asyncio.create_task(subscriber(n)) for n in range(SUBSCRIBERS)]
    tracemalloc.start()
    try:
        await publish(range(fill))
        start = traced()
        await publish(range(fill, fill + half))
        middle = traced()
        await publish(range(fill + half, fill + 2 * half))
        end = traced()
    finally:
        tracemalloc.stop()
    for feed in feeds:
        feed.put_nowait(-1)
    counts = await asyncio.wait_for(asyncio.gather(*tasks), 10)

    assert counts == [fill + 2 * half] * SUBSCRIBERS  # positive control: every event reached everyone
    events_per_half = half * SUBSCRIBERS
    first, second = (middle - start) / events_per_half, (end - middle) / events_per_half
    assert second < BYTES_PER_EVENT, (
        f"traced memory grew {second:.0f} B per event over the second half ({first:.0f} B over the first): "
        "graphql-core's memo of collected subfields is shared across events again (see PerEventMemo)"
    )
