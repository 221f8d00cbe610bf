"""Personal alerts: create (validated, capped per user), list and delete the viewer's own."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from resolvers.errors import BadUserInput, Forbidden, NotFound
from resolvers.market import build_market, quotes
from storage import alerts, prices, races
from storage.database import Database
from storage.models import Alert, AlertKind, RaceStatus

MAX_ALERTS_PER_USER = 100
MAX_USER = 200  # the token subject's length the alerts and notifications keep
RUNNER_KINDS = frozenset({AlertKind.PRICE_LEVEL, AlertKind.PRICE_MOVE, AlertKind.SCRATCHED})


@dataclass(frozen=True)
class AlertDraft:
    kind: AlertKind
    race_id: int | None = None
    runner_id: int | None = None
    above: bool | None = None
    level: float | None = None
    percent: float | None = None
    status: RaceStatus | None = None


async def create_alert(*, db: Database, user: str, draft: AlertDraft) -> Alert:
    if len(user) > MAX_USER:
        raise Forbidden(f"a token whose subject is over {MAX_USER} characters cannot keep alerts")
    _validate(draft)
    now = datetime.now(UTC)
    async with db.write() as session:
        if await alerts.count_of_user(session, user) >= MAX_ALERTS_PER_USER:
            raise BadUserInput(
                f"at most {MAX_ALERTS_PER_USER} alerts per user: delete one first",
                field="kind",
                limit=MAX_ALERTS_PER_USER,
            )
        race_id, reference = await _target(session, draft)
        alert = Alert(
            user=user,
            kind=draft.kind,
            race_id=race_id,
            runner_id=draft.runner_id,
            above=draft.above,
            level=draft.level,
            percent=draft.percent,
            status=draft.status.value if draft.status else None,
            reference=reference,
            armed=True,
            created_at=now,
        )
        session.add(alert)
        await session.flush()
    return alert


async def list_alerts(*, db: Database, user: str) -> list[Alert]:
    async with db.read() as session:
        return await alerts.of_user(session, user)


async def delete_alert(*, db: Database, user: str, alert_id: int) -> None:
    async with db.write() as session:
        if not await alerts.remove(session, user=user, alert_id=alert_id):
            raise NotFound(f"alert {alert_id} does not exist", field="id")


def _validate(draft: AlertDraft) -> None:
    if draft.kind in RUNNER_KINDS:
        if draft.runner_id is None:
            raise BadUserInput(f"a {draft.kind.value} alert needs runnerId", field="runnerId")
    elif draft.race_id is None:
        raise BadUserInput(f"a {draft.kind.value} alert needs raceId", field="raceId")
    if draft.kind is AlertKind.PRICE_LEVEL:
        if draft.above is None:
            raise BadUserInput("a PRICE_LEVEL alert needs direction", field="direction")
        if draft.level is None or not (math.isfinite(draft.level) and 1.0 < draft.level <= 1000.0):
            raise BadUserInput("level must be decimal odds above 1.0 and at most 1000", field="level")
    if draft.kind is AlertKind.PRICE_MOVE and (
        draft.percent is None or not (math.isfinite(draft.percent) and 0.0 < draft.percent <= 1000.0)
    ):
        raise BadUserInput("percent must be above 0 and at most 1000", field="percent")
    if draft.kind is AlertKind.RACE_STATUS and draft.status is None:
        raise BadUserInput("a RACE_STATUS alert needs status", field="status")


async def _target(session: AsyncSession, draft: AlertDraft) -> tuple[int, float | None]:
    """The alert's race, and for a move alert the runner's best price now."""
    if draft.runner_id is None:
        assert draft.race_id is not None
        if draft.race_id not in await races.races_by_ids(session, [draft.race_id]):
            raise NotFound(f"race {draft.race_id} does not exist", field="raceId")
        return draft.race_id, None
    runner = (await races.runners_by_ids(session, [draft.runner_id])).get(draft.runner_id)
    if runner is None:
        raise NotFound(f"runner {draft.runner_id} does not exist", field="runnerId")
    if draft.race_id is not None and draft.race_id != runner.race_id:
        raise BadUserInput(f"runner {runner.id} is not in race {draft.race_id}", field="raceId")
    if runner.scratched:
        raise BadUserInput(f"runner {runner.id} is scratched", field="runnerId")
    reference = None
    if draft.kind is AlertKind.PRICE_MOVE:
        reference = (await best_prices(session, runner.race_id, [runner.id])).get(runner.id)
    return runner.race_id, reference


async def best_prices(session: AsyncSession, race_id: int, runner_ids: list[int]) -> dict[int, float]:
    """Each runner's best price across sources, as the race's market shows it."""
    current = (await prices.current_for_races(session, [race_id]))[race_id]
    runners = (await races.runners_by_ids(session, runner_ids)).values()
    market = build_market(race_id, runners, quotes(current))
    return {q.runner_id: q.decimal for q in market.best}
