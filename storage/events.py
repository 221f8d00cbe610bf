"""The event log: append with the stream's next `seq`, read back after a position."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import BindParameter, CursorResult, bindparam, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from events import codec
from events.envelope import Envelope
from events.payloads import Payload
from storage.bulk import BulkInsert
from storage.database import Database, dialect_insert, dialect_of
from storage.models import Event, Stream


async def append(session: AsyncSession, *, stream: str, payload: Payload, now: datetime) -> Envelope:
    """Adds an event with the stream's next seq. The upsert takes the stream row's lock, so
    concurrent writers to one stream queue up and seq stays unique and contiguous."""
    return (await append_many(session, stream, [payload], now=now))[0]


async def append_many(
    session: AsyncSession, stream: str, payloads: Sequence[Payload], *, now: datetime
) -> list[Envelope]:
    """Adds events with the stream's next seqs, in order, in two statements. Each is stored in the
    codec's form (events/codec.py), its kind the one its record says."""
    last = await _next_seq(session, stream, len(payloads))
    first = last - len(payloads) + 1
    rows: list[dict[str, Any]] = [
        {
            "stream": stream,
            "seq": first + n,
            "kind": codec.kind_of(payload),
            "payload": codec.encode(payload),
            "created_at": now,
        }
        for n, payload in enumerate(payloads)
    ]
    await _INSERT.run(session, rows)
    created = now.isoformat()
    return [
        Envelope(stream=stream, seq=row["seq"], kind=row["kind"], payload=payload, created_at=created)
        for row, payload in zip(rows, payloads, strict=True)
    ]


_INSERT = BulkInsert(Event.__table__, ("stream", "seq", "kind", "payload", "created_at"))


async def _next_seq(session: AsyncSession, stream: str, count: int) -> int:
    """Reserves `count` seqs and returns the last; the upsert holds the stream row until commit."""
    statement = _reserve(dialect_of(session).name)
    return int((await session.execute(statement, {"name": stream, "count": count})).scalar_one())


@functools.cache
def _reserve(dialect: str) -> Any:
    count: BindParameter[int] = bindparam("count")
    return (
        dialect_insert(dialect)(Stream)
        .values(name=bindparam("name"), last_seq=count)
        .on_conflict_do_update(index_elements=[Stream.name], set_={"last_seq": Stream.last_seq + count})
        .returning(Stream.last_seq)
    )


async def read_after(
    session: AsyncSession, *, stream: str, after: int, until: int | None = None, limit: int = 1000
) -> list[Envelope]:
    """Events with after < seq (<= until), oldest first."""
    query = select(Event).where(Event.stream == stream, Event.seq > after)
    if until is not None:
        query = query.where(Event.seq <= until)
    rows = (await session.scalars(query.order_by(Event.seq).limit(limit))).all()
    return [_envelope(row) for row in rows]


async def heads(session: AsyncSession, streams: Iterable[str]) -> dict[str, int]:
    """The last seq of each stream; 0 for a stream with no events yet."""
    names = list(streams)
    rows = await session.execute(select(Stream.name, Stream.last_seq).where(Stream.name.in_(names)))
    found = {name: int(seq) for name, seq in rows}
    return {name: found.get(name, 0) for name in names}


async def oldest_kept(session: AsyncSession, stream: str) -> int | None:
    return await session.scalar(select(func.min(Event.seq)).where(Event.stream == stream))


async def prune(session: AsyncSession, *, keep: int) -> int:
    """Deletes all but the newest `keep` events of every stream; returns how many went."""
    head = select(Stream.last_seq).where(Stream.name == Event.stream).scalar_subquery()
    # A DML statement's result is a CursorResult (it has rowcount): SQLAlchemy types it as Result.
    result = cast("CursorResult[Any]", await session.execute(delete(Event).where(Event.seq <= head - keep)))
    return int(result.rowcount or 0)


def _envelope(row: Event) -> Envelope:
    """Decoded once as read: a row in the old (camelCase) form reads as well as a new one."""
    return Envelope(
        stream=row.stream,
        seq=row.seq,
        kind=row.kind,
        payload=codec.decode(row.kind, row.payload),
        created_at=row.created_at.isoformat(),
    )


class LogReader:
    """The event log as the hub reads it: heads, and the events in a seq range."""

    def __init__(self, db: Database, *, max_read: int = 10_000) -> None:
        self._db = db
        self._max_read = max_read

    async def heads(self, streams: Sequence[str]) -> dict[str, int]:
        async with self._db.read() as session:
            return await heads(session, streams)

    async def read(self, stream: str, *, after: int, until: int) -> list[Envelope]:
        async with self._db.read() as session:
            return await read_after(session, stream=stream, after=after, until=until, limit=self._max_read)
