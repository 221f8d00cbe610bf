"""The root Subscription, served over graphql-transport-ws."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from resolvers import live, notifications
from resolvers.errors import parse_id
from schema.context import Info
from schema.list_limits import MAX_TAGS, bounded
from schema.permissions import IsAuthenticated
from schema.stream_tap import tap_of
from schema.types.alerts import Notification, NotificationEvent
from schema.types.news import NewsArticle, NewsEvent
from schema.types.odds import OddsUpdate, Price
from schema.types.races import RaceStatus, RaceStatusEvent


def _ids(values: list[int] | tuple[int, ...] | None) -> list[strawberry.ID] | None:
    return None if values is None else [strawberry.ID(str(v)) for v in values]


@strawberry.type(description="Live updates. Every event carries a cursor; pass it as `after` to resume.")
class Subscription:
    @strawberry.subscription(description="Odds changes for the given races, in seq order per race.")
    async def odds_updated(
        self,
        info: Info,
        race_ids: Annotated[
            list[strawberry.ID], strawberry.argument(description="The races to follow (at most the published limit).")
        ],
        after: Annotated[
            str | None,
            strawberry.argument(
                description="The cursor of the last event seen: replays what was missed, then goes live."
            ),
        ] = None,
        snapshot: Annotated[
            bool,
            strawberry.argument(description="Start each race (not resumed by `after`) with its full current market."),
        ] = False,
    ) -> AsyncGenerator[OddsUpdate, None]:
        ctx, tap = info.context, tap_of(info.root_value)
        updates = live.odds_updates(
            db=ctx.db, hub=ctx.hub, race_ids=[parse_id(r, what="race", field="raceIds") for r in race_ids],
            after=after or tap.resume_cursor, snapshot=snapshot, max_races=ctx.limits.max_race_ids,
            on_listening=tap.listening.set, conflate_replay=after is None and tap.resume_cursor is not None,
        )
        async for u in updates:
            tap.passed(ctx.hub, "oddsUpdated", u.cursor, u.published_at if u.live else None)
            yield OddsUpdate(
                race_id=strawberry.ID(str(u.race_id)), seq=u.seq, cursor=u.cursor, snapshot=u.snapshot,
                conflated=u.conflated, seq_from=u.seq_from, source=u.source, observed_at=u.observed_at,
                published_at=u.published_at, prices=[Price.from_quote(q) for q in u.prices],
                scratched_runner_ids=_ids(u.scratched_runner_ids) or [],
            )

    @strawberry.subscription(description="Race status changes; all races when raceIds is omitted.")
    async def race_status(
        self,
        info: Info,
        race_ids: Annotated[
            list[strawberry.ID] | None,
            strawberry.argument(description="The races to follow (at most the published limit)."),
        ] = None,
        after: Annotated[str | None, strawberry.argument(description="The cursor of the last event seen.")] = None,
    ) -> AsyncGenerator[RaceStatusEvent, None]:
        ctx, tap = info.context, tap_of(info.root_value)
        changes = live.status_changes(
            db=ctx.db, hub=ctx.hub,
            race_ids=[parse_id(r, what="race", field="raceIds") for r in race_ids] if race_ids else None,
            after=after or tap.resume_cursor, max_races=ctx.limits.max_race_ids, on_listening=tap.listening.set,
        )
        async for c in changes:
            tap.passed(ctx.hub, "raceStatus", c.cursor, c.changed_at if c.live else None)
            yield RaceStatusEvent(
                race_id=strawberry.ID(str(c.race_id)), status=RaceStatus(c.status),
                previous_status=RaceStatus(c.previous) if c.previous else None,
                result_runner_ids=_ids(c.result), seq=c.seq, cursor=c.cursor, changed_at=c.changed_at,
            )

    @strawberry.subscription(description="Newly published news; only articles with one of the tags when given.")
    async def news(
        self,
        info: Info,
        tags: Annotated[list[str] | None, strawberry.argument(description=f"Tags to follow (at most {MAX_TAGS}).")] = None,
        after: Annotated[str | None, strawberry.argument(description="The cursor of the last event seen.")] = None,
    ) -> AsyncGenerator[NewsEvent, None]:
        ctx, tap = info.context, tap_of(info.root_value)
        news = live.published_news(
            db=ctx.db, hub=ctx.hub, tags=bounded(tags, limit=MAX_TAGS, field="tags") if tags else None,
            after=after or tap.resume_cursor, on_listening=tap.listening.set,
        )
        async for n in news:
            tap.passed(ctx.hub, "news", n.cursor, n.article.published_at if n.live else None)
            yield NewsEvent(seq=n.seq, cursor=n.cursor, article=NewsArticle.from_row(n.article))

    @strawberry.subscription(
        description="The viewer's own notifications (needs a token): replays after the cursor, then live. Never shared.",
        permission_classes=[IsAuthenticated],
    )
    async def notifications(
        self,
        info: Info,
        after: Annotated[str | None, strawberry.argument(description="The cursor of the last notification seen.")] = None,
    ) -> AsyncGenerator[NotificationEvent, None]:
        ctx, tap = info.context, tap_of(info.root_value)
        delivered = notifications.live_notifications(
            db=ctx.db, hub=ctx.hub, user=ctx.viewer.subject or "", after=after or tap.resume_cursor,
            on_listening=tap.listening.set,
        )
        async for d in delivered:
            tap.cursor = d.cursor  # notifications are not counted among deliveries
            yield NotificationEvent(seq=d.seq, cursor=d.cursor, notification=Notification.from_payload(d.payload))
