"""The subscription streams: odds, race status and news, each resumable by cursor."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from events.envelope import Envelope
from events.payloads import (
    Conflated,
    MarketFreshness,
    NewsPosted,
    OddsChanged,
    Payload,
    RaceStatusChanged,
    RunnerScratched,
    SourcedPrice,
    SourceFreshness,
)
from pubsub import channels
from pubsub.hub import Hub
from resolvers.cursors import decode_positions, encode_positions
from resolvers.errors import BadUserInput, NotFound
from resolvers.market import Quote, build_market, quotes
from resolvers.pacing import Paced, checked_window
from resolvers.streams import SNAPSHOT, StreamFollower, follow_one
from storage import prices, races
from storage.database import Database
from storage.models import NewsArticle


@dataclass(frozen=True)
class OddsUpdate:
    race_id: int
    seq: int
    cursor: str
    snapshot: bool
    source: str | None
    observed_at: datetime | None
    published_at: datetime | None
    prices: tuple[Quote, ...]
    scratched_runner_ids: tuple[int, ...] = ()
    conflated: bool = False
    seq_from: int | None = None
    live: bool = False  # straight from the hub, not replayed from the log
    # After this event, whether every source of the race is stale; None when it does not say (a scratching).
    market_stale: bool | None = None
    source_status: str | None = None  # LIVE or STALE: a freshness event of `source`


CONFLATED = "conflated"


@dataclass(frozen=True)
class StatusChange:
    race_id: int
    status: str
    previous: str | None
    result: tuple[int, ...] | None
    seq: int
    cursor: str
    changed_at: datetime
    live: bool = False


@dataclass(frozen=True)
class NewsPublished:
    article: NewsArticle
    seq: int
    cursor: str
    tags: tuple[str, ...] = field(default=())
    live: bool = False


async def odds_updates(
    *,
    db: Database,
    hub: Hub,
    race_ids: Sequence[int],
    after: str | None,
    snapshot: bool,
    max_races: int,
    on_listening: Callable[[], None] | None = None,
    conflate_replay: bool = False,
    conflate_ms: int | None = 0,
) -> AsyncIterator[OddsUpdate]:
    """With `conflate_ms`, at most one update per race per window of that many milliseconds
    (resolvers/pacing.py)."""
    window = checked_window(conflate_ms)
    ids = await _existing_races(db, race_ids, max_races)
    start = decode_positions(after) if after else {}
    streams = [channels.odds(i) for i in ids]
    paced = Paced(window_ms=window, conflate=conflate_odds, positions=lambda: follower.positions) if window else None
    follower = StreamFollower(
        db=db,
        hub=hub,
        field="oddsUpdated",
        streams=streams,
        start={s: start[s] for s in streams if s in start},
        snapshot=snapshot,
        conflate=conflate_odds,
        on_listening=on_listening,
        conflate_replay=conflate_replay or paced is not None,
        on_caught_up=paced.caught_up if paced is not None else None,
    )
    if paced is not None:
        async for event, positions in paced.run(follower):
            race_id = channels.race_of(event.stream)
            assert race_id is not None
            if event.kind == SNAPSHOT:
                yield await _snapshot(db, race_id, event.seq, encode_positions(positions))
            else:
                yield _odds_update(race_id, event, encode_positions(positions))
        return
    async for event in follower:
        race_id = channels.race_of(event.stream)
        assert race_id is not None
        cursor = encode_positions(follower.positions)
        if event.kind == SNAPSHOT:
            yield await _snapshot(db, race_id, event.seq, cursor)
        else:
            yield _odds_update(race_id, event, cursor, live=follower.live)


async def _existing_races(db: Database, race_ids: Sequence[int], max_races: int) -> list[int]:
    """The races asked for, each once, in order: at least one, at most `max_races`, all existing."""
    ids = list(dict.fromkeys(race_ids))
    if not ids:
        raise BadUserInput("raceIds must name at least one race", field="raceIds")
    if len(ids) > max_races:
        raise BadUserInput(f"at most {max_races} raceIds per subscription", field="raceIds")
    async with db.read() as session:
        found = await races.races_by_ids(session, ids)
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(f"race {missing[0]} does not exist", field="raceIds")
    return ids


def conflate_odds(events: Sequence[Envelope]) -> Envelope:
    """Merges consecutive odds events into one: the latest price per runner and source."""
    latest: dict[tuple[int, str], SourcedPrice] = {}
    scratched: list[int] = []
    market_stale: bool | None = None
    for event in events:
        said = _market_stale(event.payload)
        market_stale = market_stale if said is None else said
        for price in _priced(event.payload):
            latest[(price.runner_id, price.source)] = price
        for runner_id in _scratched(event.payload):
            scratched.append(runner_id)
            latest = {key: p for key, p in latest.items() if key[0] != runner_id}
    first, last = events[0], events[-1]
    return Envelope(
        stream=last.stream,
        seq=last.seq,
        kind=CONFLATED,
        created_at=last.created_at,
        payload=Conflated(
            seq_from=first.payload.seq_from if isinstance(first.payload, Conflated) else first.seq,
            prices=tuple(latest.values()),
            scratched=tuple(scratched),
            market_stale=market_stale,
        ),
    )


def _priced(payload: Payload) -> tuple[SourcedPrice, ...]:
    """An event's prices, each with its own source and observation time."""
    match payload:
        case Conflated():
            return payload.prices
        case MarketFreshness():
            return tuple(
                SourcedPrice(p.runner_id, payload.source, p.decimal, p.observed_at, payload.stale)
                for p in payload.prices
            )
        case OddsChanged():
            return tuple(
                SourcedPrice(p.runner_id, payload.source, p.decimal, payload.observed_at) for p in payload.prices
            )
    return ()


