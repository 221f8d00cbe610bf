"""The root Subscription, served over graphql-transport-ws."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from typing import Annotated, TypedDict

import strawberry

from pubsub.hub import Hub
from resolvers import live, notifications
from resolvers.errors import parse_id
from resolvers.pacing import MAX_CONFLATE_MS
from schema.context import Info
from schema.list_limits import MAX_TAGS, bounded
from schema.permissions import IsAuthenticated
from schema.stream_tap import StreamTap, tap_of
from schema.types.alerts import Notification, NotificationEvent
from schema.types.feeds import FeedStatus, FeedStatusEvent
from schema.types.news import NewsArticle, NewsEvent
from schema.types.odds import OddsUpdate, Price
from schema.types.races import RaceStatus, RaceStatusEvent
from storage.database import Database

# Each argument the subscriptions share, declared once with its one description.
RaceIds = Annotated[
    list[strawberry.ID], strawberry.argument(description="The races to follow (at most the published limit).")
]
SomeRaceIds = Annotated[
    list[strawberry.ID] | None,
    strawberry.argument(description="The races to follow (at most the published limit); all races when omitted."),
]
After = Annotated[
    str | None,
    strawberry.argument(description="The cursor of the last event seen: replays what was missed, then goes live."),
]
Snapshot = Annotated[
    bool, strawberry.argument(description="Start each race (not resumed by `after`) with its full current market.")
]
ConflateMs = Annotated[
    int | None,
    strawberry.argument(
        description=f"The subscriber's pace: at most one update per race per window of this many "
        f"milliseconds (0 to {MAX_CONFLATE_MS}), merging the window's changes (`conflated`, "
        "`seqFrom`..`seq`). 0 or omitted: every update as it happens."
    ),
]


class Following(TypedDict):
    """What every live stream is given: where to read, where to resume, whom to tell it listens."""

    db: Database
    hub: Hub
    after: str | None
    on_listening: Callable[[], None]


def _following(info: Info, after: str | None) -> tuple[StreamTap, Following]:
    """The execution's tap, and the stream's arguments: `after`, else where the fan-out resumes it."""
    ctx, tap = info.context, tap_of(info.root_value)
    return tap, Following(db=ctx.db, hub=ctx.hub, after=after or tap.resume_cursor, on_listening=tap.listening.set)


def _race_ids(race_ids: list[strawberry.ID]) -> list[int]:
    return [parse_id(r, what="race", field="raceIds") for r in race_ids]


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
        race_ids: RaceIds,
        after: After = None,
        snapshot: Snapshot = False,
        conflate_ms: ConflateMs = 0,
    ) -> AsyncGenerator[OddsUpdate, None]:
        tap, following = _following(info, after)
        updates = live.odds_updates(
            **following,
            race_ids=_race_ids(race_ids),
            snapshot=snapshot,
            max_races=info.context.limits.max_race_ids,
            conflate_replay=after is None and tap.resume_cursor is not None,
            conflate_ms=conflate_ms,
        )
        async for u in updates:
            tap.passed(following["hub"], "oddsUpdated", u.cursor, u.published_at if u.live else None)
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
        after: After = None,
    ) -> AsyncGenerator[FeedStatusEvent, None]:
        tap, following = _following(info, after)
        changes = live.feed_changes(
            **following, sources=bounded(sources, limit=MAX_TAGS, field="sources") if sources else None
        )
        async for c in changes:
            tap.passed(following["hub"], "feedStatus", c.cursor, c.changed_at if c.live else None)
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
        self, info: Info, race_ids: RaceIds, after: After = None, snapshot: Snapshot = False
    ) -> AsyncGenerator[RaceUpdateEvent, None]:
        tap, following = _following(info, after)
        updates = live.race_updates(
            **following, race_ids=_race_ids(race_ids), max_races=info.context.limits.max_race_ids, snapshot=snapshot
        )
        async for u in updates:
            stored = u.odds.published_at if u.odds else u.status.changed_at if u.status else None
            tap.passed(following["hub"], "raceUpdated", u.cursor, stored if u.live else None)
            yield RaceUpdateEvent(
                race_id=strawberry.ID(str(u.race_id)),
                cursor=u.cursor,
                odds=_odds_update(u.odds) if u.odds else None,
                status=_status_event(u.status) if u.status else None,
            )

    @strawberry.subscription(description="Race status changes; all races when raceIds is omitted.")
    async def race_status(
        self, info: Info, race_ids: SomeRaceIds = None, after: After = None
    ) -> AsyncGenerator[RaceStatusEvent, None]:
        tap, following = _following(info, after)
        changes = live.status_changes(
            **following,
            race_ids=_race_ids(race_ids) if race_ids else None,
            max_races=info.context.limits.max_race_ids,
        )
        async for c in changes:
            tap.passed(following["hub"], "raceStatus", c.cursor, c.changed_at if c.live else None)
            yield _status_event(c)

    @strawberry.subscription(description="Newly published news; only articles with one of the tags when given.")
    async def news(
        self,
        info: Info,
        tags: Annotated[
            list[str] | None, strawberry.argument(description=f"Tags to follow (at most {MAX_TAGS}).")
        ] = None,
        after: After = None,
    ) -> AsyncGenerator[NewsEvent, None]:
        tap, following = _following(info, after)
        news = live.published_news(**following, tags=bounded(tags, limit=MAX_TAGS, field="tags") if tags else None)
        async for n in news:
            tap.passed(following["hub"], "news", n.cursor, n.article.published_at if n.live else None)
            yield NewsEvent(seq=n.seq, cursor=n.cursor, article=NewsArticle.from_row(n.article))

    @strawberry.subscription(
        description="The viewer's own notifications (needs a token): replays after the cursor, then live. Never shared.",
        permission_classes=[IsAuthenticated],
    )
    async def notifications(self, info: Info, after: After = None) -> AsyncGenerator[NotificationEvent, None]:
        tap, following = _following(info, after)
        delivered = notifications.live_notifications(**following, user=info.context.viewer.subject or "")
        async for d in delivered:
            tap.cursor = d.cursor  # notifications are not counted among deliveries
            yield NotificationEvent(seq=d.seq, cursor=d.cursor, notification=Notification.from_record(d.notification))
