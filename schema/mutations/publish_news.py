"""The `publishNews` mutation."""

from __future__ import annotations

from typing import Annotated

import strawberry

from resolvers.errors import parse_id
from resolvers.news import NewsDraft
from resolvers.news import publish_news as use_case
from schema.context import Info
from schema.list_limits import MAX_NEWS_RACES, MAX_TAGS, bounded
from schema.types.news import NewsArticle


@strawberry.input(description="A news article to publish now.")
class PublishNewsInput:
    headline: str = strawberry.field(description="1 to 300 characters.")
    body: str = strawberry.field(description="The text, at most 50,000 characters.")
    tags: list[str] = strawberry.field(default_factory=list, description=f"Up to {MAX_TAGS} tags of a-z, 0-9 and '-'.")
    race_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description=f"Races it concerns (at most {MAX_NEWS_RACES})."
    )


async def publish_news(
    info: Info, input: Annotated[PublishNewsInput, strawberry.argument(description="The article.")]
) -> NewsArticle:
    draft = NewsDraft(
        headline=input.headline,
        body=input.body,
        tags=tuple(input.tags),
        race_ids=tuple(
            parse_id(r, what="race", field="raceIds")
            for r in bounded(input.race_ids, limit=MAX_NEWS_RACES, field="raceIds")
        ),
    )
    article = await use_case(db=info.context.db, hub=info.context.hub, draft=draft)
    return NewsArticle.from_row(article)
