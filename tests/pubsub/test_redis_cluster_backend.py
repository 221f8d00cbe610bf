"""The Redis Cluster backend on a real 3-primary, 3-replica cluster (scripts/redis-cluster):
channels on their owning primary only while listened to, concurrent subscribes, a slot moved to
another primary, a primary killed and replaced by its replica, and the slot map re-read often but
redis-py's refreshed only when it changed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator

import pytest
from broadcaster import Broadcast
from redis.asyncio.retry import Retry as AsyncRetry

from events.envelope import Envelope
from events.payloads import RunnerScratched
from pubsub import cluster_topology
from pubsub.broadcast import create_broadcast
from pubsub.channels import Namespace
from pubsub.cluster_topology import ClusterAddress, RedisCluster, parse_cluster_url
from pubsub.hub import Hub
from pubsub.redis_backend import RedisBackend
from pubsub.redis_cluster_backend import RedisClusterBackend, _Shard
from pubsub.seal import Seal
from redis_cluster import RedisClusterNodes, shared_cluster

pytestmark = pytest.mark.cluster  # each starts a Redis Cluster of redis-server processes

KEY = b"cluster-backend-test-key-0123456789"
PRIVATE_BASE = 17110  # broken on purpose by the tests below; the shared cluster is never touched


def event(seq: int, stream: str) -> Envelope:
    # The hub passes any record on: a scratching stands in for every kind.
    payload = RunnerScratched(race_id=1, runner_id=seq)
    return Envelope(stream=stream, seq=seq, kind="scratch", payload=payload, created_at="2026-01-01T00:00:00+00:00")


def test_a_shard_client_retries_with_the_asyncio_policy() -> None:
    # redis.retry.Retry (the blocking one) called the asyncio client's command without awaiting it,
    # so a failing command escaped it and redis-py's failure handler (disconnect) never ran.
    shard = _Shard("a", "127.0.0.1", 1, username=None, password=None)
    retry = shard.client.get_retry()
    assert isinstance(retry, AsyncRetry)
    assert retry.get_retries() == 0


def test_a_cluster_url_names_its_seeds_and_credentials() -> None:
    assert parse_cluster_url("redis-cluster://10.0.0.1:7000,10.0.0.2,[::1]:7002") == ClusterAddress(
        (("10.0.0.1", 7000), ("10.0.0.2", 6379), ("::1", 7002))
    )
    assert parse_cluster_url("redis-cluster://app:s%40cret@h:1/") == ClusterAddress((("h", 1),), "app", "s@cret")
    for bad in ("redis://h:1", "redis-cluster://", "redis-cluster://h:port"):
        with pytest.raises(ValueError):
            parse_cluster_url(bad)


def test_the_url_scheme_picks_the_backend_and_a_hash_tag_prefix_is_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="pubsub.broadcast"):
        cluster = create_broadcast("redis-cluster://127.0.0.1:17000", namespace=Namespace("eu:"))
        single = create_broadcast("redis://127.0.0.1:6379", namespace=Namespace("{eu}:"))
        assert caplog.records == []  # a hash tag matters only on a cluster
        create_broadcast("redis-cluster://127.0.0.1:17000", namespace=Namespace("{eu}:"))
    assert isinstance(cluster._backend, RedisClusterBackend)  # noqa: SLF001
    assert isinstance(single._backend, RedisBackend)  # noqa: SLF001
    assert [r.getMessage() for r in caplog.records] == [
        "channel prefix '{eu}:' holds a hash tag: all of its channels live on one cluster shard"
    ]


@pytest.fixture(scope="module")
def shared() -> Iterator[RedisClusterNodes]:
    cluster, started_here = shared_cluster()
    yield cluster
    if started_here:
        cluster.stop()


@pytest.fixture(scope="module")
def private() -> Iterator[RedisClusterNodes]:
    cluster = RedisClusterNodes(PRIVATE_BASE).start()
    yield cluster
    cluster.stop()


class Deployment:
    """A listening process and a publishing process on one cluster, each a hub on a broadcast."""

    def __init__(self, url: str) -> None:
        self.namespace = Namespace("test:")
        self.reader, self.writer = RedisClusterBackend(url), RedisClusterBackend(url)
        self.listening = Hub(Broadcast(backend=self.reader), seal=Seal(KEY), namespace=self.namespace)
        self.publishing = Hub(Broadcast(backend=self.writer), seal=Seal(KEY), namespace=self.namespace)
        self._broadcasts = [self.listening._broadcast, self.publishing._broadcast]  # noqa: SLF001

    async def __aenter__(self) -> Deployment:
        for broadcast in self._broadcasts:
            await broadcast.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.listening.close()
        for broadcast in self._broadcasts:
            await broadcast.disconnect()


def shard_channels(cluster: RedisClusterNodes) -> dict[int, set[str]]:
    found = {}
    for port in cluster.primaries():
        with cluster.client(port) as node:
            found[port] = {c.decode() for c in node.execute_command("PUBSUB", "SHARDCHANNELS", "test:*")}
    return found


async def until(predicate: Callable[[], object], what: str, timeout: float = 20) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_streams_are_subscribed_on_their_owning_primary_only_while_listened_to(
    shared: RedisClusterNodes,
) -> None:
    streams = [f"odds:{n}" for n in range(30)]
    async with Deployment(shared.url) as deployment:
        channel = deployment.namespace.channel
        async with deployment.listening.listen(streams) as listener:
            placed = shard_channels(shared)
            for stream in streams:
                holders = [port for port, channels in placed.items() if channel(stream) in channels]
                assert holders == [shared.owner(channel(stream))], stream
            assert all(placed.values()), f"30 streams should spread over every primary: {placed}"
            for n, stream in enumerate(streams):
                await deployment.publishing.publish(event(n + 1, stream))
            got = [await asyncio.wait_for(listener.get(), 5) for _ in streams]
            assert sorted((e.stream, e.seq) for e in got) == sorted((s, n + 1) for n, s in enumerate(streams))
        await until(lambda: not any(shard_channels(shared).values()), "every shard channel to be left")


async def test_subscribes_and_unsubscribes_racing_on_every_shard_lose_no_channel(shared: RedisClusterNodes) -> None:
    """Half the channels are left while the other half are joined, all at once, on every shard:
    each joined channel hears its first message, and no left channel stays subscribed."""
    backend, writer = RedisClusterBackend(shared.url), RedisClusterBackend(shared.url)
    await backend.connect()
    await writer.connect()
    try:
        old = [f"test:odds:old{n}" for n in range(100)]
        new = [f"test:odds:new{n}" for n in range(100)]
        await asyncio.gather(*(backend.subscribe(c) for c in old))
        await asyncio.gather(*(backend.unsubscribe(c) for c in old), *(backend.subscribe(c) for c in new))
        for c in new:
            await writer.publish(c, b"first")
        received = {(await asyncio.wait_for(backend.next_published(), 5)).channel for _ in new}
        assert received == set(new)
        await until(lambda: set().union(*shard_channels(shared).values()) == set(new), "only the new channels")
        assert backend.connected
        await asyncio.gather(*(backend.unsubscribe(c) for c in new))
    finally:
        await backend.disconnect()
        await writer.disconnect()


async def test_a_slot_moved_to_another_primary_is_followed_by_subscriber_and_publisher(
    private: RedisClusterNodes,
) -> None:
    async with Deployment(private.url) as deployment:
        stream = "odds:moving"
        wire = deployment.namespace.channel(stream)
        async with deployment.listening.listen([stream]) as listener:
            await deployment.publishing.publish(event(1, stream))
            assert (await asyncio.wait_for(listener.get(), 5)).seq == 1
            before = private.owner(wire)
            target = next(port for port in private.primaries() if port != before)
            private.move_slot_of(wire, target)
            # The old owner drops the subscription (SUNSUBSCRIBE); the backend follows the slot.
            await until(lambda: deployment.reader.shard_of(wire) == f"127.0.0.1:{target}", "the re-subscription")
            assert shard_channels(private)[target] == {wire}
            await deployment.publishing.publish(event(2, stream))  # the publisher's map is stale: MOVED
            assert (await asyncio.wait_for(listener.get(), 5)).seq == 2
            assert deployment.reader.connected


async def test_a_killed_primary_is_replaced_by_its_replica_and_the_channel_follows(
    private: RedisClusterNodes,
) -> None:
    async with Deployment(private.url) as deployment:
        stream = "odds:failover"
        wire = deployment.namespace.channel(stream)
        async with deployment.listening.listen([stream]) as listener:
            victim = private.owner(wire)
            private.kill(victim)
            await until(lambda: not deployment.reader.connected, "the backend to see the shard down")
            private.wait_promoted(victim)
            await until(lambda: deployment.reader.connected, "every channel back on a primary")
            promoted = private.owner(wire)
            assert promoted != victim and deployment.reader.shard_of(wire) == f"127.0.0.1:{promoted}"
            await until(lambda: deployment.writer.connected, "the publisher to know the new primary")
            await deployment.publishing.publish(event(1, stream))
            assert (await asyncio.wait_for(listener.get(), 5)).seq == 1
        private.start()  # the killed node rejoins, as a replica
        assert victim not in private.primaries()


class Readings:
    """Counts the backend's cheap slot-map readings and its refreshes of redis-py's map."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.read = 0
        self.refreshed = 0
        read, refresh = cluster_topology.slot_map, cluster_topology.refresh

        async def counted_read(cluster: RedisCluster) -> cluster_topology.SlotMap:
            self.read += 1
            return await read(cluster)

        async def counted_refresh(cluster: RedisCluster) -> None:
            await refresh(cluster)
            self.refreshed += 1

        monkeypatch.setattr(cluster_topology, "slot_map", counted_read)
        monkeypatch.setattr(cluster_topology, "refresh", counted_refresh)


