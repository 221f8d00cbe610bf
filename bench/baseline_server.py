"""The baseline: the same API shape served the way Strawberry's documentation shows it, a
broadcaster subscription per subscriber and the executor run per subscriber per event.
Bench only; not part of the product. Stores each quote in SQLite, as Racewire does."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import datetime

import strawberry
import uvicorn
from broadcaster import Broadcast
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette
from starlette.routing import Route, WebSocketRoute
from strawberry.asgi import GraphQL

from resolvers.odds_formats import to_fractional

broadcast = Broadcast("memory://")
engine = create_async_engine(f"sqlite+aiosqlite:///{os.environ['BASELINE_DB']}")
seqs: dict[str, int] = {}


@strawberry.type
class Price:
    runner_id: strawberry.ID
    decimal: float

    @strawberry.field
    def fractional(self) -> str:
        return to_fractional(self.decimal)


@strawberry.type
class OddsUpdate:
    race_id: strawberry.ID
    seq: int
    prices: list[Price]


@strawberry.input
class RunnerPriceInput:
    runner_id: strawberry.ID
    decimal: float


@strawberry.input
class StoreOddsInput:
    race_id: strawberry.ID
    source: str
    observed_at: datetime
    prices: list[RunnerPriceInput]


@strawberry.type
class StoreOddsResult:
    seq: int


@strawberry.type
class Query:
    ok: bool = True


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def store_odds(self, input: StoreOddsInput) -> StoreOddsResult:
        async with engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO prices (race, runner, decimal, observed_at) VALUES (:race, :runner, :decimal, :at)"),
                [
                    {
                        "race": input.race_id,
                        "runner": p.runner_id,
                        "decimal": p.decimal,
                        "at": input.observed_at.isoformat(),
                    }
                    for p in input.prices
                ],
            )
        seq = seqs[input.race_id] = seqs.get(input.race_id, 0) + 1
        message = {
            "raceId": input.race_id,
            "seq": seq,
            "prices": [{"runnerId": p.runner_id, "decimal": p.decimal} for p in input.prices],
        }
        await broadcast.publish(channel=f"race:{input.race_id}", message=json.dumps(message))
        return StoreOddsResult(seq=seq)


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def odds_updated(self, race_ids: list[strawberry.ID]) -> AsyncGenerator[OddsUpdate, None]:
        async with broadcast.subscribe(channel=f"race:{race_ids[0]}") as subscriber:
            async for event in subscriber:
                data = json.loads(event.message)
                yield OddsUpdate(
                    race_id=data["raceId"],
                    seq=data["seq"],
                    prices=[Price(runner_id=p["runnerId"], decimal=p["decimal"]) for p in data["prices"]],
                )


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    async with engine.begin() as conn:
        await conn.execute(
            text("CREATE TABLE IF NOT EXISTS prices (race TEXT, runner TEXT, decimal REAL, observed_at TEXT)")
        )
    await broadcast.connect()
    yield
    await broadcast.disconnect()


graphql = GraphQL(strawberry.Schema(query=Query, mutation=Mutation, subscription=Subscription))
app = Starlette(
    routes=[Route("/graphql", graphql, methods=["GET", "POST"]), WebSocketRoute("/graphql", graphql)], lifespan=lifespan
)

if __name__ == "__main__":
    uvicorn.run(
        app, host="127.0.0.1", port=int(os.environ["BASELINE_PORT"]), log_level="warning", ws="websockets-sansio"
    )
