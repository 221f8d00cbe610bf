"""Alerts, notifications and the personal inbox."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from events.payloads import NotificationPosted
from resolvers.alert_firing import notification_payload
from schema.types.races import PageInfo, RaceStatus
from storage import models


@strawberry.enum(description="What an alert watches.")
class AlertKind(Enum):
    PRICE_LEVEL = strawberry.enum_value("PRICE_LEVEL", description="A runner's best price reaches or passes a level.")
    PRICE_MOVE = strawberry.enum_value(
        "PRICE_MOVE", description="A runner's best price moves by more than a percentage (steamer or drifter)."
    )
    RACE_STATUS = strawberry.enum_value("RACE_STATUS", description="A race enters a status.")
    SCRATCHED = strawberry.enum_value("SCRATCHED", description="A runner is scratched.")
    NEWS = strawberry.enum_value("NEWS", description="News is published about a race.")


@strawberry.enum(description="Which side of the level a PRICE_LEVEL alert fires on.")
class PriceDirection(Enum):
    AT_OR_ABOVE = strawberry.enum_value("AT_OR_ABOVE", description="Best price ≥ level.")
    AT_OR_BELOW = strawberry.enum_value("AT_OR_BELOW", description="Best price ≤ level.")


def _id(value: int | None) -> strawberry.ID | None:
    return None if value is None else strawberry.ID(str(value))


@strawberry.type(description="One of the viewer's alerts.")
class Alert:
    id: strawberry.ID = strawberry.field(description="The alert's id.")
    kind: AlertKind = strawberry.field(description="What it watches.")
    race_id: strawberry.ID = strawberry.field(description="The race it concerns.")
    runner_id: strawberry.ID | None = strawberry.field(description="The runner, for runner alerts.")
    direction: PriceDirection | None = strawberry.field(description="For PRICE_LEVEL: which side of the level.")
    level: float | None = strawberry.field(description="For PRICE_LEVEL: the decimal price level.")
    percent: float | None = strawberry.field(description="For PRICE_MOVE: the move, in percent, that fires it.")
    reference_price: float | None = strawberry.field(
        description="For PRICE_MOVE: the best price a move is measured from (at creation, then at each firing)."
    )
    status: RaceStatus | None = strawberry.field(description="For RACE_STATUS: the status that fires it.")
    armed: bool = strawberry.field(description="False while a fired alert waits to re-arm.")
    created_at: datetime = strawberry.field(description="When it was created.")
    last_fired_at: datetime | None = strawberry.field(description="When it last fired.")

    @classmethod
    def from_row(cls, row: models.Alert) -> Alert:
        direction = (
            None if row.above is None else (PriceDirection.AT_OR_ABOVE if row.above else PriceDirection.AT_OR_BELOW)
        )
        return cls(
            id=strawberry.ID(str(row.id)),
            kind=AlertKind(row.kind.value),
            race_id=strawberry.ID(str(row.race_id)),
            runner_id=_id(row.runner_id),
            direction=direction,
            level=row.level,
            percent=row.percent,
            reference_price=row.reference,
            status=RaceStatus(row.status) if row.status else None,
            armed=row.armed,
            created_at=row.created_at,
            last_fired_at=row.fired_at,
        )


@strawberry.type(description="An alert that fired, kept in the viewer's inbox.")
class Notification:
    id: strawberry.ID = strawberry.field(description="The notification's id.")
    alert_id: strawberry.ID = strawberry.field(description="The alert that fired (it may since be deleted).")
    kind: AlertKind = strawberry.field(description="The alert's kind.")
    race_id: strawberry.ID = strawberry.field(description="The race.")
    runner_id: strawberry.ID | None = strawberry.field(description="The runner, for runner alerts.")
    price: float | None = strawberry.field(description="The best price that fired a price alert.")
    status: RaceStatus | None = strawberry.field(description="The status that fired a RACE_STATUS alert.")
    news_id: strawberry.ID | None = strawberry.field(description="The article that fired a NEWS alert.")
    message: str = strawberry.field(description="A short human-readable summary.")
    created_at: datetime = strawberry.field(description="When it fired.")
    read: bool = strawberry.field(description="Marked read with markNotificationsRead.")

    @classmethod
    def from_row(cls, row: models.Notification) -> Notification:
        return cls.from_record(notification_payload(row))

    @classmethod
    def from_record(cls, n: NotificationPosted) -> Notification:
        return cls(
            id=strawberry.ID(str(n.id)),
            alert_id=strawberry.ID(str(n.alert_id)),
            kind=AlertKind(n.kind),
            race_id=strawberry.ID(str(n.race_id)),
            runner_id=_id(n.runner_id),
            price=n.price,
            status=RaceStatus(n.status) if n.status else None,
            news_id=_id(n.news_id),
            message=n.message,
            created_at=n.created_at,
            read=n.read,
        )


@strawberry.type(description="A notification with its cursor.")
class NotificationEdge:
    cursor: str = strawberry.field(description="This notification's position in the inbox.")
    node: Notification = strawberry.field(description="The notification.")


@strawberry.type(description="A page of the viewer's inbox, newest first.")
class NotificationConnection:
    edges: list[NotificationEdge] = strawberry.field(description="The notifications on this page.")
    page_info: PageInfo = strawberry.field(description="How to get the next page.")


@strawberry.type(description="A notification as delivered live on the viewer's own stream.")
class NotificationEvent:
    seq: int = strawberry.field(description="The viewer's stream sequence number.")
    cursor: str = strawberry.field(description="Pass as `after` to resume after this event.")
    notification: Notification = strawberry.field(description="The notification.")
