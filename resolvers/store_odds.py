"""`storeOdds`: validate, store quotes and one log event in a transaction, then publish."""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
from sqlalchemy.exc import IntegrityError

from pubsub import channels
from pubsub.envelope import Envelope
from pubsub.hub import Hub
from resolvers.cursors import encode_positions
from resolvers.errors import BadUserInput, Conflict, NotFound
from resolvers.alert_firing import fire_alerts
from resolvers.publishing import publish_committed
from storage import events, idempotency, prices, races
from storage.database import Database
from storage.models import CurrentPrice, Price, RaceStatus

ACCEPTS_PRICES = frozenset({RaceStatus.SCHEDULED, RaceStatus.BETTING_OPEN, RaceStatus.SUSPENDED})
MAX_QUOTES = 100
MAX_CLOCK_SKEW = timedelta(minutes=5)
SOURCE_CODE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")


@dataclass(frozen=True)
class Quote:
    runner_id: int
    decimal: float


@dataclass(frozen=True)
class StoreOdds:
    race_id: int
    source: str
    observed_at: datetime
    quotes: tuple[Quote, ...]
    idempotency_key: str | None = None


@dataclass
class StoreOddsOutcome:
    race_id: int
    source: str
    observed_at: str
    seq: int | None = None
    cursor: str | None = None
    stored: int = 0
    changed: list[dict[str, Any]] = field(default_factory=list)
    stale: list[dict[str, Any]] = field(default_factory=list)
    replayed: bool = False


async def store_odds(*, db: Database, hub: Hub, command: StoreOdds) -> StoreOddsOutcome:
    with hub.telemetry.mutation("storeOdds"):
        return await _store_and_publish(db=db, hub=hub, command=command)


async def _store_and_publish(*, db: Database, hub: Hub, command: StoreOdds) -> StoreOddsOutcome:
    _validate(command)
    try:
        outcome, event = await _store(db, command)
    except IntegrityError:
        if command.idempotency_key is None:
            raise
        # A concurrent request with the same key committed first: answer as it did.
        outcome, event = await _store(db, command)
    await publish_committed(hub, event)
    await fire_alerts(db=db, hub=hub, event=event)
    return outcome


def _validate(command: StoreOdds) -> None:
    if not SOURCE_CODE.match(command.source):
        raise BadUserInput(
            "source must be 1-40 characters of a-z, 0-9, '.', '_' or '-'", field="source"
        )
    if command.observed_at.tzinfo is None:
        raise BadUserInput("observedAt must carry a time zone", field="observedAt")
    if command.observed_at > datetime.now(timezone.utc) + MAX_CLOCK_SKEW:
        raise BadUserInput("observedAt is in the future", field="observedAt")
    if not command.quotes:
        raise BadUserInput("prices must hold at least one price", field="prices")
    if len(command.quotes) > MAX_QUOTES:
        raise BadUserInput(f"at most {MAX_QUOTES} prices per call", field="prices")
    seen: set[int] = set()
    for index, quote in enumerate(command.quotes):
        if not (math.isfinite(quote.decimal) and 1.0 < quote.decimal <= 1000.0):
            raise BadUserInput(
                f"prices[{index}]: decimal odds must be above 1.0 and at most 1000, got {quote.decimal}",
                field="prices", index=index, runnerId=str(quote.runner_id),
            )
        if quote.runner_id in seen:
            raise BadUserInput(
                f"prices[{index}]: runner {quote.runner_id} is priced twice",
                field="prices", index=index, runnerId=str(quote.runner_id),
            )
        seen.add(quote.runner_id)


async def _store(db: Database, command: StoreOdds) -> tuple[StoreOddsOutcome, Envelope | None]:
    now = datetime.now(timezone.utc)
    request_hash = _request_hash(command)
    async with db.write() as session:
        if command.idempotency_key is not None:
            earlier = await idempotency.find(session, command.idempotency_key)
            if earlier is not None:
                if earlier.request_hash != request_hash:
                    raise Conflict(
                        "idempotencyKey was already used for a different request",
                        field="idempotencyKey",
                    )
                return StoreOddsOutcome(**{**earlier.response, "replayed": True}), None

        race = await races.lock_race(session, command.race_id)
        if race is None:
            raise NotFound(f"race {command.race_id} does not exist", field="raceId")
        if race.status not in ACCEPTS_PRICES:
            raise BadUserInput(
                f"race {race.id} is {race.status.value} and accepts no prices",
                field="raceId", status=race.status.value,
            )
        await _check_runners(session, command)

        source = await prices.source_id(session, command.source)
        current = await prices.current_for_runners(
            session, source=source, runner_ids=[q.runner_id for q in command.quotes]
        )
        outcome = StoreOddsOutcome(
            race_id=race.id, source=command.source, observed_at=command.observed_at.isoformat()
        )
        for quote in command.quotes:
            _apply(session, outcome, command, quote, current.get(quote.runner_id), source, now)

        event = None
        if outcome.changed:
            event = await events.append(
                session,
                stream=channels.odds(race.id),
                kind="odds",
                payload={
                    "raceId": race.id,
                    "source": command.source,
                    "observedAt": outcome.observed_at,
                    "prices": outcome.changed,
                },
                now=now,
            )
            outcome.seq = event.seq
            outcome.cursor = encode_positions({event.stream: event.seq})
        if command.idempotency_key is not None:
            await idempotency.remember(
                session, key=command.idempotency_key, request_hash=request_hash,
                response=asdict(outcome), now=now,
            )
    return outcome, event


async def _check_runners(session: Any, command: StoreOdds) -> None:
    found = await races.runners_by_ids(session, [q.runner_id for q in command.quotes])
    for index, quote in enumerate(command.quotes):
        runner = found.get(quote.runner_id)
        details = {"field": "prices", "index": index, "runnerId": str(quote.runner_id)}
        if runner is None or runner.race_id != command.race_id:
            raise BadUserInput(
                f"prices[{index}]: runner {quote.runner_id} is not in race {command.race_id}", **details
            )
        if runner.scratched:
            raise BadUserInput(f"prices[{index}]: runner {quote.runner_id} is scratched", **details)


def _apply(
    session: Any,
    outcome: StoreOddsOutcome,
    command: StoreOdds,
    quote: Quote,
    current: CurrentPrice | None,
    source: int,
    now: datetime,
) -> None:
    if current is not None and command.observed_at < current.observed_at:
        outcome.stale.append(
            {"runnerId": quote.runner_id, "decimal": quote.decimal,
             "currentObservedAt": current.observed_at.isoformat()}
        )
        return
    session.add(
        Price(race_id=command.race_id, runner_id=quote.runner_id, source_id=source,
              decimal=quote.decimal, observed_at=command.observed_at, stored_at=now)
    )
    outcome.stored += 1
    if current is None:
        session.add(
            CurrentPrice(runner_id=quote.runner_id, source_id=source, race_id=command.race_id,
                         decimal=quote.decimal, observed_at=command.observed_at)
        )
    elif current.decimal == quote.decimal:
        current.observed_at = command.observed_at
        return
    else:
        current.decimal = quote.decimal
        current.observed_at = command.observed_at
    outcome.changed.append({"runnerId": quote.runner_id, "decimal": quote.decimal})


def _request_hash(command: StoreOdds) -> str:
    body = orjson.dumps(
        [command.race_id, command.source, command.observed_at.isoformat(),
         [[q.runner_id, q.decimal] for q in command.quotes]]
    )
    return hashlib.sha256(body).hexdigest()
