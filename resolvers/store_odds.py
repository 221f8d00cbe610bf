"""`storeOdds`: validate, store quotes and one log event per call, then publish. Calls that
arrive while a write is under way share the next transaction."""

from __future__ import annotations

import functools
import hashlib
import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from events import codec
from events.envelope import Envelope
from events.payloads import OddsChanged, PriceChange, StalePrice
from pubsub import channels
from pubsub.hub import Hub
from resolvers.alert_firing import fire_price_alerts
from resolvers.cursors import encode_positions
from resolvers.errors import BadUserInput, Conflict, NotFound
from resolvers.feed_health import RecentHeartbeats, revive
from resolvers.publishing import publish_committed
from resolvers.sources import TAKES_PRICES, authorize_source, check_source
from resolvers.viewer import Viewer
from resolvers.write_batches import WriteBatches
from storage import events, idempotency, prices, races
from storage.database import Database
from storage.models import IdempotencyKey, Race, Runner

log = logging.getLogger(__name__)

MAX_QUOTES = 100
MAX_BATCH = 100  # commands per transaction
MAX_CLOCK_SKEW = timedelta(minutes=5)
SERVER = ""  # the subject of the server's own writes (its feed): no token's subject is empty


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
    changed: list[PriceChange] = field(default_factory=list)
    stale: list[StalePrice] = field(default_factory=list)
    replayed: bool = False

    def stored_form(self) -> dict[str, Any]:
        """As remembered for the idempotency key's replay: JSON, the prices in the codec's form."""
        return {
            "race_id": self.race_id,
            "source": self.source,
            "observed_at": self.observed_at,
            "seq": self.seq,
            "cursor": self.cursor,
            "stored": self.stored,
            "changed": [codec.encode_price_change(c) for c in self.changed],
            "stale": [codec.encode_stale_price(s) for s in self.stale],
            "replayed": self.replayed,
        }

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> StoreOddsOutcome:
        """Reads what `stored_form` wrote, and the form before it (camelCase prices)."""
        return cls(
            race_id=stored["race_id"],
            source=stored["source"],
            observed_at=stored["observed_at"],
            seq=stored["seq"],
            cursor=stored["cursor"],
            stored=stored["stored"],
            changed=[codec.decode_price_change(c) for c in stored["changed"]],
            stale=[codec.decode_stale_price(s) for s in stored["stale"]],
            replayed=stored["replayed"],
        )


async def store_odds(
    *, odds: OddsWriter, command: StoreOdds, writer: Viewer | None = None, require_sources: bool = False
) -> StoreOddsOutcome:
    """Stores one call. `writer` is the token's viewer (None: the server's own feed): its idempotency
    keys are its own, and it may write only the sources its token names (`require_sources`: a
    token that names none may write none)."""
    with odds.hub.telemetry.mutation("storeOdds"):
        _validate(command)
        if writer is not None:
            authorize_source(writer, command.source, required=require_sources)
        subject = SERVER if writer is None else writer.subject or SERVER
        return await odds.submit(_Write(command, subject))


@dataclass(frozen=True)
class _Write:
    command: StoreOdds
    subject: str

    @property
    def owned_key(self) -> idempotency.Owned | None:
        key = self.command.idempotency_key
        return None if key is None else (self.subject, key)


class OddsWriter:
    """The writes of one database and hub: concurrent storeOdds calls share a transaction, in arrival
    order. create_app builds one and hands it to every caller, so all of a process's writes batch
    together; it also remembers when it last wrote each source's heartbeat."""

    __slots__ = ("_batches", "heartbeats", "hub")

    def __init__(self, db: Database, hub: Hub) -> None:
        self.hub = hub
        self.heartbeats = RecentHeartbeats()
        self._batches: WriteBatches[_Write, StoreOddsOutcome] = WriteBatches(
            functools.partial(_store_and_publish, db, hub, self.heartbeats),
            max_batch=MAX_BATCH,
            key=lambda write: write.owned_key,
        )

    async def submit(self, write: _Write) -> StoreOddsOutcome:
        return await self._batches.submit(write)


