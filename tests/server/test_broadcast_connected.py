"""`/ready`'s broadcaster check reads the connection state of the backend `create_broadcast` built
(pubsub/broadcast.py remembers it), not broadcaster's private `_backend`: against the shared Redis."""

from __future__ import annotations

from pubsub.broadcast import create_broadcast, is_connected


async def test_a_redis_broadcast_is_connected_only_once_its_backend_is() -> None:
    broadcast = create_broadcast("redis://127.0.0.1:6379")
    assert not is_connected(broadcast)  # built, not yet connected
    await broadcast.connect()
    try:
        assert is_connected(broadcast)
    finally:
        await broadcast.disconnect()


async def test_an_in_process_broadcast_is_always_connected() -> None:
    broadcast = create_broadcast("memory://")
    assert is_connected(broadcast)
    await broadcast.connect()
    assert is_connected(broadcast)
    await broadcast.disconnect()
