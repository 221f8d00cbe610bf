"""The race status state machine and `setRaceStatus`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from events.payloads import RaceStatusChanged
from pubsub import channels
from pubsub.hub import Hub
from resolvers.alert_firing import fire_alerts
from resolvers.errors import BadUserInput, NotFound
from resolvers.publishing import publish_committed
from storage import events, races
from storage.database import Database
from storage.models import Race, RaceStatus

S = RaceStatus
_NEXT: dict[RaceStatus, frozenset[RaceStatus]] = {
    S.SCHEDULED: frozenset({S.BETTING_OPEN, S.ABANDONED}),
    S.BETTING_OPEN: frozenset({S.SUSPENDED, S.OFF, S.ABANDONED}),
    S.SUSPENDED: frozenset({S.BETTING_OPEN, S.ABANDONED}),
    S.OFF: frozenset({S.FINISHED, S.ABANDONED}),
    S.FINISHED: frozenset({S.RESULTED}),
    S.RESULTED: frozenset(),
    S.ABANDONED: frozenset(),
}


def allowed_next(status: RaceStatus) -> frozenset[RaceStatus]:
    return _NEXT[status]


async def set_race_status(
    *, db: Database, hub: Hub, race_id: int, status: RaceStatus, result: Sequence[int] | None = None
) -> Race:
    now = datetime.now(UTC)
    async with db.write() as session:
        race = await races.lock_race(session, race_id)
        if race is None:
            raise NotFound(f"race {race_id} does not exist", field="raceId")
        previous = race.status
        if status not in _NEXT[previous]:
            allowed = ", ".join(sorted(s.value for s in _NEXT[previous])) or "none"
            raise BadUserInput(
                f"race {race_id} cannot go from {previous.value} to {status.value} (allowed: {allowed})",
                field="status",
                current=previous.value,
                requested=status.value,
            )
        race.result = await _checked_result(session, race, status, result)
        race.status = status
        event = await events.append(
            session,
            stream=channels.STATUS,
            payload=RaceStatusChanged(
                race_id=race.id,
                status=status.value,
                previous=previous.value,
                result=None if race.result is None else tuple(race.result),
            ),
            now=now,
        )
    await publish_committed(hub, event)
    await fire_alerts(db=db, hub=hub, event=event)
    return race


async def _checked_result(
    session: AsyncSession, race: Race, status: RaceStatus, result: Sequence[int] | None
) -> list[int] | None:
    if result is None:
        if status is S.RESULTED:
            raise BadUserInput("a RESULTED race needs its result (runner ids in finishing order)", field="result")
        return race.result
    if status is not S.RESULTED:
        raise BadUserInput("result is given only with status RESULTED", field="result")
    runners = (await races.runners_of_races(session, [race.id]))[race.id]
    runnable = {r.id for r in runners if not r.scratched}
    if not result or len(set(result)) != len(result) or not set(result) <= runnable:
        raise BadUserInput(f"result must list distinct, non-scratched runners of race {race.id}", field="result")
    return list(result)