def _quotes(payload: Payload) -> tuple[Quote, ...]:
    """As _priced, straight into the quotes an update holds: made once per execution of every
    event, so without a record in between."""
    match payload:
        case OddsChanged():
            source, at = payload.source, payload.observed_at
            return tuple(Quote(p.runner_id, source, p.decimal, at) for p in payload.prices)
        case MarketFreshness():
            source, stale = payload.source, payload.stale
            return tuple(Quote(p.runner_id, source, p.decimal, p.observed_at, stale) for p in payload.prices)
        case Conflated():
            return tuple(Quote(p.runner_id, p.source, p.decimal, p.observed_at, p.stale) for p in payload.prices)
    return ()


def _market_stale(payload: Payload) -> bool | None:
    """What an event says of the whole market's freshness: a price just heard is live."""
    if isinstance(payload, Conflated | MarketFreshness):
        return payload.market_stale
    return False if isinstance(payload, OddsChanged) else None


def _scratched(payload: Payload) -> tuple[int, ...]:
    if isinstance(payload, Conflated):
        return payload.scratched
    return (payload.runner_id,) if isinstance(payload, RunnerScratched) else ()


def _odds_update(race_id: int, event: Envelope, cursor: str, *, live: bool = False) -> OddsUpdate:
    payload = event.payload
    return OddsUpdate(
        race_id=race_id,
        seq=event.seq,
        cursor=cursor,
        snapshot=False,
        source=payload.source if isinstance(payload, OddsChanged | MarketFreshness) else None,
        observed_at=payload.observed_at if isinstance(payload, OddsChanged) else None,
        published_at=datetime.fromisoformat(event.created_at),
        prices=_quotes(payload),
        scratched_runner_ids=_scratched(payload),
        conflated=isinstance(payload, Conflated),
        seq_from=payload.seq_from if isinstance(payload, Conflated) else event.seq,
        live=live,
        market_stale=_market_stale(payload),
        source_status=payload.status if isinstance(payload, MarketFreshness) else None,
    )


async def _snapshot(db: Database, race_id: int, seq: int, cursor: str) -> OddsUpdate:
    async with db.read() as session:
        current = (await prices.current_for_races(session, [race_id]))[race_id]
        runners = (await races.runners_of_races(session, [race_id]))[race_id]
    current_quotes = quotes(current)
    return OddsUpdate(
        race_id=race_id,
        seq=seq,
        cursor=cursor,
        snapshot=True,
        source=None,
        observed_at=None,
        published_at=None,
        prices=tuple(current_quotes),
        scratched_runner_ids=tuple(r.id for r in runners if r.scratched),
        market_stale=build_market(race_id, runners, current_quotes).stale,
    )


async def status_changes(
    *,
    db: Database,
    hub: Hub,
    race_ids: Sequence[int] | None,
    after: str | None,
    max_races: int,
    on_listening: Callable[[], None] | None = None,
) -> AsyncIterator[StatusChange]:
    wanted = set(race_ids) if race_ids else None
    if wanted is not None and len(wanted) > max_races:
        raise BadUserInput(f"at most {max_races} raceIds per subscription", field="raceIds")
    follower = follow_one(db, hub, "raceStatus", channels.STATUS, after, on_listening)
    async for event in follower:
        payload = event.payload
        if not isinstance(payload, RaceStatusChanged) or (wanted is not None and payload.race_id not in wanted):
            continue  # a snapshot marker
        yield _status_change(payload, event, encode_positions(follower.positions), live=follower.live)


