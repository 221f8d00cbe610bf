"""Stored answers to writes that carried an idempotency key."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import IdempotencyKey


async def find_many(session: AsyncSession, keys: Sequence[str]) -> dict[str, IdempotencyKey]:
    if not keys:
        return {}
    rows = await session.scalars(select(IdempotencyKey).where(IdempotencyKey.key.in_(keys)))
    return {row.key: row for row in rows}


async def remember_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Rows of key, request_hash, response and created_at; a key taken meanwhile raises IntegrityError."""
    if rows:
        await session.execute(insert(IdempotencyKey), list(rows))
