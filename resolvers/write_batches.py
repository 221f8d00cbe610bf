"""Writes that arrive together are stored together: callers queue their item, and one drainer
hands everything waiting to a batch function, which stores it in one transaction."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

# Per item: its result, or the error to raise to its caller.
BatchFunction = Callable[[list[Item]], Awaitable[list[Result | Exception]]]


class WriteBatches(Generic[Item, Result]):
    def __init__(
        self,
        write: BatchFunction[Item, Result],
        *,
        max_batch: int,
        key: Callable[[Item], Hashable | None] = lambda _: None,
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._key = key  # items with the same key never share a batch: the later sees the earlier
        self._waiting: deque[tuple[Item, asyncio.Future[Result]]] = deque()
        self._drainer: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._drainer is None:
            self._drainer = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        batch: list[tuple[Item, asyncio.Future[Result]]] = []
        try:
            while self._waiting:
                batch = self._take()
                for (_, future), result in zip(batch, await self._results([item for item, _ in batch]), strict=True):
                    if future.done():
                        continue  # its caller has gone
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self._drainer = None
            for _, future in [*batch, *self._waiting]:
                if not future.done():
                    future.set_exception(RuntimeError("the writer stopped"))
            self._waiting.clear()

    def _take(self) -> list[tuple[Item, asyncio.Future[Result]]]:
        batch: list[tuple[Item, asyncio.Future[Result]]] = []
        keys: set[Hashable] = set()
        while self._waiting and len(batch) < self._max_batch:
            key = self._key(self._waiting[0][0])
            if key is not None and key in keys:
                break
            keys.add(key)
            batch.append(self._waiting.popleft())
        return batch

    async def _results(self, items: list[Item]) -> list[Result | Exception]:
        try:
            return await self._write(items)
        except Exception:  # noqa: BLE001 - retried alone below, so one bad item fails by itself
            pass
        results: list[Result | Exception] = []
        for item in items:
            try:
                results.extend(await self._write([item]))
            except Exception as error:  # noqa: BLE001 - handed to that item's caller
                results.append(error)
        return results