async def test_an_unchanged_slot_map_is_read_again_without_refreshing_redis_pys(
    shared: RedisClusterNodes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refresh allocates two maps of all 16,384 slots and reconnects the cluster client: every
    30 s, it made a server's memory grow and shrink by 1-2 MB while nothing changed."""
    readings = Readings(monkeypatch)
    backend = RedisClusterBackend(shared.url, monitor_interval=0.02, refresh_interval=0.05)
    await backend.connect()
    try:
        await backend.subscribe("test:odds:steady")
        await until(lambda: readings.read >= 10, "ten regular readings of the slot map")
        assert readings.refreshed == 1  # the first reading, on connect
        assert backend.connected and backend.shard_of("test:odds:steady") is not None
    finally:
        await backend.disconnect()


async def test_a_slot_moved_while_nothing_listens_to_it_is_refreshed_at_the_next_reading(
    private: RedisClusterNodes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No subscription tells of this move (no SUNSUBSCRIBE): only the regular reading sees it."""
    readings = Readings(monkeypatch)
    backend = RedisClusterBackend(private.url, monitor_interval=0.02, refresh_interval=0.05)
    await backend.connect()
    try:
        channel = "test:odds:quiet-move"
        await until(lambda: readings.read >= 3, "regular readings of the slot map")
        assert readings.refreshed == 1
        target = next(port for port in private.primaries() if port != private.owner(channel))
        private.move_slot_of(channel, target)
        await until(lambda: readings.refreshed >= 2, "a refresh after the move")
        await backend.subscribe(channel)
        await until(lambda: backend.shard_of(channel) == f"127.0.0.1:{target}", "the channel on its new owner")
        assert backend.connected
    finally:
        await backend.disconnect()
