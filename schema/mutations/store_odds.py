"""The `storeOdds` mutation."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.types import get_object_definition

from resolvers import store_odds as use_case
from resolvers.errors import BadUserInput, parse_id
from schema.context import Info
from schema.list_limits import bounded
from schema.types.odds import Price, StaleQuote, StoreOddsResult


@strawberry.input(description="One runner's price.")
class RunnerPriceInput:
    runner_id: strawberry.ID = strawberry.field(description="The runner, which must be in the race and not scratched.")
    decimal: float = strawberry.field(description="Decimal odds, above 1.0 and at most 1000.")


@strawberry.input(description="One source's prices for runners of one race at one moment.")
class StoreOddsInput:
    race_id: strawberry.ID = strawberry.field(
        description="The race; it must accept prices (before OFF, not ABANDONED)."
    )
    source: str = strawberry.field(
        description="The bookmaker or exchange code, e.g. 'bet365' (a-z, 0-9, . _ -); one the token's `sources` "
        "claim names, when it has one (FORBIDDEN otherwise)."
    )
    observed_at: datetime = strawberry.field(
        description="When the source offered these prices, with time zone. Older than a stored quote: reported stale."
    )
    prices: list[RunnerPriceInput] = strawberry.field(description="1 to 100 runner prices, one per runner.")
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Retries with the same key get the first answer and store nothing twice. "
        "Keys are the token subject's own: another subject's same key is another key.",
    )


def _build_input(cls: type[StoreOddsInput], value: Mapping[str, Any], _context: Any) -> StoreOddsInput:
    """Builds the input from graphql-core's coerced value (the scalars are parsed already):
    Strawberry's generic conversion cost more than storing the prices (profiled)."""
    return cls(
        race_id=value["raceId"],
        source=value["source"],
        observed_at=value["observedAt"],
        prices=[RunnerPriceInput(runner_id=p["runnerId"], decimal=p["decimal"]) for p in value["prices"]],
        idempotency_key=value.get("idempotencyKey"),
    )


get_object_definition(StoreOddsInput, strict=True).from_input = _build_input


async def store_odds(
    info: Info, input: Annotated[StoreOddsInput, strawberry.argument(description="The prices to store.")]
) -> StoreOddsResult:
    key = input.idempotency_key
    if key is not None and not 1 <= len(key) <= 200:
        raise BadUserInput("idempotencyKey must be 1-200 characters", field="idempotencyKey")
    command = use_case.StoreOdds(
        race_id=parse_id(input.race_id, what="race", field="raceId"),
        source=input.source,
        observed_at=input.observed_at,
        quotes=tuple(
            use_case.Quote(runner_id=parse_id(p.runner_id, what="runner", field="prices"), decimal=p.decimal)
            for p in bounded(input.prices, limit=use_case.MAX_QUOTES, field="prices")
        ),
        idempotency_key=key,
    )
    outcome = await use_case.store_odds(
        odds=info.context.odds,
        command=command,
        writer=info.context.viewer,
        require_sources=info.context.limits.require_token_sources,
    )
    observed = datetime.fromisoformat(outcome.observed_at)
    return StoreOddsResult(
        race_id=strawberry.ID(str(outcome.race_id)),
        seq=outcome.seq,
        cursor=outcome.cursor,
        stored=outcome.stored,
        changed=[
            Price(
                runner_id=strawberry.ID(str(c.runner_id)),
                source=outcome.source,
                decimal=c.decimal,
                observed_at=observed,
            )
            for c in outcome.changed
        ],
        stale=[
            StaleQuote(
                runner_id=strawberry.ID(str(s.runner_id)),
                decimal=s.decimal,
                current_observed_at=s.current_observed_at,
            )
            for s in outcome.stale
        ],
        replayed=outcome.replayed,
    )
