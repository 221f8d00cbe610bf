"""Race cards: meetings, races and runners."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.grouping import group_by
from storage.models import Meeting, Race, RaceStatus, Runner


async def races_by_ids(session: AsyncSession, ids: Sequence[int]) -> dict[int, Race]:
    rows = await session.scalars(select(Race).where(Race.id.in_(ids)))
    return {race.id: race for race in rows}


async def meetings_by_ids(session: AsyncSession, ids: Sequence[int]) -> dict[int, Meeting]:
    rows = await session.scalars(select(Meeting).where(Meeting.id.in_(ids)))
    return {meeting.id: meeting for meeting in rows}


async def runners_by_ids(session: AsyncSession, ids: Sequence[int]) -> dict[int, Runner]:
    return {runner.id: runner for runner in await session.scalars(_RUNNERS, {"ids": list(ids)})}


async def runners_of_races(session: AsyncSession, race_ids: Sequence[int]) -> dict[int, list[Runner]]:
    rows = await session.scalars(
        select(Runner).where(Runner.race_id.in_(race_ids)).order_by(Runner.race_id, Runner.number)
    )
    return group_by(rows, lambda runner: runner.race_id, race_ids)


async def races_of_meetings(session: AsyncSession, meeting_ids: Sequence[int]) -> dict[int, list[Race]]:
    rows = await session.scalars(
        select(Race).where(Race.meeting_id.in_(meeting_ids)).order_by(Race.meeting_id, Race.number)
    )
    return group_by(rows, lambda race: race.meeting_id, meeting_ids)


async def meetings_on(session: AsyncSession, day: date) -> list[Meeting]:
    rows = await session.scalars(select(Meeting).where(Meeting.date == day).order_by(Meeting.venue))
    return list(rows)


async def meetings_from(session: AsyncSession, day: date) -> list[Meeting]:
    """Meetings on `day` or later, by date then venue."""
    rows = await session.scalars(select(Meeting).where(Meeting.date >= day).order_by(Meeting.date, Meeting.venue))
    return list(rows)


async def page_races(
    session: AsyncSession,
    *,
    day: date | None,
    venue: str | None,
    statuses: Sequence[RaceStatus] | None,
    after: tuple[datetime, int] | None,
    limit: int,
) -> list[Race]:
    """Races by post time then id, starting after the keyset position `after`."""
    query = select(Race)
    if day is not None or venue is not None:
        query = query.join(Meeting, Meeting.id == Race.meeting_id)
    if day is not None:
        query = query.where(Meeting.date == day)
    if venue is not None:
        query = query.where(Meeting.venue.ilike(venue))
    if statuses:
        query = query.where(Race.status.in_(statuses))
    if after is not None:
        post_time, race_id = after
        query = query.where(or_(Race.post_time > post_time, and_(Race.post_time == post_time, Race.id > race_id)))
    rows = await session.scalars(query.order_by(Race.post_time, Race.id).limit(limit))
    return list(rows)


_LOCK_RACES = select(Race).where(Race.id.in_(bindparam("ids", expanding=True))).order_by(Race.id).with_for_update()
_RUNNERS = select(Runner).where(Runner.id.in_(bindparam("ids", expanding=True)))


async def lock_races(session: AsyncSession, race_ids: Sequence[int]) -> dict[int, Race]:
    """Reads races for a write, holding their rows until commit, locked in id order so that
    writers locking several races never deadlock."""
    return {race.id: race for race in await session.scalars(_LOCK_RACES, {"ids": list(race_ids)})}


async def lock_race(session: AsyncSession, race_id: int) -> Race | None:
    """Reads a race for a write, holding its row until commit (writers of one race queue)."""
    return (await lock_races(session, [race_id])).get(race_id)
