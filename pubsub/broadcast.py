"""Builds the broadcaster for a URL: memory:// in process, redis:// across processes,
redis-cluster:// across processes with sharded pub/sub.

broadcaster's `Broadcast` keeps its backend private (`_backend`, no accessor in 0.3.1), so the
backends built here are remembered beside the broadcast that holds them: their connection state
is read from Racewire's own objects, not from inside broadcaster."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol
from urllib.parse import urlparse
from weakref import WeakKeyDictionary

from broadcaster import Broadcast

from pubsub.channels import Namespace
from pubsub.cluster_topology import SCHEME as CLUSTER_SCHEME
from pubsub.redis_backend import RedisBackend
from pubsub.redis_cluster_backend import RedisClusterBackend

log = logging.getLogger(__name__)


class _Connectable(Protocol):
    @property
    def connected(self) -> bool: ...


_BACKENDS: WeakKeyDictionary[Broadcast, _Connectable] = WeakKeyDictionary()


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
        return _holding(RedisClusterBackend(url, on_reconnect=on_reconnect))
    if scheme in ("redis", "rediss"):
        control = (namespace or Namespace()).control
        return _holding(RedisBackend(url, control_channel=control, on_reconnect=on_reconnect))
    return Broadcast(url)


def _holding(backend: RedisBackend | RedisClusterBackend) -> Broadcast:
    broadcast = Broadcast(backend=backend)
    _BACKENDS[broadcast] = backend
    return broadcast


def is_connected(broadcast: Broadcast) -> bool:
    """Whether the backend holds its connection now: a Redis one built by `create_broadcast` says
    so; any other (memory://, in process) always does."""
    backend = _BACKENDS.get(broadcast)
    return backend is None or backend.connected
