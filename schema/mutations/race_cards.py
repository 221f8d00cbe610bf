"""The `loadRaceCards` and `scratchRunner` mutations."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry

from resolvers import race_cards as use_case
from resolvers.errors import parse_id
from schema.context import Info
from schema.list_limits import MAX_MEETINGS, MAX_RACES_PER_MEETING, MAX_RUNNERS, bounded
from schema.types.races import Meeting, Runner


@strawberry.input(description="A runner on a race card.")
class RunnerCardInput:
    number: int = strawberry.field(description="Saddle-cloth number, unique in the race.")
    horse: str = strawberry.field(description="The horse's name.")
    jockey: str | None = strawberry.field(default=None, description="The jockey.")
    trainer: str | None = strawberry.field(default=None, description="The trainer.")
    draw: int | None = strawberry.field(default=None, description="Stall number.")
    weight_kg: float | None = strawberry.field(default=None, description="Weight carried, in kilograms.")


@strawberry.input(description="A race on a meeting's card.")
class RaceCardInput:
    number: int = strawberry.field(description="Race number, unique in the meeting.")
    name: str = strawberry.field(description="The race's title.")
    post_time: dt.datetime = strawberry.field(description="Scheduled start, with time zone.")
    distance_meters: int = strawberry.field(description="Distance in metres.")
    runners: list[RunnerCardInput] = strawberry.field(description=f"The runners (at most {MAX_RUNNERS}).")


@strawberry.input(description="A meeting's card. An existing meeting (same venue and date) gets the races added.")
class MeetingCardInput:
    venue: str = strawberry.field(description="The racecourse.")
    country: str = strawberry.field(description="ISO 3166 alpha-2 country code.")
    date: dt.date = strawberry.field(description="The meeting date.")
    going: str | None = strawberry.field(default=None, description="The ground.")
    races: list[RaceCardInput] = strawberry.field(
        description=f"Races to add (at most {MAX_RACES_PER_MEETING}); their numbers must be new."
    )


async def load_race_cards(
    info: Info,
    meetings: Annotated[
        list[MeetingCardInput], strawberry.argument(description=f"The cards to load (at most {MAX_MEETINGS}).")
    ],
) -> list[Meeting]:
    cards = [
        use_case.MeetingCard(
            venue=m.venue,
            country=m.country,
            date=m.date,
            going=m.going,
            races=tuple(
                use_case.RaceCard(
                    number=r.number,
                    name=r.name,
                    post_time=r.post_time,
                    distance_m=r.distance_meters,
                    runners=tuple(
                        use_case.RunnerCard(
                            number=x.number,
                            horse=x.horse,
                            jockey=x.jockey,
                            trainer=x.trainer,
                            draw=x.draw,
                            weight_kg=x.weight_kg,
                        )
                        for x in bounded(r.runners, limit=MAX_RUNNERS, field="runners")
                    ),
                )
                for r in bounded(m.races, limit=MAX_RACES_PER_MEETING, field="races")
            ),
        )
        for m in bounded(meetings, limit=MAX_MEETINGS, field="meetings")
    ]
    rows = await use_case.load_race_cards(db=info.context.db, cards=cards)
    return [Meeting.from_row(row) for row in rows]


async def scratch_runner(
    info: Info, runner_id: Annotated[strawberry.ID, strawberry.argument(description="The runner to withdraw.")]
) -> Runner:
    runner = await use_case.scratch_runner(
        db=info.context.db, hub=info.context.hub, runner_id=parse_id(runner_id, what="runner", field="runnerId")
    )
    return Runner.from_row(runner)
