"""News articles with their tags and the races they concern."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.grouping import group_by
from storage.models import NewsArticle, news_races, news_tags


async def add_article(
    session: AsyncSession,
    *,
    headline: str,
    body: str,
    tags: Sequence[str],
    race_ids: Sequence[int],
    published_at: datetime,
) -> NewsArticle:
    article = NewsArticle(headline=headline, body=body, published_at=published_at)
    session.add(article)
    await session.flush()
    if tags:
        await session.execute(insert(news_tags), [{"news_id": article.id, "tag": t} for t in tags])
    if race_ids:
        await session.execute(insert(news_races), [{"news_id": article.id, "race_id": r} for r in race_ids])
    return article


async def page_articles(
    session: AsyncSession,
    *,
    tag: str | None,
    race_id: int | None,
    after: tuple[datetime, int] | None,
    limit: int,
) -> list[NewsArticle]:
    """Newest first, starting after the keyset position `after`."""
    query = select(NewsArticle)
    if tag is not None:
        query = query.where(NewsArticle.id.in_(select(news_tags.c.news_id).where(news_tags.c.tag == tag)))
    if race_id is not None:
        query = query.where(NewsArticle.id.in_(select(news_races.c.news_id).where(news_races.c.race_id == race_id)))
    if after is not None:
        published_at, article_id = after
        query = query.where(
            or_(
                NewsArticle.published_at < published_at,
                and_(NewsArticle.published_at == published_at, NewsArticle.id < article_id),
            )
        )
    order = (NewsArticle.published_at.desc(), NewsArticle.id.desc())
    return list(await session.scalars(query.order_by(*order).limit(limit)))


async def articles_by_ids(session: AsyncSession, ids: Sequence[int]) -> dict[int, NewsArticle]:
    return {
        article.id: article for article in await session.scalars(select(NewsArticle).where(NewsArticle.id.in_(ids)))
    }


async def tags_of(session: AsyncSession, article_ids: Sequence[int]) -> dict[int, list[str]]:
    rows = await session.execute(
        select(news_tags.c.news_id, news_tags.c.tag)
        .where(news_tags.c.news_id.in_(article_ids))
        .order_by(news_tags.c.tag)
    )
    grouped = group_by(rows, lambda row: row[0], article_ids)
    return {article_id: [tag for _, tag in found] for article_id, found in grouped.items()}


async def races_of(session: AsyncSession, article_ids: Sequence[int]) -> dict[int, list[int]]:
    rows = await session.execute(
        select(news_races.c.news_id, news_races.c.race_id).where(news_races.c.news_id.in_(article_ids))
    )
    grouped = group_by(rows, lambda row: row[0], article_ids)
    return {article_id: [race_id for _, race_id in found] for article_id, found in grouped.items()}
