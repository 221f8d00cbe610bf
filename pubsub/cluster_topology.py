"""What the Redis Cluster backend needs of redis-py's cluster client, in one place: the address in
a `redis-cluster://` URL, the client, which primary owns a channel, the cluster's slot map as a
node tells it now, and a fresh slot map in the client.

redis-py refreshes its slot map only when a command of its own fails; the backend must refresh it
when a subscription connection fails or the server drops a subscription because its slot moved.
That is the one reach past the public API (`nodes_manager.initialize`), guarded by
tests/pubsub/test_cluster_topology.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from redis.asyncio.cluster import ClusterNode, RedisCluster

SCHEME = "redis-cluster"
DEFAULT_PORT = 6379

Node = tuple[str, int]
# (first slot, last slot, primary, replicas) per range: a handful of ranges, not one entry per slot.
SlotMap = frozenset[tuple[int, int, Node, tuple[Node, ...]]]


@dataclass(frozen=True)
class ClusterAddress:
    seeds: tuple[tuple[str, int], ...]
    username: str | None = None
    password: str | None = None


def parse_cluster_url(url: str) -> ClusterAddress:
    """`redis-cluster://[user:password@]host:port[,host:port...]`: any reachable nodes as seeds."""
    scheme, separator, rest = url.partition("://")
    if scheme != SCHEME or not separator:
        raise ValueError(f"a Redis Cluster URL starts with {SCHEME}://")
    credentials, _, hosts = rest.rpartition("@")
    hosts = hosts.split("/", 1)[0].split("?", 1)[0]
    seeds = tuple(_seed(part) for part in hosts.split(",") if part)
    if not seeds:
        raise ValueError(f"{SCHEME}:// needs at least one host:port")
    username, password = None, None
    if credentials:
        user, has_password, secret = credentials.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if has_password else None
    return ClusterAddress(seeds, username, password)


def _seed(part: str) -> tuple[str, int]:
    if part.startswith("["):  # [IPv6]:port
        host, _, port = part[1:].partition("]")
        port = port.removeprefix(":")
    else:
        host, _, port = part.partition(":")
    try:
        return host, int(port) if port else DEFAULT_PORT
    except ValueError:
        raise ValueError(f"not a host:port: {part!r}") from None


def cluster_client(address: ClusterAddress) -> RedisCluster:
    return RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in address.seeds],
        username=address.username,
        password=address.password,
        # Pub/sub serves every slot it can while one shard fails over.
        require_full_coverage=False,
        socket_connect_timeout=2,
        socket_timeout=5,
    )


def owner(cluster: RedisCluster, channel: str) -> str:
    """The name (host:port) of the primary whose slot holds the channel; SlotNotCoveredError if none."""
    node = cluster.get_node_from_key(channel)
    assert node is not None
    return str(node.name)


def primaries(cluster: RedisCluster) -> list[tuple[str, str, int]]:
    return [(node.name, node.host, int(node.port)) for node in cluster.get_primaries()]


async def refresh(cluster: RedisCluster) -> None:
    """Reads the slot map again from any reachable node (CLUSTER SLOTS)."""
    await cluster.nodes_manager.initialize()


async def slot_map(cluster: RedisCluster) -> SlotMap:
    """The slot ranges and their nodes as a node of the cluster answers now (CLUSTER SLOTS), without
    touching the client's own map: cheap to read and compare. `refresh` builds two maps of all
    16,384 slots (about 2 MB allocated and dropped each time) and marks every connection of the
    client for reconnect."""
    answer: Any = await cluster.cluster_slots()  # redis-py annotates a list; its callback gives a dict
    return frozenset(
        (int(first), int(last), _node(nodes["primary"]), tuple(_node(replica) for replica in nodes["replicas"]))
        for (first, last), nodes in answer.items()
    )


def _node(address: Any) -> Node:
    host, port = address[0], address[1]
    return (host.decode() if isinstance(host, bytes) else str(host)), int(port)
