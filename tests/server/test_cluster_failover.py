"""Three server processes on a Redis Cluster of the test's own, with a feed storing all along: one
race's slot moved to another primary, then another race's primary killed (its replica takes over)
and brought back. Every WebSocket subscriber gets every seq once, in order, and /ready says
"unavailable" while the shard is down and "ready" once it is replaced."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from fixtures.cluster import ODDS, Cluster, Collector, Writer, subscriptions, wait_until
from live_server import GraphQLWs, ServerProcess
from redis_cluster import RedisClusterNodes

FAILOVER_CLUSTER_BASE = 17130
RACES = 4
SUBSCRIBERS_PER_RACE = 6


@pytest.fixture
def redis() -> Iterator[RedisClusterNodes]:
    nodes = RedisClusterNodes(FAILOVER_CLUSTER_BASE).start()
    yield nodes
    nodes.stop()


@pytest.fixture
async def cluster(postgres_url: str, redis: RedisClusterNodes) -> AsyncIterator[Cluster]:
    running = Cluster(postgres_url, redis)
    yield running
    running.stop()


class Feed:
    """Stores through one server, round-robin over the races, until stopped."""

    def __init__(self, server: ServerProcess, races: list[dict[str, Any]]) -> None:
        self.http = httpx.AsyncClient(base_url=server.http, timeout=30)
        self.writers = [Writer(self.http, race) for race in races]
        self.stopping = asyncio.Event()

    @property
    def stored(self) -> int:
        return sum(writer.n for writer in self.writers)

    async def run(self) -> None:
        while not self.stopping.is_set():
            for writer in self.writers:
                await writer()

    async def until_stored(self, more: int) -> None:
        target = self.stored + more
        await wait_until(lambda: _true(self.stored >= target), timeout=60)


async def _true(value: bool) -> bool:
    return value


async def ready_states(servers: list[ServerProcess]) -> list[tuple[int, str]]:
    async with httpx.AsyncClient() as http:
        answers = [await http.get(f"{server.http}/ready") for server in servers]
    return [(a.status_code, a.json()["checks"]["broadcaster"]) for a in answers]


async def test_a_moved_slot_and_a_killed_primary_lose_and_duplicate_nothing(
    cluster: Cluster, redis: RedisClusterNodes
) -> None:
    servers = cluster.start(3)
    races = [await cluster.race() for _ in range(RACES)]
    channel = {race["id"]: f"racewire:odds:{race['id']}" for race in races}
    collectors = []
    for race in races:
        for n in range(SUBSCRIBERS_PER_RACE):
            client = await GraphQLWs.open(servers[n % 3].ws)
            id = f"{race['id']}-{n}"
            await client.subscribe(id, ODDS, ids=[race["id"]])
            collectors.append((race["id"], Collector(client, id)))
    for server in servers:
        await wait_until(lambda server=server: _at_least(server, RACES * SUBSCRIBERS_PER_RACE // 3))
    reading = [asyncio.create_task(c.run()) for _, c in collectors]

    moving, failing = races[0]["id"], races[1]["id"]
    victim = redis.owner(channel[failing])
    target = next(port for port in redis.primaries() if port not in (victim, redis.owner(channel[moving])))
    feed = Feed(servers[0], races)
    feeding = asyncio.create_task(feed.run())
    await feed.until_stored(20)

    slot = await asyncio.to_thread(redis.move_slot_of, channel[moving], target)  # MOVED from now on, and a SUNSUBSCRIBE
    await feed.until_stored(20)

    await asyncio.to_thread(redis.kill, victim)
    outage: list[tuple[int, str]] = []

    async def a_shard_is_reported_down() -> bool:
        outage.extend(state for state in await ready_states(servers) if state[0] != 200)
        return bool(outage)

    await wait_until(a_shard_is_reported_down, timeout=10)
    await feed.until_stored(20)  # stored while the shard fails over: the log is the truth
    await asyncio.to_thread(redis.wait_promoted, victim)

    async def everyone_ready() -> bool:
        return all(state == (200, "ok") for state in await ready_states(servers))

    await wait_until(everyone_ready, timeout=30)
    await asyncio.to_thread(redis.start)  # the killed primary comes back, as a replica
    await feed.until_stored(20)
    feed.stopping.set()
    await feeding
    await feed.http.aclose()
    stored = {writer.race["id"]: writer.n for writer in feed.writers}

    async def everyone_has_everything() -> bool:
        return all(len(c.seqs) >= stored[race] for race, c in collectors)

    await wait_until(everyone_has_everything, timeout=60)
    for task in reading:
        task.cancel()
    lost = sum(len(set(range(1, stored[race] + 1)) - set(c.seqs)) for race, c in collectors)
    duplicated = sum(len(c.seqs) - len(set(c.seqs)) for _, c in collectors)
    print(
        f"cluster failover: races={RACES} subscribers={len(collectors)} stored={sum(stored.values())} "
        f"delivered={sum(len(c.seqs) for _, c in collectors)} lost={lost} duplicated={duplicated} "
        f"moved_slot={slot} killed_primary={victim} ready_during_outage={sorted(set(outage))}"
    )
    assert lost == 0 and duplicated == 0
    assert all(c.seqs == list(range(1, stored[race] + 1)) for race, c in collectors)
    assert all(code == 503 and check != "ok" for code, check in outage)
    assert redis.owner(channel[moving]) == target and victim not in redis.primaries()
    for _, collector in collectors:
        await collector.client.close()


async def _at_least(server: ServerProcess, count: int) -> bool:
    return await subscriptions(server) >= count
