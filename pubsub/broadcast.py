"""Builds the broadcaster for a URL: memory:// in process, redis:// across processes."""

from __future__ import annotations

from urllib.parse import urlparse

from broadcaster import Broadcast

from pubsub.redis_backend import RedisBackend


def create_broadcast(url: str) -> Broadcast:
    if urlparse(url).scheme in ("redis", "rediss"):
        return Broadcast(backend=RedisBackend(url))
    return Broadcast(url)
