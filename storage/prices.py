"""Price sources, quotes with full history, and each runner's current price per source."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.database import upsert_insert
from storage.grouping import group_by
from storage.models import CurrentPrice, Price, PriceSource


async def source_id(session: AsyncSession, code: str) -> int:
    """The source's id, registering a source the first time it quotes."""
    query = select(PriceSource.id).where(PriceSource.code == code)
    found = await session.scalar(query)
    if found is None:
        insert = upsert_insert(session)(PriceSource).values(code=code)
        await session.execute(insert.on_conflict_do_nothing(index_elements=[PriceSource.code]))
        found = await session.scalar(query)
    assert found is not None
    return found


async def source_codes(session: AsyncSession, ids: Sequence[int]) -> dict[int, str]:
    rows = await session.execute(select(PriceSource.id, PriceSource.code).where(PriceSource.id.in_(ids)))
    return {source_id: code for source_id, code in rows}


async def current_for_runners(
    session: AsyncSession, *, source: int, runner_ids: Sequence[int]
) -> dict[int, CurrentPrice]:
    rows = await session.scalars(
        select(CurrentPrice).where(
            CurrentPrice.source_id == source, CurrentPrice.runner_id.in_(runner_ids)
        )
    )
    return {row.runner_id: row for row in rows}


async def current_for_races(
    session: AsyncSession, race_ids: Sequence[int]
) -> dict[int, list[tuple[CurrentPrice, str]]]:
    """Every current quote of each race, with its source's code."""
    rows = await session.execute(
        select(CurrentPrice, PriceSource.code)
        .join(PriceSource, PriceSource.id == CurrentPrice.source_id)
        .where(CurrentPrice.race_id.in_(race_ids))
        .order_by(CurrentPrice.runner_id, PriceSource.code)
    )
    return group_by(rows, lambda row: row[0].race_id, race_ids)


async def history_for_runners(
    session: AsyncSession, runner_ids: Sequence[int], *, last: int
) -> dict[int, list[tuple[Price, str]]]:
    """The newest `last` quotes of each runner, oldest first, in one statement."""
    rank = (
        func.row_number()
        .over(partition_by=Price.runner_id, order_by=(Price.observed_at.desc(), Price.id.desc()))
        .label("rank")
    )
    ranked = select(Price.id, rank).where(Price.runner_id.in_(runner_ids)).subquery()
    rows = await session.execute(
        select(Price, PriceSource.code)
        .join(ranked, ranked.c.id == Price.id)
        .join(PriceSource, PriceSource.id == Price.source_id)
        .where(ranked.c.rank <= last)
        .order_by(Price.runner_id, Price.observed_at, Price.id)
    )
    return group_by(rows, lambda row: row[0].runner_id, runner_ids)
