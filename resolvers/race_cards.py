"""Loading race cards (meetings, races, runners) and scratching runners."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from events.payloads import RunnerScratched
from pubsub import channels
from pubsub.hub import Hub
from resolvers.alert_firing import fire_alerts
from resolvers.errors import BadUserInput, Conflict, NotFound
from resolvers.publishing import publish_committed
from resolvers.sources import TAKES_PRICES
from storage import events, races
from storage.database import Database
from storage.models import CurrentPrice, Meeting, Race, Runner


@dataclass(frozen=True)
class RunnerCard:
    number: int
    horse: str
    jockey: str | None = None
    trainer: str | None = None
    draw: int | None = None
    weight_kg: float | None = None


@dataclass(frozen=True)
class RaceCard:
    number: int
    name: str
    post_time: datetime
    distance_m: int
    runners: tuple[RunnerCard, ...]


@dataclass(frozen=True)
class MeetingCard:
    venue: str
    country: str
    date: date
    races: tuple[RaceCard, ...]
    going: str | None = None


async def load_race_cards(*, db: Database, cards: Sequence[MeetingCard]) -> list[Meeting]:
    """Adds the cards' races to their meetings (a meeting is found by venue and date)."""
    for index, card in enumerate(cards):
        _validate(card, index)
    try:
        async with db.write() as session:
            return [await _load(session, card) for card in cards]
    except IntegrityError:
        # Another writer loaded the same meeting or race number at the same moment.
        raise Conflict("a meeting or race on these cards was loaded concurrently; retry") from None


def _validate(card: MeetingCard, index: int) -> None:
    where = f"meetings[{index}]"
    if not card.venue.strip() or len(card.venue) > 100:
        raise BadUserInput(f"{where}: venue must be 1-100 characters", field="venue", index=index)
    if len(card.country) != 2 or not card.country.isalpha():
        raise BadUserInput(f"{where}: country must be an ISO 3166 alpha-2 code", field="country", index=index)
    _within(card.going, 40, f"{where}: going", "going")
    _unique([r.number for r in card.races], f"{where}: race numbers")
    for race in card.races:
        if not race.name.strip():
            raise BadUserInput(f"{where} race {race.number}: name must be 1-200 characters", field="name")
        _within(race.name, 200, f"{where} race {race.number}: name", "name")
        if race.post_time.tzinfo is None:
            raise BadUserInput(f"{where} race {race.number}: postTime needs a time zone", field="postTime")
        if race.number <= 0 or race.distance_m <= 0:
            raise BadUserInput(f"{where} race {race.number}: number and distance must be positive")
        if not race.runners:
            raise BadUserInput(f"{where} race {race.number}: a race needs runners", field="runners")
        _unique([r.number for r in race.runners], f"{where} race {race.number}: runner numbers")
        for runner in race.runners:
            what = f"{where} race {race.number} runner {runner.number}"
            if not runner.horse.strip():
                raise BadUserInput(f"{what}: horse must be 1-100 characters", field="horse")
            for field, value in (("horse", runner.horse), ("jockey", runner.jockey), ("trainer", runner.trainer)):
                _within(value, 100, f"{what}: {field}", field)


def _within(value: str | None, limit: int, what: str, field: str) -> None:
    """The column's length: a longer value is the client's error, not the database's."""
    if value is not None and len(value) > limit:
        raise BadUserInput(f"{what} must be at most {limit} characters", field=field, limit=limit)


def _unique(numbers: list[int], what: str) -> None:
    if len(set(numbers)) != len(numbers) or any(n <= 0 for n in numbers):
        raise BadUserInput(f"{what} must be distinct positive numbers")


async def _load(session: AsyncSession, card: MeetingCard) -> Meeting:
    meeting = await session.scalar(select(Meeting).where(Meeting.venue == card.venue, Meeting.date == card.date))
    if meeting is None:
        meeting = Meeting(venue=card.venue, country=card.country.upper(), date=card.date, going=card.going)
        session.add(meeting)
        await session.flush()
    elif card.going is not None:
        meeting.going = card.going
    existing = set(await session.scalars(select(Race.number).where(Race.meeting_id == meeting.id)))
    for race_card in card.races:
        if race_card.number in existing:
            raise Conflict(f"{card.venue} {card.date} already has race {race_card.number}", field="number")
        race = Race(
            meeting_id=meeting.id,
            number=race_card.number,
            name=race_card.name,
            post_time=race_card.post_time,
            distance_m=race_card.distance_m,
        )
        session.add(race)
        await session.flush()
        session.add_all(
            Runner(
                race_id=race.id,
                number=r.number,
                horse=r.horse,
                jockey=r.jockey,
                trainer=r.trainer,
                draw=r.draw,
                weight_kg=r.weight_kg,
            )
            for r in race_card.runners
        )
    await session.flush()
    return meeting


async def scratch_runner(*, db: Database, hub: Hub, runner_id: int) -> Runner:
    """Withdraws a runner: its prices leave the market and odds subscribers are told."""
    now = datetime.now(UTC)
    async with db.write() as session:
        runner = (await races.runners_by_ids(session, [runner_id])).get(runner_id)
        if runner is None:
            raise NotFound(f"runner {runner_id} does not exist", field="runnerId")
        race = await races.lock_race(session, runner.race_id)
        assert race is not None
        if runner.scratched:
            raise Conflict(f"runner {runner_id} is already scratched", field="runnerId")
        if race.status not in TAKES_PRICES:
            raise BadUserInput(f"race {race.id} is {race.status.value}: too late to scratch", field="runnerId")
        runner.scratched = True
        await session.execute(delete(CurrentPrice).where(CurrentPrice.runner_id == runner_id))
        event = await events.append(
            session,
            stream=channels.odds(race.id),
            payload=RunnerScratched(race_id=race.id, runner_id=runner.id),
            now=now,
        )
    await publish_committed(hub, event)
    await fire_alerts(db=db, hub=hub, event=event)
    return runner
