"""Meetings, races and runners."""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Annotated

import strawberry

from resolvers.errors import BadUserInput
from resolvers.market import build_market
from schema.context import Info
from schema.list_size import sized_by
from schema.types.odds import Market, Price
from storage import models

MAX_HISTORY = 500


@strawberry.enum(description="Where a race is in its life. Transitions are enforced by setRaceStatus.")
class RaceStatus(Enum):
    SCHEDULED = strawberry.enum_value("SCHEDULED", description="On the card; no betting yet.")
    BETTING_OPEN = strawberry.enum_value("BETTING_OPEN", description="Prices are live.")
    SUSPENDED = strawberry.enum_value("SUSPENDED", description="Betting paused; may reopen.")
    OFF = strawberry.enum_value("OFF", description="The race has started; no more prices.")
    FINISHED = strawberry.enum_value("FINISHED", description="Past the post; result not yet official.")
    RESULTED = strawberry.enum_value("RESULTED", description="The official result is in.")
    ABANDONED = strawberry.enum_value("ABANDONED", description="The race will not be run.")


@strawberry.federation.type(keys=["id"], description="A race day at one venue.")
class Meeting:
    id: strawberry.ID = strawberry.field(description="The meeting's id.")
    venue: str = strawberry.field(description="The racecourse, e.g. 'Ascot'.")
    country: str = strawberry.field(description="ISO 3166 alpha-2 country code.")
    date: dt.date = strawberry.field(description="The local date of the meeting.")
    going: str | None = strawberry.field(description="The ground, e.g. 'Good to Soft'.")

    @strawberry.field(description="The meeting's races, by race number.")
    async def races(self, info: Info) -> list[Race]:
        rows = await info.context.loaders.races_of_meeting.load(int(self.id))
        return [Race.from_row(row) for row in rows]

    @classmethod
    def from_row(cls, row: models.Meeting) -> Meeting:
        return cls(id=strawberry.ID(str(row.id)), venue=row.venue, country=row.country, date=row.date, going=row.going)

    @classmethod
    async def resolve_reference(cls, info: Info, id: int) -> Meeting | None:
        row = await info.context.loaders.meeting.load(id)
        return cls.from_row(row) if row else None


@strawberry.federation.type(keys=["id"], description="One race on a meeting's card.")
class Race:
    id: strawberry.ID = strawberry.field(description="The race's id.")
    meeting_id: strawberry.Private[int]
    number: int = strawberry.field(description="The race's number on the card, from 1.")
    name: str = strawberry.field(description="The race's title.")
    post_time: dt.datetime = strawberry.field(description="Scheduled start, with time zone.")
    distance_meters: int = strawberry.field(description="Race distance in metres.")
    status: RaceStatus = strawberry.field(description="Current status.")
    result_runner_ids: list[strawberry.ID] | None = strawberry.field(
        description="Runner ids in finishing order, once RESULTED."
    )

    @strawberry.field(description="The meeting the race belongs to.")
    async def meeting(self, info: Info) -> Meeting:
        row = await info.context.loaders.meeting.load(self.meeting_id)
        assert row is not None, "races.meeting_id is a foreign key"
        return Meeting.from_row(row)

    @strawberry.field(description="The runners, by saddle-cloth number, scratched ones included.")
    async def runners(self, info: Info) -> list[Runner]:
        rows = await info.context.loaders.runners_of_race.load(int(self.id))
        return [Runner.from_row(row) for row in rows]

    @strawberry.field(description="The current market: best price per runner, favourite and overround.")
    async def market(self, info: Info) -> Market:
        race_id = int(self.id)
        loaders = info.context.loaders
        runners = await loaders.runners_of_race.load(race_id)
        quotes = await loaders.quotes_of_race.load(race_id)
        return Market.from_market(build_market(race_id, runners, quotes))

    @classmethod
    def from_row(cls, row: models.Race) -> Race:
        return cls(
            id=strawberry.ID(str(row.id)),
            meeting_id=row.meeting_id,
            number=row.number,
            name=row.name,
            post_time=row.post_time,
            distance_meters=row.distance_m,
            status=RaceStatus(row.status.value),
            result_runner_ids=[strawberry.ID(str(r)) for r in row.result] if row.result else None,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: int) -> Race | None:
        row = await info.context.loaders.race.load(id)
        return cls.from_row(row) if row else None