async def _store_and_publish(
    db: Database, hub: Hub, recent: RecentHeartbeats, writes: list[_Write]
) -> list[StoreOddsOutcome | Exception]:
    results, events, freshness, heard = await _store(db, writes, recent)
    recent.wrote(heard)
    for status_change in freshness:
        await publish_committed(hub, status_change)
    published = [event for event in events if event is not None]
    for event in published:
        await publish_committed(hub, event)
    await fire_price_alerts(db=db, hub=hub, events=published)
    return results


def _validate(command: StoreOdds) -> None:
    check_source(command.source)
    if command.observed_at.tzinfo is None:
        raise BadUserInput("observedAt must carry a time zone", field="observedAt")
    if command.observed_at > datetime.now(UTC) + MAX_CLOCK_SKEW:
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
                field="prices",
                index=index,
                runnerId=str(quote.runner_id),
            )
        if quote.runner_id in seen:
            raise BadUserInput(
                f"prices[{index}]: runner {quote.runner_id} is priced twice",
                field="prices",
                index=index,
                runnerId=str(quote.runner_id),
            )
        seen.add(quote.runner_id)


async def _store(
    db: Database, writes: list[_Write], recent: RecentHeartbeats
) -> tuple[list[StoreOddsOutcome | Exception], list[Envelope | None], list[Envelope], list[int]]:
    """Stores the writes in one transaction, in order, as if one after another: a refused
    write stores nothing and leaves the others alone. Also returns the freshness events of the
    sources the batch brought back to LIVE, and the sources whose heartbeat it wrote."""
    now = datetime.now(UTC)
    results: list[StoreOddsOutcome | Exception] = []
    async with db.write() as session:
        earlier = await idempotency.find_many(session, [w.owned_key for w in writes if w.owned_key is not None])
        fresh = [w.command for w in writes if w.owned_key not in earlier]
        written, appended, freshness, heard = await _write(session, fresh, now, recent) if fresh else ({}, {}, [], [])
        for write in writes:
            key = write.owned_key
            if key is not None and key in earlier:
                results.append(_replay(earlier[key], write.command))
            else:
                results.append(written[id(write.command)])
        await idempotency.remember_many(
            session,
            [
                {
                    "subject": w.subject,
                    "key": w.command.idempotency_key,
                    "request_hash": _request_hash(w.command),
                    "response": outcome.stored_form(),
                    "created_at": now,
                }
                for w, outcome in zip(writes, results, strict=True)
                if w.owned_key is not None and w.owned_key not in earlier and isinstance(outcome, StoreOddsOutcome)
            ],
        )
    return results, [appended.get(id(write.command)) for write in writes], freshness, heard


async def _write(
    session: AsyncSession, commands: list[StoreOdds], now: datetime, recent: RecentHeartbeats
) -> tuple[dict[int, StoreOddsOutcome | Exception], dict[int, Envelope], list[Envelope], list[int]]:
    """Outcomes and events, by id(command); freshness events; the sources heartbeats were written for."""
    race_rows = await races.lock_races(session, sorted({c.race_id for c in commands}))
    runners = await races.runners_by_ids(session, sorted({q.runner_id for c in commands for q in c.quotes}))
    results: dict[int, StoreOddsOutcome | Exception] = {}
    accepted: list[StoreOdds] = []
    for command in commands:
        refusal = _refusal(command, race_rows.get(command.race_id), runners)
        if refusal is None:
            accepted.append(command)
        else:
            results[id(command)] = refusal
    if not accepted:
        return results, {}, [], []

    sources = await prices.source_ids(session, sorted({c.source for c in accepted}), now=now)
    # Every accepted call is a heartbeat, written before any odds stream is touched (the order all
    # writers lock in), and at most every RecentHeartbeats.SPACING per source: a source's row is
    # then held through a price write rarely, so processes writing one source seldom queue on it.
    heard = recent.due(sources.values())
    freshness = await revive(session, heard, now) if heard else []
    runner_ids = sorted({q.runner_id for c in accepted for q in c.quotes})
    book = _Book(await prices.current_quotes(session, runner_ids=runner_ids, source_ids=list(sources.values())))
    changed: dict[str, list[tuple[StoreOdds, StoreOddsOutcome]]] = {}
    for command in accepted:
        outcome = results[id(command)] = book.apply(command, sources[command.source], now)
        if outcome.changed:
            changed.setdefault(channels.odds(command.race_id), []).append((command, outcome))
    await prices.store_quotes(session, book.history, book.current_rows())

    appended: dict[int, Envelope] = {}
    for stream, pairs in changed.items():
        payloads = [OddsChanged(c.race_id, c.source, c.observed_at, tuple(o.changed)) for c, o in pairs]
        for (command, outcome), event in zip(
            pairs, await events.append_many(session, stream, payloads, now=now), strict=True
        ):
            outcome.seq = event.seq
            outcome.cursor = encode_positions({event.stream: event.seq})
            appended[id(command)] = event
    return results, appended, freshness, heard


