"""News articles."""

from __future__ import annotations

from datetime import datetime

import strawberry

from schema.context import Info
from schema.types.races import PageInfo, Race
from storage import models


@strawberry.federation.type(keys=["id"], description="A news article.")
class NewsArticle:
    id: strawberry.ID = strawberry.field(description="The article's id.")
    headline: str = strawberry.field(description="The headline.")
    body: str = strawberry.field(description="The article text.")
    published_at: datetime = strawberry.field(description="When it was published.")

    @strawberry.field(description="Tags, e.g. 'going' or 'non-runner'.")
    async def tags(self, info: Info) -> list[str]:
        return await info.context.loaders.news_tags.load(int(self.id))

    @strawberry.field(description="The races the article concerns.")
    async def races(self, info: Info) -> list[Race]:
        ids = await info.context.loaders.news_races.load(int(self.id))
        rows = await info.context.loaders.race.load_many(ids)
        return [Race.from_row(row) for row in rows if row is not None]

    @classmethod
    def from_row(cls, row: models.NewsArticle) -> NewsArticle:
        return cls(id=strawberry.ID(str(row.id)), headline=row.headline, body=row.body, published_at=row.published_at)

    @classmethod
    async def resolve_reference(cls, info: Info, id: int) -> NewsArticle | None:
        row = await info.context.loaders.article.load(id)
        return cls.from_row(row) if row else None


@strawberry.type(description="A news article with its cursor.")
class NewsEdge:
    cursor: str = strawberry.field(description="This article's position in the list.")
    node: NewsArticle = strawberry.field(description="The article.")


@strawberry.type(description="A page of news, newest first.")
class NewsConnection:
    edges: list[NewsEdge] = strawberry.field(description="The articles on this page.")
    page_info: PageInfo = strawberry.field(description="How to get the next page.")


@strawberry.type(description="A newly published article, as delivered live.")
class NewsEvent:
    seq: int = strawberry.field(description="The news stream's sequence number.")
    cursor: str = strawberry.field(description="Pass as `after` to resume after this event.")
    article: NewsArticle = strawberry.field(description="The article.")