@strawberry.federation.type(keys=["id"], description="A horse entered in a race.")
class Runner:
    id: strawberry.ID = strawberry.field(description="The runner's id.")
    race_id: strawberry.ID = strawberry.field(description="The race it runs in.")
    number: int = strawberry.field(description="Saddle-cloth number.")
    horse: str = strawberry.field(description="The horse's name.")
    jockey: str | None = strawberry.field(description="The jockey.")
    trainer: str | None = strawberry.field(description="The trainer.")
    draw: int | None = strawberry.field(description="Stall number, for flat races.")
    weight_kg: float | None = strawberry.field(description="Weight carried, in kilograms.")
    scratched: bool = strawberry.field(description="True once withdrawn; a scratched runner has no prices.")

    @strawberry.field(description="The runner's current price from each source.")
    async def prices(self, info: Info) -> list[Price]:
        quotes = await info.context.loaders.quotes_of_race.load(int(self.race_id))
        return [Price.from_quote(q) for q in quotes if q.runner_id == int(self.id)]

    @strawberry.field(
        description="The longest current price across LIVE sources; null while unpriced by any (a stale "
        "source's price stays on `prices`, flagged)."
    )
    async def best_price(self, info: Info) -> Price | None:
        prices = [p for p in await self.prices(info) if not p.stale]
        return max(prices, key=lambda p: p.decimal, default=None)

    @strawberry.field(
        description="How the price moved: the newest quotes from all sources, oldest first.",
        metadata=sized_by("last", MAX_HISTORY),
    )
    async def price_history(
        self,
        info: Info,
        last: Annotated[int, strawberry.argument(description=f"How many quotes, 1 to {MAX_HISTORY}.")] = 50,
    ) -> list[Price]:
        if not 1 <= last <= MAX_HISTORY:
            raise BadUserInput(f"last must be between 1 and {MAX_HISTORY}", field="last")
        rows = await info.context.loaders.history(last).load(int(self.id))
        return [Price(runner_id=self.id, source=code, decimal=p.decimal, observed_at=p.observed_at) for p, code in rows]

    @classmethod
    def from_row(cls, row: models.Runner) -> Runner:
        return cls(
            id=strawberry.ID(str(row.id)),
            race_id=strawberry.ID(str(row.race_id)),
            number=row.number,
            horse=row.horse,
            jockey=row.jockey,
            trainer=row.trainer,
            draw=row.draw,
            weight_kg=row.weight_kg,
            scratched=row.scratched,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: int) -> Runner | None:
        row = await info.context.loaders.runner.load(id)
        return cls.from_row(row) if row else None


@strawberry.type(description="Where a page ends, for cursor pagination.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="True when another page follows.")
    end_cursor: str | None = strawberry.field(description="Pass as `after` to get the next page.")

    @classmethod
    def of(cls, cursors: list[str], *, more: bool) -> PageInfo:
        return cls(has_next_page=more, end_cursor=cursors[-1] if cursors else None)


@strawberry.type(description="A race with its cursor.")
class RaceEdge:
    cursor: str = strawberry.field(description="This race's position in the list.")
    node: Race = strawberry.field(description="The race.")


@strawberry.type(description="A page of races, by post time.")
class RaceConnection:
    edges: list[RaceEdge] = strawberry.field(description="The races on this page.")
    page_info: PageInfo = strawberry.field(description="How to get the next page.")


@strawberry.type(description="A race's status change, as delivered live.")
class RaceStatusEvent:
    race_id: strawberry.ID = strawberry.field(description="The race.")
    status: RaceStatus = strawberry.field(description="The new status.")
    previous_status: RaceStatus | None = strawberry.field(description="The status before.")
    result_runner_ids: list[strawberry.ID] | None = strawberry.field(
        description="Runner ids in finishing order, when RESULTED."
    )
    seq: int = strawberry.field(description="The status stream's sequence number (shared by all races).")
    cursor: str = strawberry.field(description="Pass as `after` to resume after this event.")
    changed_at: dt.datetime = strawberry.field(description="When the change was stored.")
