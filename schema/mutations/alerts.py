"""The `createAlert`, `deleteAlert` and `markNotificationsRead` mutations: the viewer's own only."""

from __future__ import annotations

from typing import Annotated

import strawberry

from resolvers import alerts as use_case
from resolvers import notifications
from resolvers.errors import MAX_BIG_ID, known_id, parse_id
from schema.context import Info
from schema.list_limits import MAX_MARK_READ, bounded
from schema.types.alerts import Alert, AlertKind, PriceDirection
from schema.types.races import RaceStatus
from storage import models


@strawberry.input(description="An alert. Which fields are needed depends on `kind`.")
class AlertInput:
    kind: AlertKind = strawberry.field(description="What to watch.")
    race_id: strawberry.ID | None = strawberry.field(
        default=None, description="The race: needed for RACE_STATUS and NEWS; optional check for runner kinds."
    )
    runner_id: strawberry.ID | None = strawberry.field(
        default=None, description="The runner: needed for PRICE_LEVEL, PRICE_MOVE and SCRATCHED."
    )
    direction: PriceDirection | None = strawberry.field(
        default=None, description="PRICE_LEVEL: which side of the level."
    )
    level: float | None = strawberry.field(
        default=None, description="PRICE_LEVEL: decimal odds, above 1.0, at most 1000."
    )
    percent: float | None = strawberry.field(default=None, description="PRICE_MOVE: the move in percent, above 0.")
    status: RaceStatus | None = strawberry.field(default=None, description="RACE_STATUS: the status to be told of.")


def _user(info: Info) -> str:
    subject = info.context.viewer.subject
    assert subject is not None  # IsAuthenticated ran first
    return subject


async def create_alert(
    info: Info, input: Annotated[AlertInput, strawberry.argument(description="The alert to create.")]
) -> Alert:
    draft = use_case.AlertDraft(
        kind=models.AlertKind(input.kind.value),
        race_id=parse_id(input.race_id, what="race", field="raceId") if input.race_id is not None else None,
        runner_id=parse_id(input.runner_id, what="runner", field="runnerId") if input.runner_id is not None else None,
        above=None if input.direction is None else input.direction is PriceDirection.AT_OR_ABOVE,
        level=input.level,
        percent=input.percent,
        status=models.RaceStatus(input.status.value) if input.status is not None else None,
    )
    row = await use_case.create_alert(db=info.context.db, user=_user(info), draft=draft)
    return Alert.from_row(row)


async def delete_alert(
    info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="One of the viewer's alerts.")]
) -> strawberry.ID:
    alert_id = parse_id(id, what="alert", field="id", limit=MAX_BIG_ID)
    await use_case.delete_alert(db=info.context.db, user=_user(info), alert_id=alert_id)
    return id


async def mark_notifications_read(
    info: Info,
    ids: Annotated[
        list[strawberry.ID], strawberry.argument(description=f"Notifications to mark read (at most {MAX_MARK_READ}).")
    ],
) -> list[strawberry.ID]:
    wanted = [
        known_id(i, what="notification", field="ids", limit=MAX_BIG_ID)
        for i in bounded(ids, limit=MAX_MARK_READ, field="ids")
    ]
    # An id too large to exist is not the viewer's: ignored, as every other id that is not.
    marked = await notifications.mark_read(
        db=info.context.db, user=_user(info), ids=[i for i in wanted if i is not None]
    )
    return [strawberry.ID(str(i)) for i in marked]
