"""The subscription streams: odds, race status and news, each resumable by cursor."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pubsub import channels
from pubsub.envelope import Envelope
from pubsub.hub import Hub
from resolvers.cursors import decode_positions, encode_positions
from resolvers.errors import BadUserInput, NotFound
from resolvers.market import Quote, quotes
from resolvers.streams import SNAPSHOT, StreamFollower
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


@dataclass(frozen=True)
class StatusChange:
    race_id: int
    status: str
    previous: str | None
    result: tuple[int, ...] | None
    seq: int
    cursor: str
    changed_at: datetime


@dataclass(frozen=True)
class NewsPublished:
    article: NewsArticle
    seq: int
    cursor: str
    tags: tuple[str, ...] = field(default=())


async def odds_updates(
    *, db: Database, hub: Hub, race_ids: Sequence[int], after: str | None, snapshot: bool,
    max_races: int,
) -> AsyncIterator[OddsUpdate]:
    ids = list(dict.fromkeys(race_ids))
    if not ids:
        raise BadUserInput("raceIds must name at least one race", field="raceIds")
    if len(ids) > max_races:
        raise BadUserInput(f"at most {max_races} raceIds per subscription", field="raceIds")
    start = decode_positions(after) if after else {}
    async with db.read() as session:
        found = await races.races_by_ids(session, ids)
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(f"race {missing[0]} does not exist", field="raceIds")
    streams = [channels.odds(i) for i in ids]
    follower = StreamFollower(
        db=db, hub=hub, streams=streams,
        start={s: start[s] for s in streams if s in start}, snapshot=snapshot,
    )
    async for event in follower:
        race_id = channels.race_of(event.stream)
        assert race_id is not None
        cursor = encode_positions(follower.positions)
        if event.kind == SNAPSHOT:
            yield await _snapshot(db, race_id, event.seq, cursor)
        else:
            yield _odds_update(race_id, event, cursor)


def _odds_update(race_id: int, event: Envelope, cursor: str) -> OddsUpdate:
    payload = event.payload
    observed = datetime.fromisoformat(payload["observedAt"]) if "observedAt" in payload else None
    source = payload.get("source")
    return OddsUpdate(
        race_id=race_id, seq=event.seq, cursor=cursor, snapshot=False,
        source=source, observed_at=observed,
        published_at=datetime.fromisoformat(event.created_at),
        prices=tuple(
            Quote(p["runnerId"], source, p["decimal"], observed)  # type: ignore[arg-type]
            for p in payload.get("prices", ())
        ),
        scratched_runner_ids=(payload["runnerId"],) if event.kind == "scratch" else (),
    )


async def _snapshot(db: Database, race_id: int, seq: int, cursor: str) -> OddsUpdate:
    async with db.read() as session:
        current = (await prices.current_for_races(session, [race_id]))[race_id]
        runners = (await races.runners_of_races(session, [race_id]))[race_id]
    return OddsUpdate(
        race_id=race_id, seq=seq, cursor=cursor, snapshot=True, source=None,
        observed_at=None, published_at=None, prices=tuple(quotes(current)),
        scratched_runner_ids=tuple(r.id for r in runners if r.scratched),
    )


async def status_changes(
    *, db: Database, hub: Hub, race_ids: Sequence[int] | None, after: str | None, max_races: int
) -> AsyncIterator[StatusChange]:
    wanted = set(race_ids) if race_ids else None
    if wanted is not None and len(wanted) > max_races:
        raise BadUserInput(f"at most {max_races} raceIds per subscription", field="raceIds")
    start = decode_positions(after) if after else {}
    follower = StreamFollower(
        db=db, hub=hub, streams=[channels.STATUS],
        start={channels.STATUS: start[channels.STATUS]} if channels.STATUS in start else None,
    )
    async for event in follower:
        payload = event.payload
        if event.kind == SNAPSHOT or (wanted is not None and payload["raceId"] not in wanted):
            continue
        yield StatusChange(
            race_id=payload["raceId"], status=payload["status"], previous=payload.get("previous"),
            result=tuple(payload["result"]) if payload.get("result") else None,
            seq=event.seq, cursor=encode_positions(follower.positions),
            changed_at=datetime.fromisoformat(event.created_at),
        )


async def published_news(
    *, db: Database, hub: Hub, tags: Sequence[str] | None, after: str | None
) -> AsyncIterator[NewsPublished]:
    wanted = set(tags) if tags else None
    start = decode_positions(after) if after else {}
    follower = StreamFollower(
        db=db, hub=hub, streams=[channels.NEWS],
        start={channels.NEWS: start[channels.NEWS]} if channels.NEWS in start else None,
    )
    async for event in follower:
        payload = event.payload
        if event.kind == SNAPSHOT or (wanted is not None and not wanted & set(payload["tags"])):
            continue
        async with db.read() as session:
            article = await session.get(NewsArticle, payload["newsId"])
        if article is None:
            continue
        yield NewsPublished(article=article, seq=event.seq, cursor=encode_positions(follower.positions),
                            tags=tuple(payload["tags"]))