def _refusal(command: StoreOdds, race: Race | None, runners: dict[int, Runner]) -> Exception | None:
    if race is None:
        return NotFound(f"race {command.race_id} does not exist", field="raceId")
    if race.status not in TAKES_PRICES:
        return BadUserInput(
            f"race {race.id} is {race.status.value} and accepts no prices",
            field="raceId",
            status=race.status.value,
        )
    for index, quote in enumerate(command.quotes):
        runner = runners.get(quote.runner_id)
        details = {"field": "prices", "index": index, "runnerId": str(quote.runner_id)}
        if runner is None or runner.race_id != command.race_id:
            return BadUserInput(
                f"prices[{index}]: runner {quote.runner_id} is not in race {command.race_id}", **details
            )
        if runner.scratched:
            return BadUserInput(f"prices[{index}]: runner {quote.runner_id} is scratched", **details)
    return None


class _Book:
    """The current quotes as the batch moves them, and the rows it will write."""

    def __init__(self, current: dict[tuple[int, int], prices.Quoted]) -> None:
        # (runner, source) -> (decimal, observed_at)
        self._current = current
        self._races: dict[tuple[int, int], int] = {}  # touched (runner, source) -> race
        self.history: list[dict[str, Any]] = []

    def apply(self, command: StoreOdds, source: int, now: datetime) -> StoreOddsOutcome:
        outcome = StoreOddsOutcome(
            race_id=command.race_id, source=command.source, observed_at=command.observed_at.isoformat()
        )
        for quote in command.quotes:
            key = (quote.runner_id, source)
            held = self._current.get(key)
            if held is not None and command.observed_at < held[1]:
                outcome.stale.append(StalePrice(quote.runner_id, quote.decimal, held[1]))
                continue
            self.history.append(
                {
                    "race_id": command.race_id,
                    "runner_id": quote.runner_id,
                    "source_id": source,
                    "decimal": quote.decimal,
                    "observed_at": command.observed_at,
                    "stored_at": now,
                }
            )
            outcome.stored += 1
            self._current[key] = (quote.decimal, command.observed_at)
            self._races[key] = command.race_id
            if held is None or held[0] != quote.decimal:
                outcome.changed.append(PriceChange(quote.runner_id, quote.decimal))
        return outcome

    def current_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "runner_id": runner,
                "source_id": source,
                "race_id": race,
                "decimal": self._current[runner, source][0],
                "observed_at": self._current[runner, source][1],
            }
            for (runner, source), race in self._races.items()
        ]


def _replay(earlier: IdempotencyKey, command: StoreOdds) -> StoreOddsOutcome | Exception:
    if earlier.request_hash != _request_hash(command):
        return Conflict("idempotencyKey was already used for a different request", field="idempotencyKey")
    stored: dict[str, Any] = earlier.response  # the outcome's fields, as JSON
    return StoreOddsOutcome.from_stored({**stored, "replayed": True})


def _request_hash(command: StoreOdds) -> str:
    body = orjson.dumps(
        [
            command.race_id,
            command.source,
            command.observed_at.isoformat(),
            [[q.runner_id, q.decimal] for q in command.quotes],
        ]
    )
    return hashlib.sha256(body).hexdigest()
