"""Several server processes, one Redis, one PostgreSQL: delivery across processes, Redis
restarts, concurrent writers, slow readers, rolling restarts and heartbeats. Each test runs against
a single Redis and against a Redis Cluster (3 primaries, 3 replicas, sharded pub/sub)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from fixtures.cluster import ODDS, SECRET, Cluster, Collector, Writer, subscriptions, wait_until
from live_server import GraphQLWs, ServerProcess
from redis_cluster import RedisClusterNodes
from redis_server import RedisServer
from resolvers.store_odds import OddsWriter, Quote, StoreOdds, store_odds
from server.broadcasting import deployment_broadcast, deployment_hub
from server.settings import Settings
from storage.database import Database

RICH_ODDS = """subscription($ids: [ID!]!) {
  oddsUpdated(raceIds: $ids) {
    seq seqFrom conflated cursor observedAt publishedAt
    prices { runnerId source decimal fractional american impliedProbability observedAt }
  }
}"""


async def test_hundreds_subscribing_at_once_on_three_processes_all_receive(cluster: Cluster) -> None:
    servers = cluster.start(3)
    race = await cluster.race()
    clients = await asyncio.gather(*[GraphQLWs.open(servers[n % 3].ws) for n in range(300)])
    await asyncio.gather(*[c.subscribe("s", ODDS, ids=[race["id"]]) for c in clients])
    for server in servers:
        await wait_until(lambda server=server: _at_least(server, 100))

    async with httpx.AsyncClient(base_url=servers[0].http) as http:
        stored = await Writer(http, race)()
    updates = await asyncio.gather(*[c.next("s") for c in clients])

    assert [u["oddsUpdated"]["seq"] for u in updates] == [stored["seq"]] * 300
    await asyncio.gather(*[c.close() for c in clients])


async def _at_least(server: ServerProcess, count: int) -> bool:
    return await subscriptions(server) >= count


async def test_redis_killed_and_restarted_mid_stream_loses_and_duplicates_nothing(
    cluster: Cluster, redis: RedisServer | RedisClusterNodes
) -> None:
    writer_server, reader_server = cluster.start(2)
    race = await cluster.race()
    collectors = []
    for n in range(20):
        client = await GraphQLWs.open((reader_server if n % 2 else writer_server).ws)
        await client.subscribe(str(n), ODDS, ids=[race["id"]])
        collectors.append(Collector(client, str(n)))
    await wait_until(lambda: _at_least(reader_server, 10))
    await wait_until(lambda: _at_least(writer_server, 10))
    tasks = [asyncio.create_task(c.run()) for c in collectors]
    async with httpx.AsyncClient(base_url=writer_server.http) as http:
        write = Writer(http, race)
        for _ in range(30):
            await write()
        await asyncio.to_thread(redis.kill)  # a whole cluster takes a moment: the clients keep answering pings
        for _ in range(30):  # stored while Redis is down: the log is the truth
            await write()
        async with httpx.AsyncClient(base_url=reader_server.http) as reader_http:
            down = await reader_http.get("/ready")
        await asyncio.to_thread(redis.start)
        for _ in range(30):
            await write()
    stored = write.n

    async def everyone_has_everything() -> bool:
        return all(len(c.seqs) >= stored for c in collectors)

    await wait_until(everyone_has_everything, timeout=30)
    for task in tasks:
        task.cancel()
    lost = sum(len(set(range(1, stored + 1)) - set(c.seqs)) for c in collectors)
    duplicated = sum(len(c.seqs) - len(set(c.seqs)) for c in collectors)
    print(
        f"redis restart: stored={stored} subscribers={len(collectors)} "
        f"delivered={sum(len(c.seqs) for c in collectors)} lost={lost} duplicated={duplicated}"
    )
    assert down.status_code == 503 and down.json()["checks"]["broadcaster"] != "ok"
    assert lost == 0 and duplicated == 0
    assert all(c.seqs == list(range(1, stored + 1)) for c in collectors)
    for collector in collectors:
        await collector.client.close()


async def test_concurrent_writers_on_three_processes_keep_seq_unique_and_contiguous(cluster: Cluster) -> None:
    servers = cluster.start(3)
    race = await cluster.race(runners=6)

    async def hammer(server: ServerProcess, source: str) -> list[dict[str, Any]]:
        async with httpx.AsyncClient(base_url=server.http) as http:
            write = Writer(http, race, source)
            return await asyncio.gather(*[write(runner=n % 6) for n in range(40)])

    answers = [
        a for batch in await asyncio.gather(*[hammer(s, f"book{i}") for i, s in enumerate(servers)]) for a in batch
    ]
    db = Database(cluster.db_url)
    try:
        async with db.read() as session:
            seqs = [
                s
                for (s,) in await session.execute(
                    text("SELECT seq FROM events WHERE stream = :s ORDER BY seq"), {"s": f"odds:{race['id']}"}
                )
            ]
            prices = (
                await session.execute(text("SELECT count(*) FROM prices WHERE race_id = :r"), {"r": int(race["id"])})
            ).scalar_one()
    finally:
        await db.dispose()
    published = sorted(a["seq"] for a in answers if a["seq"] is not None)
    stale = sum(len(a["stale"]) for a in answers)

    assert seqs == list(range(1, len(seqs) + 1)) == published
    assert prices + stale == 120  # every quote is either stored or reported stale


def rss_kib(server: ServerProcess) -> int:
    with open(f"/proc/{server.process.pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


async def test_a_client_that_stops_reading_keeps_memory_flat_and_others_served(
    cluster: Cluster, redis: RedisServer | RedisClusterNodes
) -> None:
    # Pings are slowed down here: a reader that stops reading for long is dropped as dead otherwise.
    # Uncompressed, rich updates fill the socket buffers between server and client quickly.
    (server,) = cluster.start(
        1,
        RACEWIRE_SUBSCRIBER_BUFFER="64",
        RACEWIRE_WS_PING_INTERVAL_SECONDS="600",
        RACEWIRE_WS_COMPRESSION="false",
        RACEWIRE_FANOUT=os.environ.get("FANOUT", "true"),
    )
    race = await cluster.race(runners=40)
    stalled = await _stalled_subscriber(server, race)
    healthy = Collector(await GraphQLWs.open(server.ws), "fast")
    await healthy.client.subscribe("fast", ODDS, ids=[race["id"]])
    await wait_until(lambda: _at_least(server, 2))
    reading = asyncio.create_task(healthy.run())

    # A feed process of its own, publishing through the same Redis: fast enough to flood the reader.
    async with Feed(cluster.db_url, redis.url) as feed:
        await feed.store(race, 300)
        before = rss_kib(server)
        await feed.store(race, 2500)  # bounded buffers fill up, and the heap settles, here ...
        middle = rss_kib(server)
        await feed.store(race, 1250)  # ... and a leak would keep growing here
        after = rss_kib(server)
        stored = feed.stored
    await wait_until(lambda: _has(healthy, stored), timeout=60)
    reading.cancel()

    seqs, conflated = await _drain(stalled, stored)
    print(
        f"slow reader: stored={stored} rss_kib={before}/{middle}/{after} growth_second_half={after - middle} KiB "
        f"healthy_received={len(healthy.seqs)} stalled_received={len(seqs)} conflated_updates={conflated}"
    )
    assert healthy.seqs == list(range(1, stored + 1))
    assert seqs == list(range(1, stored + 1)) and conflated >= 1
    assert after - before < 8 * 1024
    assert after - middle < 1024  # flat: a leak of even 1 KiB per event would exceed it
    await stalled.close()
    await healthy.client.close()


async def _stalled_subscriber(server: ServerProcess, race: dict[str, Any]) -> Any:
    """A client that will stop reading, with a small socket buffer so the server feels it."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    client = await connect(
        server.ws, sock=sock, subprotocols=["graphql-transport-ws"], max_queue=1, max_size=2**22, ping_interval=None
    )  # it reads nothing for a long while, on purpose
    await client.send(json.dumps({"type": "connection_init", "payload": {}}))
    assert json.loads(await client.recv())["type"] == "connection_ack"
    await client.send(
        json.dumps(
            {"id": "slow", "type": "subscribe", "payload": {"query": RICH_ODDS, "variables": {"ids": [race["id"]]}}}
        )
    )
    return client