def _status_change(payload: RaceStatusChanged, event: Envelope, cursor: str, *, live: bool = False) -> StatusChange:
    return StatusChange(
        race_id=payload.race_id,
        status=payload.status,
        previous=payload.previous,
        result=payload.result or None,
        seq=event.seq,
        cursor=cursor,
        changed_at=datetime.fromisoformat(event.created_at),
        live=live,
    )


async def published_news(
    *,
    db: Database,
    hub: Hub,
    tags: Sequence[str] | None,
    after: str | None,
    on_listening: Callable[[], None] | None = None,
) -> AsyncIterator[NewsPublished]:
    wanted = set(tags) if tags else None
    follower = follow_one(db, hub, "news", channels.NEWS, after, on_listening)
    async for event in follower:
        payload = event.payload
        if not isinstance(payload, NewsPosted) or (wanted is not None and not wanted.intersection(payload.tags)):
            continue  # a snapshot marker
        async with db.read() as session:
            article = await session.get(NewsArticle, payload.news_id)
        if article is None:
            continue
        yield NewsPublished(
            article=article,
            seq=event.seq,
            cursor=encode_positions(follower.positions),
            tags=payload.tags,
            live=follower.live,
        )


@dataclass(frozen=True)
class FeedChange:
    source: str
    status: str
    last_seen_at: datetime | None
    changed_at: datetime
    seq: int
    cursor: str
    live: bool = False


async def feed_changes(
    *,
    db: Database,
    hub: Hub,
    sources: Sequence[str] | None,
    after: str | None,
    on_listening: Callable[[], None] | None = None,
) -> AsyncIterator[FeedChange]:
    """Price sources going STALE and coming back LIVE; only `sources` when given."""
    wanted = set(sources) if sources else None
    follower = follow_one(db, hub, "feedStatus", channels.FEEDS, after, on_listening)
    async for event in follower:
        payload = event.payload
        if not isinstance(payload, SourceFreshness) or (wanted is not None and payload.source not in wanted):
            continue  # a snapshot marker
        yield FeedChange(
            source=payload.source,
            status=payload.status,
            last_seen_at=payload.last_seen_at,
            changed_at=datetime.fromisoformat(event.created_at),
            seq=event.seq,
            cursor=encode_positions(follower.positions),
            live=follower.live,
        )


@dataclass(frozen=True)
class RaceUpdate:
    race_id: int
    cursor: str
    odds: OddsUpdate | None = None
    status: StatusChange | None = None
    live: bool = False


async def race_updates(
    *,
    db: Database,
    hub: Hub,
    race_ids: Sequence[int],
    after: str | None,
    max_races: int,
    snapshot: bool = False,
    on_listening: Callable[[], None] | None = None,
) -> AsyncIterator[RaceUpdate]:
    """A race screen's one stream: its odds events (prices, scratchings, freshness) and status
    changes, in the order they were stored, under one cursor. A replay is merged by store time."""
    ids = await _existing_races(db, race_ids, max_races)
    start = decode_positions(after) if after else {}
    wanted = set(ids)
    streams = [*(channels.odds(i) for i in ids), channels.STATUS]
    follower = StreamFollower(
        db=db,
        hub=hub,
        field="raceUpdated",
        streams=streams,
        start={s: start[s] for s in streams if s in start},
        snapshot=snapshot,
        on_listening=on_listening,
        replay_in_time_order=True,
    )
    async for event in follower:
        cursor = encode_positions(follower.positions)
        if event.stream == channels.STATUS:
            payload = event.payload
            if not isinstance(payload, RaceStatusChanged) or payload.race_id not in wanted:
                continue  # a snapshot marker
            status = _status_change(payload, event, cursor)
            yield RaceUpdate(race_id=payload.race_id, cursor=cursor, live=follower.live, status=status)
            continue
        race_id = channels.race_of(event.stream)
        assert race_id is not None
        if event.kind == SNAPSHOT:
            yield RaceUpdate(race_id=race_id, cursor=cursor, odds=await _snapshot(db, race_id, event.seq, cursor))
            continue
        yield RaceUpdate(
            race_id=race_id,
            cursor=cursor,
            live=follower.live,
            odds=_odds_update(race_id, event, cursor, live=follower.live),
        )
