"""The listing reads behind the `races`, `meetings` and `news` queries: each opens one read
session, so the schema layer runs no SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from storage import news, races
from storage.database import Database
from storage.models import Meeting, NewsArticle, Race, RaceStatus


async def page_races(
    *,
    db: Database,
    day: date | None,
    venue: str | None,
    statuses: Sequence[RaceStatus] | None,
    after: tuple[datetime, int] | None,
    limit: int,
) -> list[Race]:
    async with db.read() as session:
        return await races.page_races(session, day=day, venue=venue, statuses=statuses, after=after, limit=limit)


async def meetings_on(*, db: Database, day: date) -> list[Meeting]:
    async with db.read() as session:
        return await races.meetings_on(session, day)


async def page_news(
    *,
    db: Database,
    tag: str | None,
    race_id: int | None,
    after: tuple[datetime, int] | None,
    limit: int,
) -> list[NewsArticle]:
    async with db.read() as session:
        return await news.page_articles(session, tag=tag, race_id=race_id, after=after, limit=limit)