async def _drain(client: Any, until: int) -> tuple[list[int], int]:
    """Reads until `until`: individual updates up to where the server fell behind, then conflated."""
    seqs: list[int] = []
    conflated = 0
    while not seqs or seqs[-1] < until:
        message = json.loads(await asyncio.wait_for(client.recv(), 30))
        if message["type"] == "ping":
            await client.send(json.dumps({"type": "pong"}))
            continue
        update = message["payload"]["data"]["oddsUpdated"]
        conflated += update["conflated"]
        seqs.extend(range(update["seqFrom"], update["seq"] + 1))
    return seqs, conflated


class Feed:
    """Stores prices through the use case directly, as a separate feed process would."""

    def __init__(self, db_url: str, redis_url: str) -> None:
        self.db = Database(db_url)
        # The servers' deployment: the same broadcast key (derived from SECRET) and channel prefix.
        settings = Settings(broadcast_url=redis_url, jwt_secret=SECRET)
        self.broadcast = deployment_broadcast(settings)
        self.hub = deployment_hub(settings, self.broadcast)
        self.odds = OddsWriter(self.db, self.hub)
        self.at = datetime.now(UTC) - timedelta(hours=3)
        self.stored = 0

    async def __aenter__(self) -> Feed:
        await self.broadcast.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.broadcast.disconnect()
        await self.db.dispose()

    async def store(self, race: dict[str, Any], count: int) -> None:
        runners = [int(r) for r in race["runners"]]
        for _ in range(count):
            self.stored += 1
            self.at += timedelta(seconds=1)
            quotes = tuple(Quote(r, 2 + ((self.stored + i) % 90) / 10) for i, r in enumerate(runners))
            await store_odds(odds=self.odds, command=StoreOdds(int(race["id"]), "feed", self.at, quotes))


