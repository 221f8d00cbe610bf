"""Feed health: when each price source was last heard from, and whether it is stale.

Transitions are conditional updates: of several processes making the same one, exactly one
changes the row (the others' UPDATE re-reads it after the winner commits and matches nothing),
so each transition is reported, and published, once."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import CurrentPrice, PriceSource, Race, RaceStatus


@dataclass(frozen=True)
class Changed:
    source_id: int
    code: str
    last_seen_at: datetime | None


@dataclass(frozen=True)
class OpenQuote:
    race_id: int
    runner_id: int
    source_id: int
    decimal: float
    observed_at: datetime


async def heartbeat(session: AsyncSession, source_ids: Sequence[int], now: datetime) -> list[Changed]:
    """Marks the sources heard from now; returns those this call brought back from stale.

    One statement when every source is live: the UPDATE takes the rows' locks and returns their
    newest `stale`, so a source it finds stale is this transaction's to revive."""
    if not source_ids:
        return []
    table = cast(Table, PriceSource.__table__)  # SQLAlchemy types a mapped class's table as any FromClause
    seen = await session.execute(
        update(table)
        .where(table.c.id.in_(sorted(set(source_ids))))
        .values(last_seen_at=now)
        .returning(table.c.id, table.c.code, table.c.stale)
    )
    changed = [Changed(source_id, code, now) for source_id, code, stale in seen if stale]
    if changed:
        await session.execute(
            update(table)
            .where(table.c.id.in_([c.source_id for c in changed]), table.c.stale.is_(True))
            .values(stale=False, status_changed_at=now)
        )
    return sorted(changed, key=lambda c: c.code)


async def mark_stale(session: AsyncSession, *, silent_since: datetime, now: datetime) -> list[Changed]:
    """Marks stale every live source not heard from since `silent_since`; returns them."""
    table = cast(Table, PriceSource.__table__)  # SQLAlchemy types a mapped class's table as any FromClause
    rows = await session.execute(
        update(table)
        .where(table.c.stale.is_(False), or_(table.c.last_seen_at.is_(None), table.c.last_seen_at < silent_since))
        .values(stale=True, status_changed_at=now)
        .returning(table.c.id, table.c.code, table.c.last_seen_at)
    )
    return sorted((Changed(source_id, code, seen) for source_id, code, seen in rows), key=lambda c: c.code)


async def all_sources(session: AsyncSession) -> list[PriceSource]:
    return list((await session.scalars(select(PriceSource).order_by(PriceSource.code))).all())


async def source(session: AsyncSession, code: str) -> PriceSource | None:
    return await session.scalar(select(PriceSource).where(PriceSource.code == code))


async def open_quotes(
    session: AsyncSession, source_ids: Sequence[int], statuses: Collection[RaceStatus]
) -> list[OpenQuote]:
    """The sources' current quotes in races that take prices, by race and runner."""
    rows = await session.execute(
        select(
            CurrentPrice.race_id,
            CurrentPrice.runner_id,
            CurrentPrice.source_id,
            CurrentPrice.decimal,
            CurrentPrice.observed_at,
        )
        .join(Race, Race.id == CurrentPrice.race_id)
        .where(CurrentPrice.source_id.in_(list(source_ids)), Race.status.in_(list(statuses)))
        .order_by(CurrentPrice.race_id, CurrentPrice.runner_id, CurrentPrice.source_id)
    )
    return [OpenQuote(*row) for row in rows]


async def live_sources(session: AsyncSession, race_ids: Sequence[int]) -> dict[int, set[int]]:
    """Per race: the sources quoting it that are not stale."""
    rows = await session.execute(
        select(CurrentPrice.race_id, CurrentPrice.source_id)
        .join(PriceSource, PriceSource.id == CurrentPrice.source_id)
        .where(CurrentPrice.race_id.in_(list(race_ids)), PriceSource.stale.is_(False))
        .distinct()
    )
    found: dict[int, set[int]] = {race_id: set() for race_id in race_ids}
    for race_id, source_id in rows:
        found[race_id].add(source_id)
    return found
