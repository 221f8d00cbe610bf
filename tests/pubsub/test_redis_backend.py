"""The Redis backend on a Redis of the test's own: what waits for the hub is bounded."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest
from redis import asyncio as redis

from pubsub.redis_backend import RedisBackend
from redis_server import RedisServer


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    server = RedisServer().start()
    yield server.url
    server.kill()


async def test_a_flood_is_dropped_past_the_bound_and_delivery_goes_on(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Anyone who can publish can flood a channel; past `max_queued` the backend drops (the hub's
    watchdog reads the log for what a dropped doorbell announced) instead of growing without end."""
    backend = RedisBackend(redis_url, max_queued=5)
    publisher = redis.Redis.from_url(redis_url)
    await backend.connect()
    try:
        await backend.subscribe("flood")
        with caplog.at_level(logging.WARNING, logger="pubsub.redis_backend"):
            for n in range(50):
                await publisher.publish("flood", f"m{n}")
            deadline = asyncio.get_running_loop().time() + 10
            while backend.inbox.dropped < 45:
                assert asyncio.get_running_loop().time() < deadline, f"dropped {backend.inbox.dropped} of 45"
                await asyncio.sleep(0.02)
        kept = [(await asyncio.wait_for(backend.next_published(), 5)).message for _ in range(5)]
        assert kept == [f"m{n}".encode() for n in range(5)]
        assert [r.message for r in caplog.records].count(
            "5 pub/sub messages wait for the hub: dropping more, the log fills the gap"
        ) == 1

        await publisher.publish("flood", "after")  # the positive control: the backend still delivers
        assert (await asyncio.wait_for(backend.next_published(), 5)).message == b"after"
    finally:
        await backend.disconnect()
        await publisher.aclose()
