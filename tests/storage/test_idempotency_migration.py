"""Migration 0003: idempotency keys become (subject, key), keeping what was stored, on SQLite and
PostgreSQL, and back."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from conftest import POSTGRES_ADMIN_URL
from storage.database import Database
from storage.migrate import alembic_config

INSERT = "INSERT INTO idempotency_keys ({columns}) VALUES ({values}, 'h', '{{}}', CURRENT_TIMESTAMP)"


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        db = Database(f"sqlite+aiosqlite:///{tmp_path}/empty.db")
        yield db
        await db.dispose()
        return
    name = f"racewire_migration_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    await admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    db = Database(f"{base}/{name}")
    try:
        yield db
    finally:
        await db.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def migrate(connection: Connection, url: str, revision: str, *, down: bool = False) -> None:
    config = alembic_config(url)
    config.attributes["connection"] = connection
    (command.downgrade if down else command.upgrade)(config, revision)


async def test_keys_become_per_subject_and_old_ones_are_kept(empty_db: Database) -> None:
    async with empty_db.engine.begin() as connection:
        await connection.run_sync(migrate, empty_db.url, "0002")
        await connection.execute(text(INSERT.format(columns="key, request_hash, response, created_at", values="'k1'")))
        await connection.run_sync(migrate, empty_db.url, "0003")
        kept = (await connection.execute(text("SELECT subject, key FROM idempotency_keys"))).all()
        columns = "subject, key, request_hash, response, created_at"
        for subject in ("feed-a", "feed-b"):  # the same key for two subjects
            await connection.execute(text(INSERT.format(columns=columns, values=f"'{subject}', 'k1'")))
        stored = (await connection.execute(text("SELECT count(*) FROM idempotency_keys"))).scalar_one()
        await connection.run_sync(migrate, empty_db.url, "0002", down=True)
        after_downgrade = (await connection.execute(text("SELECT key FROM idempotency_keys"))).all()
        await connection.run_sync(migrate, empty_db.url, "head")

    assert kept == [("", "k1")]
    assert stored == 3
    assert after_downgrade == [("k1",)]
    async with empty_db.engine.connect() as connection:
        columns = "subject, key, request_hash, response, created_at"
        await connection.execute(text(INSERT.format(columns=columns, values="'feed-a', 'k2'")))
        with pytest.raises(IntegrityError):  # one subject's key is still unique
            await connection.execute(text(INSERT.format(columns=columns, values="'feed-a', 'k2'")))
