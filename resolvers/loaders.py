"""DataLoaders: a whole race card is read in a small, fixed number of statements."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar, overload

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from resolvers.market import Quote, quotes
from storage import news, prices, races
from storage.database import Database
from storage.models import Price

K = TypeVar("K")
V = TypeVar("V")


class Loaders:
    """One set per request, so what one request caches never goes stale in another."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.race = self._loader(races.races_by_ids, default=None)
        self.meeting = self._loader(races.meetings_by_ids, default=None)
        self.runner = self._loader(races.runners_by_ids, default=None)
        self.runners_of_race = self._loader(races.runners_of_races)
        self.races_of_meeting = self._loader(races.races_of_meetings)
        self.quotes_of_race: DataLoader[int, list[Quote]] = self._loader(self._race_quotes)
        self.article = self._loader(news.articles_by_ids, default=None)
        self.news_tags = self._loader(news.tags_of)
        self.news_races = self._loader(news.races_of)
        self._history: dict[int, DataLoader[int, list[tuple[Price, str]]]] = {}

    def history(self, last: int) -> DataLoader[int, list[tuple[Price, str]]]:
        if last not in self._history:
            self._history[last] = self._loader(lambda session, ids: prices.history_for_runners(session, ids, last=last))
        return self._history[last]

    @staticmethod
    async def _race_quotes(session: AsyncSession, race_ids: Sequence[int]) -> dict[int, list[Quote]]:
        rows = await prices.current_for_races(session, race_ids)
        return {race_id: quotes(found) for race_id, found in rows.items()}

    @overload
    def _loader(self, fetch: Callable[[AsyncSession, Sequence[K]], Awaitable[dict[K, V]]]) -> DataLoader[K, V]: ...

    @overload
    def _loader(
        self, fetch: Callable[[AsyncSession, Sequence[K]], Awaitable[dict[K, V]]], default: None
    ) -> DataLoader[K, V | None]: ...

    def _loader(
        self,
        fetch: Callable[[AsyncSession, Sequence[K]], Awaitable[dict[K, V]]],
        default: Any = ...,
    ) -> DataLoader[K, Any]:
        async def load(keys: list[K]) -> list[Any]:
            async with self._db.read() as session:
                found = await fetch(session, keys)
            return [found.get(key, default) if default is not ... else found[key] for key in keys]

        return DataLoader(load_fn=load)
