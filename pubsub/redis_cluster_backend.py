"""Sharded pub/sub on a Redis Cluster for `broadcaster`: SPUBLISH routed by the cluster client,
SSUBSCRIBE on the primary that owns each channel's slot, one subscription connection per primary
and only for the channels this process listens to now.

A monitor pings every primary and re-reads the slot map; a channel whose shard is down waits
unplaced until the map names a primary that answers (its replica, promoted), and a channel the
server drops because its slot moved (an unsolicited SUNSUBSCRIBE) is placed on the new owner.
After every such move `on_reconnect` runs, so the hub reads from the log what passed meanwhile.
Placement is serialised by one lock: a subscribe racing an unsubscribe or a repair never loses
its channel (the hub itself never subscribes a channel twice at once).

redis-py's ClusterPubSub is not used to read: its `get_sharded_message` polls the per-node
connections in turn with a timeout each (added latency, or a busy loop at timeout 0), and it
re-homes subscriptions only after slot-map refreshes that its own client's commands trigger. Here
each shard has a reader that blocks on its connection, and the backend decides when a shard counts
as down, which `/ready` reports."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from broadcaster import BroadcastBackend, Event
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, RedisError

from pubsub import cluster_topology
from pubsub.inbox import Inbox
from pubsub.redis_backend import MAX_QUEUED

log = logging.getLogger(__name__)

_FAILURES = (RedisError, RedisClusterException, ConnectionError, OSError, asyncio.TimeoutError)


class _Shard:
    """One primary: a client for health pings and the subscription connection for its channels."""

    def __init__(self, name: str, host: str, port: int, *, username: str | None, password: str | None) -> None:
        self.name = name
        # No retries inside redis-py: a failure surfaces at once and the monitor decides what next.
        self.client = Redis(
            host=host,
            port=port,
            username=username,
            password=password,
            socket_connect_timeout=2,
            socket_timeout=2,
            retry=Retry(NoBackoff(), 0),
        )
        self.pubsub = self.client.pubsub()
        self.channels: set[str] = set()
        self.leaving: set[str] = set()  # our own SUNSUBSCRIBEs, not yet confirmed
        self.reader: asyncio.Task[None] | None = None

    async def close(self) -> None:
        if self.reader is not None and self.reader is not asyncio.current_task():
            self.reader.cancel()
            await asyncio.gather(self.reader, return_exceptions=True)
        # redis-py 8.1 leaves PubSub.aclose unannotated
        for closing in (self.pubsub.aclose(), self.client.aclose()):  # type: ignore[no-untyped-call]
            with contextlib.suppress(*_FAILURES):
                await closing


class RedisClusterBackend(BroadcastBackend):
    def __init__(
        self,
        url: str,
        *,
        on_reconnect: Callable[[], None] | None = None,
        max_queued: int = MAX_QUEUED,
        monitor_interval: float = 0.5,
        refresh_interval: float = 30.0,
    ) -> None:
        self._address = cluster_topology.parse_cluster_url(url)
        self._cluster = cluster_topology.cluster_client(self._address)
        self._on_reconnect = on_reconnect
        self._monitor_interval = monitor_interval
        # A refresh of redis-py's slot map builds two maps of all 16,384 slots and makes every
        # connection of the cluster client reconnect, so it runs on trouble (a failed connection, a
        # dropped subscription, a failed publish); otherwise the cluster's few slot ranges are read
        # this often and the map is refreshed only if they changed. The primaries are pinged every
        # monitor interval.
        self._refresh_interval = refresh_interval
        self._refreshed_at = 0.0
        self._slot_map: cluster_topology.SlotMap | None = None  # as last read, None if unknown
        self.inbox = Inbox(max_queued, log)
        self._wanted: set[str] = set()
        self._placed: dict[str, _Shard] = {}
        self._shards: dict[str, _Shard] = {}
        self._down: set[str] = set()  # primaries that did not answer the last check
        self._lock = asyncio.Lock()
        self._repair = asyncio.Event()
        self._monitor: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self._topology_known = False

    @property
    def connected(self) -> bool:
        """Every primary answers and every channel is subscribed on its slot's owner."""
        return self._topology_known and not self._down and self._wanted <= self._placed.keys()

    def shard_of(self, channel: str) -> str | None:
        shard = self._placed.get(channel)
        return None if shard is None else shard.name

    async def connect(self) -> None:
        await self._cluster.initialize()
        self._topology_known = True
        await self._check(refresh=False)  # nothing read yet: refreshes, and keeps the slot map it read
        self._monitor = asyncio.create_task(self._watch())

    async def disconnect(self) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
            await asyncio.gather(self._monitor, return_exceptions=True)
        for shard in list(self._shards.values()):
            await shard.close()
        await asyncio.gather(*self._closing, return_exceptions=True)
        self._shards.clear()
        self._placed.clear()
        await self._cluster.aclose()

    async def subscribe(self, channel: str) -> None:
        async with self._lock:
            self._wanted.add(channel)
            await self._place(channel)

    async def unsubscribe(self, channel: str) -> None:
        async with self._lock:
            self._wanted.discard(channel)
            shard = self._placed.pop(channel, None)
            if shard is not None:
                await self._leave(shard, channel)

    async def publish(self, channel: str, message: Any) -> None:
        try:
            if cluster_topology.owner(self._cluster, channel) in self._down:
                # Fail fast while the shard is away: the event is in the log and is delivered from there.
                raise RedisConnectionError("the channel's shard is unreachable")
            await self._cluster.spublish(channel, message)
        except _FAILURES:
            self._repair.set()
            raise

    async def next_published(self) -> Event:
        return await self.inbox.get()

    async def _place(self, channel: str) -> bool:
        """Subscribes the channel on its owner; False (the channel waits for the monitor) if it cannot now."""
        try:
            name = cluster_topology.owner(self._cluster, channel)
        except _FAILURES:
            self._repair.set()
            return False
        shard = self._shards.get(name)
        if name in self._down or shard is None:
            self._repair.set()
            return False
        try:
            await shard.pubsub.ssubscribe(channel)
        except _FAILURES as error:
            await self._fail(shard, error)
            return False
        shard.channels.add(channel)
        shard.leaving.discard(channel)
        self._placed[channel] = shard
        if shard.reader is None:
            shard.reader = asyncio.create_task(self._read(shard))
        return True

    async def _leave(self, shard: _Shard, channel: str) -> None:
        shard.channels.discard(channel)
        shard.leaving.add(channel)
        try:
            await shard.pubsub.sunsubscribe(channel)
        except _FAILURES as error:
            await self._fail(shard, error)

    async def _read(self, shard: _Shard) -> None:
        try:
            while True:
                message = await shard.pubsub.get_message(timeout=None)
                if message is None:
                    continue
                channel = message["channel"].decode(errors="replace")
                if message["type"] == "smessage":
                    self.inbox.put(Event(channel, message["data"]))  # bytes: the hub's seal judges them
                elif message["type"] == "sunsubscribe":
                    self._dropped_by_server(shard, channel)
        except _FAILURES as error:
            async with self._lock:
                await self._fail(shard, error)

    def _dropped_by_server(self, shard: _Shard, channel: str) -> None:
        if channel in shard.leaving:
            shard.leaving.discard(channel)
        elif channel in shard.channels:
            # The node gave the channel's slot away (a migration, or it became a replica).
            log.info("shard %s dropped %s: its slot moved", shard.name, channel)
            shard.channels.discard(channel)
            if self._placed.get(channel) is shard:
                del self._placed[channel]
            self._repair.set()

    async def _fail(self, shard: _Shard, error: BaseException) -> None:
        """Forgets a shard whose connection failed; its channels wait for the monitor."""
        if self._shards.get(shard.name) is not shard:
            return
        log.warning("redis cluster shard %s lost: %s", shard.name, error or type(error).__name__)
        del self._shards[shard.name]
        self._down.add(shard.name)
        for channel in shard.channels:
            if self._placed.get(channel) is shard:
                del self._placed[channel]
        shard.channels.clear()
        self._repair.set()
        closing = asyncio.create_task(shard.close())
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)

    async def _watch(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._repair.wait(), self._monitor_interval)
            trouble = self._repair.is_set()
            self._repair.clear()
            due = asyncio.get_running_loop().time() - self._refreshed_at > self._refresh_interval
            urgent = trouble or not self.connected
            try:
                await self._check(reread=urgent or due, refresh=urgent)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("checking the redis cluster failed")
                self._repair.set()
                await asyncio.sleep(self._monitor_interval)

    async def _check(self, *, reread: bool = True, refresh: bool = True) -> None:
        """Re-reads the slot map (when asked: refreshes redis-py's if asked or if it changed), pings
        every primary, places every channel on its owner."""
        if reread:
            try:
                await self._reread(refresh=refresh)
                self._topology_known = True
                self._refreshed_at = asyncio.get_running_loop().time()
            except _FAILURES as error:
                if self._topology_known:
                    log.warning("no redis cluster node answers: %s", error)
                self._topology_known = False
                return
        answers = await asyncio.gather(*(self._ping(*primary) for primary in cluster_topology.primaries(self._cluster)))
        async with self._lock:
            was_down = bool(self._down)
            down = {name for name, up in answers if not up}
            for name, shard in list(self._shards.items()):
                if name in down or name not in dict(answers):  # down, or no longer a primary
                    await self._fail(shard, RedisConnectionError("no answer"))
            self._down = down
            moved = await self._replace()
        if moved or (was_down and not self._down):
            if not self._down and self._wanted <= self._placed.keys():
                log.info("redis cluster: every channel is subscribed on its shard again")
            if self._on_reconnect is not None:
                self._on_reconnect()

    async def _reread(self, *, refresh: bool) -> None:
        seen = None  # unknown after a refresh on trouble: the next regular reading refreshes once more
        if not refresh:
            # A node that does not answer leaves it unknown: the refresh tries every node it knows.
            with contextlib.suppress(*_FAILURES):
                # Read before refreshing: a change in between only makes the next reading refresh again.
                seen = await asyncio.wait_for(cluster_topology.slot_map(self._cluster), 2)
        if seen is None or seen != self._slot_map:
            await cluster_topology.refresh(self._cluster)
        self._slot_map = seen

    async def _ping(self, name: str, host: str, port: int) -> tuple[str, bool]:
        shard = self._shards.get(name)
        if shard is None:
            shard = _Shard(name, host, port, username=self._address.username, password=self._address.password)
        try:
            await asyncio.wait_for(shard.client.ping(), 2)
        except _FAILURES:
            if self._shards.get(name) is not shard:
                await shard.close()
            return name, False
        self._shards.setdefault(name, shard)
        if self._shards[name] is not shard:
            await shard.close()  # another check made one meanwhile
        return name, True

    async def _replace(self) -> int:
        """Places every wanted channel that is unplaced or on a primary that no longer owns it."""
        moved = 0
        for channel in list(self._wanted):
            try:
                name = cluster_topology.owner(self._cluster, channel)
            except _FAILURES:
                continue
            current = self._placed.get(channel)
            if current is not None and current.name == name:
                continue
            if current is not None:
                del self._placed[channel]
                await self._leave(current, channel)
            moved += await self._place(channel)
        return moved
