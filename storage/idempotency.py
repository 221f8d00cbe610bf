"""Stored answers to writes that carried an idempotency key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import IdempotencyKey


async def find(session: AsyncSession, key: str) -> IdempotencyKey | None:
    return await session.scalar(select(IdempotencyKey).where(IdempotencyKey.key == key))


async def remember(
    session: AsyncSession, *, key: str, request_hash: str, response: dict[str, Any], now: datetime
) -> None:
    session.add(IdempotencyKey(key=key, request_hash=request_hash, response=response, created_at=now))
    await session.flush()
