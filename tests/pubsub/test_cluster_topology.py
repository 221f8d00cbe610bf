"""The one reach into redis-py's cluster client (a fresh slot map on demand) still exists and works."""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Iterator

import pytest

from pubsub import cluster_topology
from redis_cluster import RedisClusterNodes, shared_cluster

pytestmark = pytest.mark.cluster  # each starts a Redis Cluster of redis-server processes


@pytest.fixture(scope="module")
def shared() -> Iterator[RedisClusterNodes]:
    cluster, started_here = shared_cluster()
    yield cluster
    if started_here:
        cluster.stop()


def test_redis_py_still_offers_the_slot_map_refresh_the_backend_relies_on() -> None:
    client = cluster_topology.cluster_client(cluster_topology.parse_cluster_url("redis-cluster://127.0.0.1:1"))
    assert inspect.iscoroutinefunction(client.nodes_manager.initialize), (
        "redis-py changed RedisCluster.nodes_manager.initialize: pubsub/cluster_topology.refresh needs a new way "
        "to re-read the slot map"
    )


async def test_the_owner_of_a_channel_is_the_primary_the_cluster_names(shared: RedisClusterNodes) -> None:
    client = cluster_topology.cluster_client(cluster_topology.parse_cluster_url(shared.url))
    try:
        await cluster_topology.refresh(client)
        names = {name for name, _, _ in cluster_topology.primaries(client)}
        assert names == {f"127.0.0.1:{port}" for port in shared.primaries()}
        for n in range(20):
            channel = f"racewire:odds:{n}"
            assert cluster_topology.owner(client, channel) == f"127.0.0.1:{shared.owner(channel)}"
    finally:
        await client.aclose()


async def test_the_slot_map_as_a_node_tells_it_names_every_slot_range_and_its_primary(
    shared: RedisClusterNodes,
) -> None:
    client = cluster_topology.cluster_client(cluster_topology.parse_cluster_url(shared.url))
    try:
        await client.initialize()
        seen = await cluster_topology.slot_map(client)
        assert seen == await cluster_topology.slot_map(client)  # comparable: the same cluster, the same map
        covered = sorted((first, last) for first, last, _, _ in seen)
        assert covered[0][0] == 0 and covered[-1][1] == 16383
        assert all(b[0] == a[1] + 1 for a, b in itertools.pairwise(covered))
        assert {port for _, _, (_, port), _ in seen} == set(shared.primaries())
        assert all(len(replicas) == 1 for _, _, _, replicas in seen)  # 3 primaries, 3 replicas
    finally:
        await client.aclose()
