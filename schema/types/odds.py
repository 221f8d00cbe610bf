"""Prices in every format, a race's market, and odds events."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from resolvers import market, odds_formats
from schema.context import Info
from schema.types.feeds import FeedStatus

if TYPE_CHECKING:
    from schema.types.races import Runner


@strawberry.type(description="One source's quote for one runner, in every format a racing site shows.")
class Price:
    runner_id: strawberry.ID = strawberry.field(description="The runner quoted.")
    source: str | None = strawberry.field(description="The bookmaker or exchange quoting.")
    decimal: float = strawberry.field(
        description="Decimal (European) odds, stake included: 2.5 returns 2.5 per 1 staked."
    )
    observed_at: datetime | None = strawberry.field(description="When the source offered this price.")
    stale: bool = strawberry.field(
        default=False,
        description="True when its source is STALE (silent for longer than the stale time): show it, but do not "
        "trust it. On a query or snapshot: now; on an event: as of that event.",
    )

    @strawberry.field(description='Fractional odds on the traditional UK ladder, e.g. "6/4"; evens is "1/1".')
    def fractional(self) -> str:
        return odds_formats.to_fractional(self.decimal)

    @strawberry.field(description='American (moneyline) odds, e.g. "+150" or "-110".')
    def american(self) -> str:
        return odds_formats.to_american(self.decimal)

    @strawberry.field(description="The probability the price implies: 1 / decimal, with no margin removed.")
    def implied_probability(self) -> float:
        return odds_formats.implied_probability(self.decimal)

    @strawberry.field(description="The runner quoted, with its card details.")
    async def runner(self, info: Info) -> Annotated[Runner, strawberry.lazy("schema.types.races")] | None:
        from schema.types.races import Runner

        row = await info.context.loaders.runner.load(int(self.runner_id))
        return Runner.from_row(row) if row else None

    @classmethod
    def from_quote(cls, quote: market.Quote) -> Price:
        return cls(
            runner_id=strawberry.ID(str(quote.runner_id)),
            source=quote.source,
            decimal=quote.decimal,
            observed_at=quote.observed_at,
            stale=quote.stale,
        )


@strawberry.type(description="A race's current market: the best price per runner across its live sources.")
class Market:
    race_id: strawberry.ID = strawberry.field(description="The race.")
    best_prices: list[Price] = strawberry.field(
        description="The best (longest) current price of each running runner from a LIVE source, shortest first: "
        "a stale source's prices are left out (they stay on `Runner.prices`, flagged)."
    )
    favourite_runner_id: strawberry.ID | None = strawberry.field(
        description="The runner with the shortest best price; null while unpriced."
    )
    overround: float | None = strawberry.field(
        description="The book percentage over the best prices: sum of 100 / decimal. Over 100 is the margin."
    )
    updated_at: datetime | None = strawberry.field(description="The newest observation among the best prices.")
    stale: bool = strawberry.field(
        default=False,
        description="True when the race is priced but every source quoting it is STALE: no best price, no favourite.",
    )

    @classmethod
    def from_market(cls, found: market.Market) -> Market:
        favourite = found.favourite_runner_id
        return cls(
            race_id=strawberry.ID(str(found.race_id)),
            best_prices=[Price.from_quote(q) for q in found.best],
            favourite_runner_id=strawberry.ID(str(favourite)) if favourite is not None else None,
            overround=found.overround,
            updated_at=found.updated_at,
            stale=found.stale,
        )


@strawberry.type(description="A live odds event for one race.")
class OddsUpdate:
    race_id: strawberry.ID = strawberry.field(description="The race the event is for.")
    seq: int = strawberry.field(
        description="The race's event sequence number: 1, 2, 3 … with no gaps. A snapshot carries the seq it is current at."
    )
    cursor: str = strawberry.field(
        description="Opaque resume point: pass it as `after` to resume after this event with nothing lost."
    )
    snapshot: bool = strawberry.field(description="True when `prices` is the race's full current market, not a change.")
    conflated: bool = strawberry.field(
        description="True when several updates were merged into one (latest price per runner and source), "
        "covering seqs `seqFrom`..`seq`: sent once per window with `conflateMs`, and to a subscriber that fell "
        "behind instead of a backlog."
    )
    seq_from: int | None = strawberry.field(
        description="The first seq this event covers: equal to `seq` except for a conflated update; null for a snapshot."
    )
    source: str | None = strawberry.field(
        description="The source whose quotes changed (or whose freshness did); null for a snapshot or conflated update."
    )
    source_status: FeedStatus | None = strawberry.field(
        default=None,
        description="Set on a freshness event: `source` went STALE or came back LIVE, and `prices` are its quotes "
        "in this race with their `stale` flag. Null on other events.",
    )
    market_stale: bool | None = strawberry.field(
        default=None,
        description="After this event, whether every source quoting the race is STALE (the market's `stale`); "
        "false after a price change, null when the event does not say (a scratching).",
    )
    observed_at: datetime | None = strawberry.field(description="When the source observed the prices.")
    published_at: datetime | None = strawberry.field(description="When Racewire stored the event.")
    prices: list[Price] = strawberry.field(description="The prices that changed (all current prices in a snapshot).")
    scratched_runner_ids: list[strawberry.ID] = strawberry.field(
        description="Runners withdrawn by this event (all scratched runners in a snapshot)."
    )


@strawberry.type(description="A quote that was older than the stored one and was not applied.")
class StaleQuote:
    runner_id: strawberry.ID = strawberry.field(description="The runner quoted.")
    decimal: float = strawberry.field(description="The stale price.")
    current_observed_at: datetime = strawberry.field(description="The observation time of the newer stored quote.")


@strawberry.type(description="What storeOdds did.")
class StoreOddsResult:
    race_id: strawberry.ID = strawberry.field(description="The race priced.")
    seq: int | None = strawberry.field(
        description="The seq of the event published; null when no price changed (nothing published)."
    )
    cursor: str | None = strawberry.field(description="The cursor of that event.")
    stored: int = strawberry.field(description="Quotes stored in the price history.")
    changed: list[Price] = strawberry.field(description="Quotes that changed the current price and were published.")
    stale: list[StaleQuote] = strawberry.field(description="Quotes ignored because a newer one was stored.")
    replayed: bool = strawberry.field(
        description="True when this answer was stored earlier under the same idempotency key: nothing new was stored."
    )
