"""Rows written through the driver are stored exactly as SQLAlchemy itself stores them."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from events import codec
from events.payloads import OddsChanged, PriceChange
from storage import events
from storage.bulk import BulkInsert
from storage.database import Database
from storage.models import Event

BULK = BulkInsert(Event.__table__, ("stream", "seq", "kind", "payload", "created_at"))


async def test_bulk_rows_match_rows_written_by_sqlalchemy(db: Database) -> None:
    whole_second = datetime(2026, 11, 27, 15, 0, 0, tzinfo=UTC)
    record = OddsChanged(race_id=1, source="ünïcode", observed_at=whole_second, prices=(PriceChange(1, 2.5),))
    payload = codec.encode(record)
    async with db.write() as session:
        session.add(Event(stream="orm", seq=1, kind="odds", payload=payload, created_at=whole_second))
        await BULK.run(
            session, [{"stream": "bulk", "seq": 1, "kind": "odds", "payload": payload, "created_at": whole_second}]
        )

    async with db.read() as session:
        raw = dict((await session.execute(text("SELECT stream, CAST(created_at AS TEXT) FROM events"))).all())
        payloads = dict((await session.execute(text("SELECT stream, CAST(payload AS TEXT) FROM events"))).all())
        read = {e.stream: e for e in await events.read_after(session, stream="bulk", after=0)}
    assert raw["bulk"] == raw["orm"]
    assert payloads["bulk"] == payloads["orm"]
    assert read["bulk"].created_at == whole_second.isoformat() and read["bulk"].payload == record
