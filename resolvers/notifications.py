"""The personal inbox: a user's notifications live (their own stream, resumable by cursor),
paged newest first, and marked read. Every function takes the user: nothing here is shared."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from events.payloads import NotificationPosted
from pubsub import channels
from pubsub.hub import Hub
from resolvers.cursors import encode_positions
from resolvers.streams import follow_one
from storage import alerts
from storage.database import Database
from storage.models import Notification


@dataclass(frozen=True)
class Delivered:
    notification: NotificationPosted
    seq: int
    cursor: str


async def live_notifications(
    *, db: Database, hub: Hub, user: str, after: str | None, on_listening: Callable[[], None] | None = None
) -> AsyncIterator[Delivered]:
    stream = channels.user(user)
    follower = follow_one(db, hub, "notifications", stream, after, on_listening)
    async for event in follower:
        if not isinstance(event.payload, NotificationPosted):
            continue  # a snapshot marker: notifications pruned from the log are still in the inbox query
        yield Delivered(notification=event.payload, seq=event.seq, cursor=encode_positions(follower.positions))


async def page(*, db: Database, user: str, after: tuple[datetime, int] | None, limit: int) -> list[Notification]:
    async with db.read() as session:
        return await alerts.page_notifications(session, user=user, after=after, limit=limit)


async def mark_read(*, db: Database, user: str, ids: Sequence[int]) -> list[int]:
    """Marks the user's own notifications among `ids`; others' ids are ignored, not revealed."""
    async with db.write() as session:
        return await alerts.mark_read(session, user=user, ids=list(ids))
