from __future__ import annotations

import asyncio

from resolvers.write_batches import WriteBatches


async def test_items_waiting_together_share_a_batch_and_a_failing_batch_is_retried_item_by_item() -> None:
    batches: list[list[str]] = []

    async def write(items: list[str]) -> list[str | Exception]:
        batches.append(items)
        await asyncio.sleep(0.01)
        if "bad" in items:
            raise RuntimeError("the database refused the batch")
        return [item.upper() for item in items]

    writer: WriteBatches[str, str] = WriteBatches(write, max_batch=10)
    results = await asyncio.gather(*[writer.submit(item) for item in ["a", "b", "bad", "c"]], return_exceptions=True)

    assert results[:2] == ["A", "B"] and results[3] == "C"
    assert isinstance(results[2], RuntimeError)
    assert batches == [["a", "b", "bad", "c"], ["a"], ["b"], ["bad"], ["c"]]


async def test_items_with_the_same_key_never_share_a_batch() -> None:
    batches: list[list[str]] = []

    async def write(items: list[str]) -> list[str | Exception]:
        batches.append(items)
        await asyncio.sleep(0)
        return items

    writer: WriteBatches[str, str] = WriteBatches(write, max_batch=3, key=lambda item: item[0])
    first = asyncio.create_task(writer.submit("x0"))
    await asyncio.sleep(0)  # the first batch is under way: the rest queue behind it
    await asyncio.gather(first, *[writer.submit(item) for item in ["a1", "b1", "a2", "c1", "d1", "e1"]])

    assert batches == [["x0"], ["a1", "b1"], ["a2", "c1", "d1"], ["e1"]]
