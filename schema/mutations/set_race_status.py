"""The `setRaceStatus` mutation."""

from __future__ import annotations

from typing import Annotated

import strawberry

from resolvers.errors import parse_id
from resolvers.race_status import set_race_status as use_case
from schema.context import Info
from schema.list_limits import MAX_RUNNERS, bounded
from schema.types.races import Race, RaceStatus
from storage import models


async def set_race_status(
    info: Info,
    race_id: Annotated[strawberry.ID, strawberry.argument(description="The race.")],
    status: Annotated[
        RaceStatus,
        strawberry.argument(
            description="The new status: SCHEDULED → BETTING_OPEN ⇄ SUSPENDED → OFF → FINISHED → RESULTED; "
            "ABANDONED from any state before FINISHED."
        ),
    ],
    result: Annotated[
        list[strawberry.ID] | None,
        strawberry.argument(description=f"With RESULTED only: runner ids in finishing order (at most {MAX_RUNNERS})."),
    ] = None,
) -> Race:
    race = await use_case(
        db=info.context.db,
        hub=info.context.hub,
        race_id=parse_id(race_id, what="race", field="raceId"),
        status=models.RaceStatus(status.value),
        result=[parse_id(r, what="runner", field="result") for r in bounded(result, limit=MAX_RUNNERS, field="result")]
        if result is not None
        else None,
    )
    return Race.from_row(race)
