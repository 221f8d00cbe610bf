"""Price sources, quotes with full history, and each runner's current price per source."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.bulk import BulkInsert, DialectInsert
from storage.database import upsert_insert
from storage.grouping import group_by
from storage.models import CurrentPrice, Price, PriceSource

_SOURCE_IDS = select(PriceSource.code, PriceSource.id).where(PriceSource.code.in_(bindparam("codes", expanding=True)))
_CURRENT_QUOTES = select(
    CurrentPrice.runner_id, CurrentPrice.source_id, CurrentPrice.decimal, CurrentPrice.observed_at
).where(
    CurrentPrice.runner_id.in_(bindparam("runners", expanding=True)),
    CurrentPrice.source_id.in_(bindparam("sources", expanding=True)),
)
_HISTORY = BulkInsert(Price.__table__, ("race_id", "runner_id", "source_id", "decimal", "observed_at", "stored_at"))


async def source_ids(session: AsyncSession, codes: Sequence[str], *, now: datetime) -> dict[str, int]:
    """Each source's id, registering the sources quoting for the first time (as seen `now`)."""
    found = {code: id_ for code, id_ in await session.execute(_SOURCE_IDS, {"codes": list(codes)})}
    missing = [code for code in codes if code not in found]
    if missing:
        rows = [{"code": code, "last_seen_at": now} for code in missing]
        insert_new = upsert_insert(session)(PriceSource).values(rows)
        await session.execute(insert_new.on_conflict_do_nothing(index_elements=[PriceSource.code]))
        found = {code: id_ for code, id_ in await session.execute(_SOURCE_IDS, {"codes": list(codes)})}
    return found


Quoted = tuple[float, datetime]  # decimal, observed_at


async def current_quotes(
    session: AsyncSession, *, runner_ids: Sequence[int], source_ids: Sequence[int]
) -> dict[tuple[int, int], Quoted]:
    """The current quote of each (runner, source) pair among these runners and sources."""
    rows = await session.execute(_CURRENT_QUOTES, {"runners": list(runner_ids), "sources": list(source_ids)})
    return {(runner, source): (decimal, observed) for runner, source, decimal, observed in rows}


async def store_quotes(
    session: AsyncSession, history: Sequence[dict[str, Any]], current: Sequence[dict[str, Any]]
) -> None:
    """Appends quotes to the history and sets the current quote of each (runner, source)."""
    await _HISTORY.run(session, history)
    await _SET_CURRENT.run(session, current)


def _on_conflict_newer(upsert: DialectInsert) -> Insert:
    return upsert.on_conflict_do_update(
        index_elements=[CurrentPrice.runner_id, CurrentPrice.source_id],
        set_={"decimal": upsert.excluded.decimal, "observed_at": upsert.excluded.observed_at},
    )


_SET_CURRENT = BulkInsert(
    CurrentPrice.__table__, ("runner_id", "source_id", "race_id", "decimal", "observed_at"), finish=_on_conflict_newer
)


async def source_codes(session: AsyncSession, ids: Sequence[int]) -> dict[int, str]:
    rows = await session.execute(select(PriceSource.id, PriceSource.code).where(PriceSource.id.in_(ids)))
    return {source_id: code for source_id, code in rows}


async def current_for_races(
    session: AsyncSession, race_ids: Sequence[int]
) -> dict[int, list[tuple[CurrentPrice, str, bool]]]:
    """Every current quote of each race, with its source's code and whether it is stale."""
    rows = await session.execute(
        select(CurrentPrice, PriceSource.code, PriceSource.stale)
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
