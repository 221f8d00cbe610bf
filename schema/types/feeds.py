"""Feed health: each price source's liveness, and its changes as events."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

from resolvers import feed_health


@strawberry.enum(description="Whether a price source is heard from.")
class FeedStatus(enum.Enum):
    LIVE = strawberry.enum_value("LIVE", description="Heard from within the stale time.")
    STALE = strawberry.enum_value(
        "STALE", description="Silent for longer than the stale time: its prices are flagged and left out of markets."
    )


@strawberry.type(description="A price source (bookmaker or exchange) and how fresh its prices are.")
class Feed:
    source: str = strawberry.field(description="The source's code, e.g. 'bet365'.")
    status: FeedStatus = strawberry.field(description="LIVE or STALE.")
    last_seen_at: datetime | None = strawberry.field(
        description="Its last accepted storeOdds or feedHeartbeat; null if never heard from since tracking began."
    )
    status_changed_at: datetime | None = strawberry.field(description="When it last went STALE or LIVE.")

    @classmethod
    def from_state(cls, state: feed_health.FeedState) -> Feed:
        return cls(
            source=state.source,
            status=FeedStatus(state.status),
            last_seen_at=state.last_seen_at,
            status_changed_at=state.changed_at,
        )


@strawberry.type(description="A price source went STALE or came back LIVE.")
class FeedStatusEvent:
    source: str = strawberry.field(description="The source.")
    status: FeedStatus = strawberry.field(description="Its status from now on.")
    last_seen_at: datetime | None = strawberry.field(description="When it was last heard from.")
    changed_at: datetime = strawberry.field(description="When the change was recorded.")
    seq: int = strawberry.field(description="The feeds stream's sequence number: 1, 2, 3 … with no gaps.")
    cursor: str = strawberry.field(description="Opaque resume point: pass it as `after` to resume after this event.")
