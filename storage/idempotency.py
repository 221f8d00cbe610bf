"""Stored answers to writes that carried an idempotency key, each key its writer's own."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import IdempotencyKey

# (subject, key): the same key from two writers is two keys.
Owned = tuple[str, str]


async def find_many(session: AsyncSession, keys: Sequence[Owned]) -> dict[Owned, IdempotencyKey]:
    if not keys:
        return {}
    owned = tuple_(IdempotencyKey.subject, IdempotencyKey.key)
    rows = await session.scalars(select(IdempotencyKey).where(owned.in_(sorted(set(keys)))))
    return {(row.subject, row.key): row for row in rows}


async def remember_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Rows of subject, key, request_hash, response and created_at; a key taken meanwhile raises
    IntegrityError."""
    if rows:
        await session.execute(insert(IdempotencyKey), list(rows))
