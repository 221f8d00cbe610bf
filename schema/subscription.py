"""The root Subscription, served over graphql-transport-ws."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from resolvers import live, notifications
from resolvers.errors import parse_id
from resolvers.pacing import MAX_CONFLATE_MS, checked_window
from schema.context import Info
from schema.list_limits import MAX_TAGS, bounded
from schema.permissions import IsAuthenticated
from schema.stream_tap import tap_of
from schema.types.alerts import Notification, NotificationEvent
from schema.types.feeds import FeedStatus, FeedStatusEvent
from schema.types.news import NewsArticle, NewsEvent
from schema.types.odds import OddsUpdate, Price
from schema.types.races import RaceStatus, RaceStatusEvent


def _ids(values: list[int] | tuple[int, ...] | None) -> list[strawberry.ID] | None:
    return None if values is None else [strawberry.ID(str(v)) for v in values]


def _odds_update(u: live.OddsUpdate) -> OddsUpdate:
    return OddsUpdate(
        race_id=strawberry.ID(str(u.race_id)),
        seq=u.seq,
        cursor=u.cursor,
        snapshot=u.snapshot,
        conflated=u.conflated,
        seq_from=u.seq_from,
        source=u.source,
        observed_at=u.observed_at,
        published_at=u.published_at,
        prices=[Price.from_quote(q) for q in u.prices],
        scratched_runner_ids=_ids(u.scratched_runner_ids) or [],
        source_status=FeedStatus(u.source_status) if u.source_status else None,
        market_stale=u.market_stale,
    )


def _status_event(c: live.StatusChange) -> RaceStatusEvent:
    return RaceStatusEvent(
        race_id=strawberry.ID(str(c.race_id)),
        status=RaceStatus(c.status),
        previous_status=RaceStatus(c.previous) if c.previous else None,
        result_runner_ids=_ids(c.result),
        seq=c.seq,
        cursor=c.cursor,
        changed_at=c.changed_at,
    )


@strawberry.type(description="One event of a race screen's stream: exactly one of `odds` and `status` is set.")
class RaceUpdateEvent:
    race_id: strawberry.ID = strawberry.field(description="The race.")
    cursor: str = strawberry.field(
        description="Opaque resume point of the whole stream: pass it as `after` to raceUpdated."
    )
    odds: OddsUpdate | None = strawberry.field(description="A price update, scratching, freshness change or snapshot.")
    status: RaceStatusEvent | None = strawberry.field(description="A status change of the race.")


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
        conflate_ms: Annotated[
            int | None,
            strawberry.argument(
                description=f"The subscriber's pace: at most one update per race per window of this many "
                f"milliseconds (0 to {MAX_CONFLATE_MS}), merging the window's changes (`conflated`, "
                "`seqFrom`..`seq`). 0 or omitted: every update as it happens."
            ),
        ] = 0,
    ) -> AsyncGenerator[OddsUpdate, None]:
        ctx, tap = info.context, tap_of(info.root_value)
        updates = live.odds_updates(
            db=ctx.db,
            hub=ctx.hub,
            race_ids=[parse_id(r, what="race", field="raceIds") for r in race_ids],
            after=after or tap.resume_cursor,
            snapshot=snapshot,
            max_races=ctx.limits.max_race_ids,
            on_listening=tap.listening.set,
            conflate_replay=after is None and tap.resume_cursor is not None,
            conflate_ms=checked_window(conflate_ms),
        )
        async for u in updates:
            tap.passed(ctx.hub, "oddsUpdated", u.cursor, u.published_at if u.live else None)
            yield _odds_update(u)

    @strawberry.subscription(
        description="Price sources going STALE and coming back LIVE, in seq order; all sources when none are given."
    )
    async def feed_status(
        self,
        info: Info,
        sources: Annotated[
            list[str] | None, strawberry.argument(description=f"Source codes to follow (at most {MAX_TAGS}).")
        ] = None,
        after: Annotated[str | None, strawberry.argument(description="The cursor of the last event seen.")] = None,
    ) -> AsyncGenerator[FeedStatusEvent, None]:
        ctx, tap = info.context, tap_of(info.root_value)
        changes = live.feed_changes(
            db=ctx.db,
            hub=ctx.hub,
            sources=bounded(sources, limit=MAX_TAGS, field="sources") if sources else None,
            after=after or tap.resume_cursor,
            on_listening=tap.listening.set,
        )
        async for c in changes:
            tap.passed(ctx.hub, "feedStatus", c.cursor, c.changed_at if c.live else None)
            yield FeedStatusEvent(
                source=c.source,
                status=FeedStatus(c.status),
                last_seen_at=c.last_seen_at,
                changed_at=c.changed_at,
                seq=c.seq,
                cursor=c.cursor,
            )

    @strawberry.subscription(
        description="Everything a race screen shows, in one ordered stream with one cursor: price updates, "
        "scratchings, feed freshness and status changes of the given races."
    )
    async def race_updated(
        self,
        info: Info,
        race_ids: Annotated[
            list[strawberry.ID], strawberry.argument(description="The races to follow (at most the published limit).")
        ],
        after: Annotated[
            str | None,
            strawberry.argument(
                description="The cursor of the last event seen: replays what was missed in the order it was stored, then goes live."
            ),
        ] = None,
        snapshot: Annotated[
            bool,
            strawberry.argument(description="Start each race (not resumed by `after`) with its full current market."),
        ] = False,
    ) -> AsyncGenerator[RaceUpdateEvent, None]:
        ctx, tap = info.context, tap_of(info.root_value)
        updates = live.race_updates(
            db=ctx.db,
            hub=ctx.hub,
            race_ids=[parse_id(r, what="race", field="raceIds") for r in race_ids],
            after=after or tap.resume_cursor,
            max_races=ctx.limits.max_race_ids,
            snapshot=snapshot,
            on_listening=tap.listening.set,
        )
        async for u in updates:
            stored = u.odds.published_at if u.odds else u.status.changed_at if u.status else None
            tap.passed(ctx.hub, "raceUpdated", u.cursor, stored if u.live else None)
            yield RaceUpdateEvent(
                race_id=strawberry.ID(str(u.race_id)),
                cursor=u.cursor,
                odds=_odds_update(u.odds) if u.odds else None,
                status=_status_event(u.status) if u.status else None,
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
            db=ctx.db,
            hub=ctx.hub,
            race_ids=[parse_id(r, what="race", field="raceIds") for r in race_ids] if race_ids else None,
            after=after or tap.resume_cursor,
            max_races=ctx.limits.max_race_ids,
            on_listening=tap.listening.set,
        )
        async for c in changes:
            tap.passed(ctx.hub, "raceStatus", c.cursor, c.changed_at if c.live else None)
            yield _status_event(c)

    @strawberry.subscription(description="Newly published news; only articles with one of the tags when given.")
    async def news(
        self,
        info: Info,
        tags: Annotated[
            list[str] | None, strawberry.argument(description=f"Tags to follow (at most {MAX_TAGS}).")
        ] = None,
        after: Annotated[str | None, strawberry.argument(description="The cursor of the last event seen.")] = None,
    ) -> AsyncGenerator[NewsEvent, None]:
        ctx, tap = info.context, tap_of(info.root_value)
        news = live.published_news(
            db=ctx.db,
            hub=ctx.hub,
            tags=bounded(tags, limit=MAX_TAGS, field="tags") if tags else None,
            after=after or tap.resume_cursor,
            on_listening=tap.listening.set,
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
        after: Annotated[
            str | None, strawberry.argument(description="The cursor of the last notification seen.")
        ] = None,
    ) -> AsyncGenerator[NotificationEvent, None]:
        ctx, tap = info.context, tap_of(info.root_value)
        delivered = notifications.live_notifications(
            db=ctx.db,
            hub=ctx.hub,
            user=ctx.viewer.subject or "",
            after=after or tap.resume_cursor,
            on_listening=tap.listening.set,
        )
        async for d in delivered:
            tap.cursor = d.cursor  # notifications are not counted among deliveries
            yield NotificationEvent(seq=d.seq, cursor=d.cursor, notification=Notification.from_record(d.notification))
