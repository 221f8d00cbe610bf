"""Firing alerts after a write commits: find the alerts the event concerns by runner or race,
claim each crossing once (a conditional UPDATE, safe across processes), store a notification
and append it to its user's stream in the same transaction, then publish."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from events.envelope import Envelope
from events.payloads import NewsPosted, NotificationPosted, OddsChanged, RaceStatusChanged, RunnerScratched
from pubsub import channels
from pubsub.hub import Hub
from resolvers.publishing import publish_committed
from storage import alerts, events, races
from storage.database import Database
from storage.models import Alert, AlertKind, Notification

log = logging.getLogger(__name__)

# A fired level alert re-arms only once the price is back across the level by this fraction.
REARM_MARGIN = 0.02


@dataclass(frozen=True)
class Firing:
    alert: Alert
    message: str
    price: float | None = None
    status: str | None = None
    news_id: int | None = None


async def fire_alerts(*, db: Database, hub: Hub, event: Envelope | None) -> None:
    """Called once after each committed write. The write stands whatever happens here."""
    if event is not None:
        await _fire(hub, f"{event.stream} #{event.seq}", _evaluate(db, event))


async def fire_price_alerts(*, db: Database, hub: Hub, events: Sequence[Envelope]) -> None:
    """Called once after a batch of committed odds: price alerts are judged on the prices as
    they now stand, so one evaluation serves every runner the batch priced."""
    runner_ids = sorted(
        {p.runner_id for event in events if isinstance(event.payload, OddsChanged) for p in event.payload.prices}
    )
    if runner_ids:
        await _fire(hub, f"{len(events)} odds events", _on_prices(db, runner_ids))


async def _fire(hub: Hub, what: str, evaluation: Awaitable[list[Envelope]]) -> None:
    try:
        fired = await evaluation
    except Exception:
        log.exception("alerts for %s failed", what)
        return
    for notification in fired:
        await publish_committed(hub, notification)


async def _evaluate(db: Database, event: Envelope) -> list[Envelope]:
    payload = event.payload  # odds events come in batches: see fire_price_alerts
    if isinstance(payload, RunnerScratched):
        return await _on_scratch(db, payload.runner_id)
    if isinstance(payload, RaceStatusChanged):
        return await _on_status(db, payload.race_id, payload.status)
    if isinstance(payload, NewsPosted) and payload.race_ids:
        return await _on_news(db, payload.news_id, list(payload.race_ids))
    return []


async def _on_prices(db: Database, runner_ids: list[int]) -> list[Envelope]:
    async with db.read() as session:
        candidates = await alerts.price_alerts_to_act_on(session, runner_ids, rearm_margin=REARM_MARGIN)
    if not candidates:
        return []
    now = datetime.now(UTC)
    async with db.write() as session:
        horses = await _horses(session, sorted({a.runner_id for a, _ in candidates if a.runner_id}))
        firings: list[Firing] = []
        rearmed: list[int] = []
        for alert, price in candidates:
            horse = horses[alert.runner_id or 0]
            if alert.kind is AlertKind.PRICE_LEVEL:
                if alert.armed and _crossed(alert, price):
                    if await alerts.claim(session, alert, now=now):
                        side = "or more" if alert.above else "or less"
                        firings.append(Firing(alert, f"{horse} is {price:g}: {alert.level:g} {side}", price=price))
                elif not alert.armed and _back_across(alert, price):
                    rearmed.append(alert.id)
            elif alert.reference is None:
                await alerts.set_reference(session, alert.id, price)
            elif abs(price - alert.reference) / alert.reference * 100 > (alert.percent or 0) and await alerts.claim(
                session, alert, now=now, reference=price
            ):
                way = "drifted" if price > alert.reference else "shortened"
                firings.append(Firing(alert, f"{horse} {way} from {alert.reference:g} to {price:g}", price=price))
        await alerts.rearm(session, rearmed)
        return await _notify(session, firings, now)


def _crossed(alert: Alert, price: float) -> bool:
    assert alert.level is not None
    return price >= alert.level if alert.above else price <= alert.level


def _back_across(alert: Alert, price: float) -> bool:
    assert alert.level is not None
    if alert.above:
        return price < alert.level * (1 - REARM_MARGIN)
    return price > alert.level * (1 + REARM_MARGIN)


async def _on_scratch(db: Database, runner_id: int) -> list[Envelope]:
    async with db.read() as session:
        candidates = [a for a in await alerts.for_runners(session, [runner_id], [AlertKind.SCRATCHED]) if a.armed]
    if not candidates:
        return []
    now = datetime.now(UTC)
    async with db.write() as session:
        horse = (await _horses(session, [runner_id]))[runner_id]
        firings = [Firing(a, f"{horse} is scratched") for a in candidates if await alerts.claim(session, a, now=now)]
        return await _notify(session, firings, now)


async def _on_status(db: Database, race_id: int, status: str) -> list[Envelope]:
    """A status alert fires each time the race enters that status, re-arming when it leaves."""
    async with db.read() as session:
        candidates = await alerts.for_races(session, [race_id], AlertKind.RACE_STATUS)
    if not candidates:
        return []
    now = datetime.now(UTC)
    async with db.write() as session:
        await alerts.rearm(session, [a.id for a in candidates if a.status != status and not a.armed])
        firings = [
            Firing(a, f"race {race_id} is {status}", status=status)
            for a in candidates
            if a.status == status and a.armed and await alerts.claim(session, a, now=now)
        ]
        return await _notify(session, firings, now)


async def _on_news(db: Database, news_id: int, race_ids: list[int]) -> list[Envelope]:
    async with db.read() as session:
        candidates = await alerts.for_races(session, race_ids, AlertKind.NEWS)
    if not candidates:
        return []
    now = datetime.now(UTC)
    # One notification per user and article, however many of their races it concerns.
    first_per_user = {a.user: a for a in sorted(candidates, key=lambda a: a.id, reverse=True)}
    async with db.write() as session:
        firings = [
            Firing(a, f"news about race {a.race_id}", news_id=news_id)
            for a in first_per_user.values()
            if await alerts.claim(session, a, now=now)
        ]
        return await _notify(session, firings, now)


async def _horses(session: AsyncSession, runner_ids: list[int]) -> dict[int, str]:
    return {i: r.horse for i, r in (await races.runners_by_ids(session, runner_ids)).items()}


async def _notify(session: AsyncSession, firings: list[Firing], now: datetime) -> list[Envelope]:
    appended = []
    for firing in firings:
        alert = firing.alert
        row = Notification(
            user=alert.user,
            alert_id=alert.id,
            kind=alert.kind,
            race_id=alert.race_id,
            runner_id=alert.runner_id,
            price=firing.price,
            status=firing.status,
            news_id=firing.news_id,
            message=firing.message[:300],
            created_at=now,
            read=False,
        )
        session.add(row)
        await session.flush()
        appended.append(
            await events.append(
                session,
                stream=channels.user(alert.user),
                payload=notification_payload(row),
                now=now,
            )
        )
    return appended


def notification_payload(row: Notification) -> NotificationPosted:
    return NotificationPosted(
        id=row.id,
        alert_id=row.alert_id,
        kind=row.kind.value,
        race_id=row.race_id,
        runner_id=row.runner_id,
        price=row.price,
        status=row.status,
        news_id=row.news_id,
        message=row.message,
        created_at=row.created_at,
        read=row.read,
    )
