"""`publishNews`: store an article and its log event, then publish it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from events.payloads import NewsPosted
from pubsub import channels
from pubsub.hub import Hub
from resolvers.alert_firing import fire_alerts
from resolvers.errors import BadUserInput, NotFound
from resolvers.publishing import publish_committed
from storage import events, news, races
from storage.database import Database
from storage.models import NewsArticle

TAG = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
MAX_TAGS = 10


@dataclass(frozen=True)
class NewsDraft:
    headline: str
    body: str
    tags: tuple[str, ...] = ()
    race_ids: tuple[int, ...] = ()


async def publish_news(*, db: Database, hub: Hub, draft: NewsDraft) -> NewsArticle:
    _validate(draft)
    now = datetime.now(UTC)
    async with db.write() as session:
        if draft.race_ids:
            found = await races.races_by_ids(session, draft.race_ids)
            missing = sorted(set(draft.race_ids) - set(found))
            if missing:
                raise NotFound(f"race {missing[0]} does not exist", field="raceIds")
        article = await news.add_article(
            session,
            headline=draft.headline.strip(),
            body=draft.body,
            tags=sorted(set(draft.tags)),
            race_ids=sorted(set(draft.race_ids)),
            published_at=now,
        )
        event = await events.append(
            session,
            stream=channels.NEWS,
            payload=NewsPosted(
                news_id=article.id, tags=tuple(sorted(set(draft.tags))), race_ids=tuple(sorted(set(draft.race_ids)))
            ),
            now=now,
        )
    await publish_committed(hub, event)
    await fire_alerts(db=db, hub=hub, event=event)
    return article


def _validate(draft: NewsDraft) -> None:
    if not 1 <= len(draft.headline.strip()) <= 300:
        raise BadUserInput("headline must be 1-300 characters", field="headline")
    if len(draft.body) > 50_000:
        raise BadUserInput("body must be at most 50,000 characters", field="body")
    if len(draft.tags) > MAX_TAGS:
        raise BadUserInput(f"at most {MAX_TAGS} tags", field="tags")
    for tag in draft.tags:
        if not TAG.match(tag):
            raise BadUserInput(f"tag {tag!r} must be 1-40 characters of a-z, 0-9 and '-'", field="tags")
