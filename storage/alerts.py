"""Alerts and the notification inbox. Alerts are found by runner or race through their
indexes; firing claims an alert with a conditional UPDATE so only one writer wins it."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    CursorResult,
    Select,
    and_,
    bindparam,
    delete,
    func,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Alert, AlertKind, CurrentPrice, Notification


async def count_of_user(session: AsyncSession, user: str) -> int:
    return int(await session.scalar(select(func.count()).select_from(Alert).where(Alert.user == user)) or 0)


async def of_user(session: AsyncSession, user: str) -> list[Alert]:
    return list(await session.scalars(select(Alert).where(Alert.user == user).order_by(Alert.id)))


async def remove(session: AsyncSession, *, user: str, alert_id: int) -> bool:
    # A DML statement's result is a CursorResult (it has rowcount): SQLAlchemy types it as Result.
    result = cast(
        "CursorResult[Any]", await session.execute(delete(Alert).where(Alert.id == alert_id, Alert.user == user))
    )
    return bool(result.rowcount)


async def for_runners(session: AsyncSession, runner_ids: Sequence[int], kinds: Sequence[AlertKind]) -> list[Alert]:
    query = select(Alert).where(Alert.runner_id.in_(runner_ids), Alert.kind.in_(kinds))
    return list(await session.scalars(query))


async def price_alerts_to_act_on(
    session: AsyncSession, runner_ids: Sequence[int], *, rearm_margin: float
) -> list[tuple[Alert, float]]:
    """The runners' price alerts that the best price now fires, re-arms or sets a reference
    for, with that price: most writes find none, and so skip the write transaction. The
    highest current quote is the market's best: a scratched runner's quotes are deleted."""
    rows = await session.execute(_price_alerts_query(rearm_margin), {"runners": list(runner_ids)})
    return [(alert, float(p)) for alert, p in rows.all()]


@functools.cache
def _price_alerts_query(rearm_margin: float) -> Select[Alert, float]:
    """Built once: it runs after every batch of prices."""
    runners: BindParameter[list[int]] = bindparam("runners", expanding=True)
    best = (
        select(CurrentPrice.runner_id, func.max(CurrentPrice.decimal).label("price"))
        .where(CurrentPrice.runner_id.in_(runners))
        .group_by(CurrentPrice.runner_id)
        .subquery()
    )
    price, above = best.c.price, Alert.above.is_(True)
    crossed = or_(and_(above, price >= Alert.level), and_(not_(above), price <= Alert.level))
    back = or_(
        and_(above, price < Alert.level * (1 - rearm_margin)),
        and_(not_(above), price > Alert.level * (1 + rearm_margin)),
    )
    moved = or_(Alert.reference.is_(None), func.abs(price - Alert.reference) * 100 > Alert.reference * Alert.percent)
    return (
        select(Alert, price)
        .join(best, best.c.runner_id == Alert.runner_id)
        .where(
            Alert.runner_id.in_(runners),
            Alert.kind.in_([AlertKind.PRICE_LEVEL, AlertKind.PRICE_MOVE]),
            or_(
                and_(Alert.kind == AlertKind.PRICE_LEVEL, Alert.armed.is_(True), crossed),
                and_(Alert.kind == AlertKind.PRICE_LEVEL, Alert.armed.is_(False), back),
                and_(Alert.kind == AlertKind.PRICE_MOVE, moved),
            ),
        )
    )


async def for_races(session: AsyncSession, race_ids: Sequence[int], kind: AlertKind) -> list[Alert]:
    return list(await session.scalars(select(Alert).where(Alert.race_id.in_(race_ids), Alert.kind == kind)))


async def claim(session: AsyncSession, alert: Alert, *, now: datetime, reference: float | None = None) -> bool:
    """Takes the alert's firing: True for exactly one caller per crossing. A move alert is
    claimed on its reference price instead of `armed`, and moves it on."""
    condition: ColumnElement[bool] = Alert.armed.is_(True)
    values: dict[str, object] = {"fired_at": now}
    if alert.kind is AlertKind.PRICE_MOVE:
        condition = Alert.reference == alert.reference
        values["reference"] = reference
    elif alert.kind is not AlertKind.NEWS:
        values["armed"] = False
    statement = update(Alert).where(Alert.id == alert.id, condition).values(**values).returning(Alert.id)
    return (await session.execute(statement)).first() is not None


async def rearm(session: AsyncSession, alert_ids: Sequence[int]) -> None:
    if alert_ids:
        await session.execute(update(Alert).where(Alert.id.in_(alert_ids)).values(armed=True))


async def set_reference(session: AsyncSession, alert_id: int, price: float) -> None:
    await session.execute(update(Alert).where(Alert.id == alert_id, Alert.reference.is_(None)).values(reference=price))


async def page_notifications(
    session: AsyncSession, *, user: str, after: tuple[datetime, int] | None, limit: int
) -> list[Notification]:
    """Newest first, starting after the keyset position `after`."""
    query = select(Notification).where(Notification.user == user)
    if after is not None:
        at, notification_id = after
        query = query.where(
            or_(Notification.created_at < at, and_(Notification.created_at == at, Notification.id < notification_id))
        )
    order = (Notification.created_at.desc(), Notification.id.desc())
    return list(await session.scalars(query.order_by(*order).limit(limit)))


async def mark_read(session: AsyncSession, *, user: str, ids: Sequence[int]) -> list[int]:
    statement = (
        update(Notification)
        .where(Notification.user == user, Notification.id.in_(ids))
        .values(read=True)
        .returning(Notification.id)
    )
    return sorted(int(i) for i in (await session.scalars(statement)).all())
