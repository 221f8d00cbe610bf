"""The root Query."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry

from resolvers import alerts as alert_use_cases
from resolvers import feed_health, listings, notifications
from resolvers.cursors import decode_keyset, encode_keyset
from resolvers.errors import MAX_BIG_ID, BadUserInput, known_id, parse_id
from schema.context import Info
from schema.federation import FederationQuery
from schema.list_limits import MAX_FILTER_STATUSES, bounded
from schema.list_size import sized_by
from schema.permissions import IsAuthenticated
from schema.types.alerts import Alert, Notification, NotificationConnection, NotificationEdge
from schema.types.feeds import Feed
from schema.types.news import NewsArticle, NewsConnection, NewsEdge
from schema.types.races import Meeting, PageInfo, Race, RaceConnection, RaceEdge, RaceStatus, Runner
from storage import models


@strawberry.input(description="Which races to list.")
class RaceFilter:
    date: dt.date | None = strawberry.field(default=None, description="Meeting date.")
    venue: str | None = strawberry.field(default=None, description="Venue, case-insensitive.")
    status: list[RaceStatus] | None = strawberry.field(
        default=None, description=f"Any of these statuses (at most {MAX_FILTER_STATUSES})."
    )


@strawberry.input(description="Which news to list.")
class NewsFilter:
    tag: str | None = strawberry.field(default=None, description="Articles with this tag.")
    race_id: strawberry.ID | None = strawberry.field(default=None, description="Articles about this race.")


def _page_size(info: Info, first: int) -> int:
    limit = info.context.limits.max_page_size
    if not 1 <= first <= limit:
        raise BadUserInput(f"first must be between 1 and {limit}", field="first")
    return first


@strawberry.type(description="Read race cards, markets and news.")
class Query(FederationQuery):
    @strawberry.field(description="A race by id; null when there is none.")
    async def race(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The race's id.")]
    ) -> Race | None:
        race_id = known_id(id, what="race", field="id")
        row = await info.context.loaders.race.load(race_id) if race_id is not None else None
        return Race.from_row(row) if row else None

    @strawberry.field(description="A runner by id; null when there is none.")
    async def runner(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The runner's id.")]
    ) -> Runner | None:
        runner_id = known_id(id, what="runner", field="id")
        row = await info.context.loaders.runner.load(runner_id) if runner_id is not None else None
        return Runner.from_row(row) if row else None

    @strawberry.field(description="Races by post time, filtered, one page at a time.", metadata=sized_by("first"))
    async def races(
        self,
        info: Info,
        filter: Annotated[RaceFilter | None, strawberry.argument(description="Which races.")] = None,
        first: Annotated[int, strawberry.argument(description="Page size (at most the published limit).")] = 20,
        after: Annotated[str | None, strawberry.argument(description="The endCursor of the previous page.")] = None,
    ) -> RaceConnection:
        size = _page_size(info, first)
        filter = filter or RaceFilter()
        statuses = bounded(filter.status, limit=MAX_FILTER_STATUSES, field="status") if filter.status else None
        rows = await listings.page_races(
            db=info.context.db,
            day=filter.date,
            venue=filter.venue,
            statuses=[models.RaceStatus(s.value) for s in statuses] if statuses else None,
            after=decode_keyset(after) if after else None,
            limit=size + 1,
        )
        edges = [RaceEdge(cursor=encode_keyset(r.post_time, r.id), node=Race.from_row(r)) for r in rows[:size]]
        return RaceConnection(
            edges=edges,
            page_info=PageInfo.of([e.cursor for e in edges], more=len(rows) > size),
        )

    @strawberry.field(description="The meetings on a date, by venue.")
    async def meetings(
        self, info: Info, date: Annotated[dt.date, strawberry.argument(description="The meeting date.")]
    ) -> list[Meeting]:
        rows = await listings.meetings_on(db=info.context.db, day=date)
        return [Meeting.from_row(row) for row in rows]

    @strawberry.field(description="News, newest first, one page at a time.", metadata=sized_by("first"))
    async def news(
        self,
        info: Info,
        filter: Annotated[NewsFilter | None, strawberry.argument(description="Which articles.")] = None,
        first: Annotated[int, strawberry.argument(description="Page size (at most the published limit).")] = 20,
        after: Annotated[str | None, strawberry.argument(description="The endCursor of the previous page.")] = None,
    ) -> NewsConnection:
        size = _page_size(info, first)
        filter = filter or NewsFilter()
        race_id = parse_id(filter.race_id, what="race", field="raceId") if filter.race_id is not None else None
        rows = await listings.page_news(
            db=info.context.db,
            tag=filter.tag,
            race_id=race_id,
            after=decode_keyset(after) if after else None,
            limit=size + 1,
        )
        edges = [
            NewsEdge(cursor=encode_keyset(r.published_at, r.id), node=NewsArticle.from_row(r)) for r in rows[:size]
        ]
        return NewsConnection(
            edges=edges,
            page_info=PageInfo.of([e.cursor for e in edges], more=len(rows) > size),
        )

    @strawberry.field(description="Every price source and how fresh it is (LIVE or STALE), by code.")
    async def feeds(self, info: Info) -> list[Feed]:
        return [Feed.from_state(state) for state in await feed_health.feed_states(info.context.db)]

    @strawberry.field(
        description="The viewer's own alerts, oldest first (needs a token).", permission_classes=[IsAuthenticated]
    )
    async def alerts(self, info: Info) -> list[Alert]:
        rows = await alert_use_cases.list_alerts(db=info.context.db, user=info.context.viewer.subject or "")
        return [Alert.from_row(row) for row in rows]

    @strawberry.field(
        description="The viewer's own notifications, newest first (needs a token).",
        permission_classes=[IsAuthenticated],
        metadata=sized_by("first"),
    )
    async def notifications(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description="Page size (at most the published limit).")] = 20,
        after: Annotated[str | None, strawberry.argument(description="The endCursor of the previous page.")] = None,
    ) -> NotificationConnection:
        size = _page_size(info, first)
        rows = await notifications.page(
            db=info.context.db,
            user=info.context.viewer.subject or "",
            after=decode_keyset(after, max_id=MAX_BIG_ID) if after else None,
            limit=size + 1,
        )
        edges = [
            NotificationEdge(cursor=encode_keyset(r.created_at, r.id), node=Notification.from_row(r))
            for r in rows[:size]
        ]
        return NotificationConnection(
            edges=edges,
            page_info=PageInfo.of([e.cursor for e in edges], more=len(rows) > size),
        )