async def _has(collector: Collector, count: int) -> bool:
    return len(collector.seqs) >= count


async def test_sigterm_closes_websockets_with_1012_and_clients_resume_elsewhere(cluster: Cluster) -> None:
    leaving, staying = cluster.start(2)
    race = await cluster.race()
    client = await GraphQLWs.open(leaving.ws)
    await client.subscribe("a", ODDS, ids=[race["id"]])
    await wait_until(lambda: _at_least(leaving, 1))
    async with httpx.AsyncClient(base_url=staying.http) as http:
        write = Writer(http, race)
        await write()
        cursor = (await client.next("a"))["oddsUpdated"]["cursor"]
        leaving.process.send_signal(signal.SIGTERM)
        with pytest.raises(ConnectionClosed) as closed:
            await client.next("a")
        for _ in range(5):
            await write()
    resumed = await GraphQLWs.open(staying.ws)
    await resumed.subscribe("b", ODDS, ids=[race["id"]], after=cursor)
    missed = [(await resumed.next("b"))["oddsUpdated"]["seq"] for _ in range(5)]

    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
    assert leaving.process.wait(15) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once done
    assert any("Application shutdown complete" in line for line in leaving.log)
    assert missed == [2, 3, 4, 5, 6]
    await resumed.close()


async def test_heartbeats_drop_a_silent_peer_and_keep_a_live_one(cluster: Cluster) -> None:
    (server,) = cluster.start(1, RACEWIRE_WS_PING_INTERVAL_SECONDS="0.2", RACEWIRE_WS_PONG_TIMEOUT_SECONDS="0.3")
    race = await cluster.race()
    silent = await connect(server.ws, subprotocols=["graphql-transport-ws"])
    await silent.send(json.dumps({"type": "connection_init", "payload": {}}))
    live = await GraphQLWs.open(server.ws)
    await live.subscribe("l", ODDS, ids=[race["id"]])
    await wait_until(lambda: _at_least(server, 1))
    live_update = asyncio.create_task(live.next("l"))  # answers every ping while it waits
    pings = 0
    with pytest.raises(ConnectionClosed) as dropped:
        while True:
            message = json.loads(await asyncio.wait_for(silent.recv(), 5))
            pings += message["type"] == "ping"
    async with httpx.AsyncClient(base_url=server.http) as http:
        stored = await Writer(http, race)()

    assert pings >= 1 and dropped.value.rcvd is not None and dropped.value.rcvd.code == 4504
    assert (await live_update)["oddsUpdated"]["seq"] == stored["seq"]
    await live.close()
