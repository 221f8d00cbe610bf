"""Builds the broadcaster for a URL: memory:// in process, redis:// across processes,
redis-cluster:// across processes with sharded pub/sub."""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import urlparse

from broadcaster import Broadcast

from pubsub.channels import Namespace
from pubsub.cluster_topology import SCHEME as CLUSTER_SCHEME
from pubsub.redis_backend import RedisBackend
from pubsub.redis_cluster_backend import RedisClusterBackend

log = logging.getLogger(__name__)


def create_broadcast(
    url: str, *, namespace: Namespace | None = None, on_reconnect: Callable[[], None] | None = None
) -> Broadcast:
    scheme = urlparse(url).scheme
    if scheme == CLUSTER_SCHEME:
        prefix = (namespace or Namespace()).prefix
        _, brace, after = prefix.partition("{")
        if brace and "}" in after and after.index("}") > 0:
            # Redis hashes only what is inside {...}: every channel would share one slot, one shard.
            log.warning("channel prefix %r holds a hash tag: all of its channels live on one cluster shard", prefix)
        return Broadcast(backend=RedisClusterBackend(url, on_reconnect=on_reconnect))
    if scheme in ("redis", "rediss"):
        control = (namespace or Namespace()).control
        return Broadcast(backend=RedisBackend(url, control_channel=control, on_reconnect=on_reconnect))
    return Broadcast(url)


def is_connected(broadcast: Broadcast) -> bool:
    """Whether the backend holds its connection now (the in-memory one always does)."""
    backend = broadcast._backend  # noqa: SLF001 - broadcaster exposes no connection state
    return bool(getattr(backend, "connected", True))
