"""What `conflateMs` does under a fast feed: one race updated 20 times a second, S subscribers
of its oddsUpdated at conflateMs 1000 against conflateMs 0 (every update), and the feed alone
(no subscriber) as the floor, all in the same run. Reports the server's CPU (share of a core,
from /proc) and the bytes each subscriber receives per second; median of --repeat runs.

The server is pinned to core 0 on a fresh SQLite file; this script (feed and subscribers, one
asyncio loop) to core 1.

    .venv/bin/python bench/conflation.py --subscribers 200 --seconds 10 --repeat 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import cpu_seconds
from run import racewire

PACED = """subscription Paced($ids: [ID!]!, $ms: Int) {
  oddsUpdated(raceIds: $ids, conflateMs: $ms) { seq seqFrom conflated prices { runnerId source decimal fractional } }
}"""
STORE = "mutation($input: StoreOddsInput!) { storeOdds(input: $input) { seq } }"
RATE = 20  # updates per second to the race
MOVED = 3  # runners whose price moves per update


async def subscriber(
    port: int, race: str, conflate_ms: int, ready: asyncio.Event, counts: list[int]
) -> ClientConnection:
    ws = await connect(
        f"ws://127.0.0.1:{port}/graphql", subprotocols=["graphql-transport-ws"], max_size=None, compression=None
    )
    await ws.send(json.dumps({"type": "connection_init"}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    await ws.send(
        json.dumps(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": PACED, "variables": {"ids": [race], "ms": conflate_ms}},
            }
        )
    )

    async def read() -> None:
        async for message in ws:
            if ready.is_set():
                counts[0] += len(message)
                counts[1] += 1

    asyncio.get_running_loop().create_task(read())
    return ws


async def feed(port: int, token: str, race: str, runners: list[str], seconds: float) -> int:
    rng = random.Random(7)
    book = {r: rng.uniform(2.0, 20.0) for r in runners}
    at = datetime.now(UTC) - timedelta(minutes=10)
    sent = 0
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}
    ) as http:
        start = time.perf_counter()
        while sent < seconds * RATE:
            moved = rng.sample(runners, MOVED)
            for r in moved:
                book[r] = min(900.0, max(1.05, round(book[r] * rng.uniform(0.9, 1.1), 2)))
            at += timedelta(milliseconds=50)
            body = {
                "raceId": race,
                "source": "exchange",
                "observedAt": at.isoformat(),
                "prices": [{"runnerId": r, "decimal": book[r]} for r in moved],
            }
            response = await http.post("/graphql", json={"query": STORE, "variables": {"input": body}})
            assert "errors" not in response.json(), response.text
            sent += 1
            await asyncio.sleep(max(0.0, start + sent / RATE - time.perf_counter()))
    return sent


async def one_run(
    server: dict[str, Any], subscribers: int, conflate_ms: int | None, seconds: float
) -> dict[str, float]:
    race, runners = next(iter(server["runners"].items()))
    counts = [0, 0]  # bytes, messages
    ready = asyncio.Event()
    sockets = (
        []
        if conflate_ms is None
        else await asyncio.gather(
            *[subscriber(server["port"], race, conflate_ms, ready, counts) for _ in range(subscribers)]
        )
    )
    await asyncio.sleep(1.0)  # subscriptions listening; nothing is published before the feed starts
    ready.set()
    pid = int(server["pid"].split(",")[0])
    cpu, wall = cpu_seconds(pid), time.perf_counter()
    sent = await feed(server["port"], server["token"], race, runners, seconds)
    await asyncio.sleep(1.2)  # the last window's update
    cpu, wall = cpu_seconds(pid) - cpu, time.perf_counter() - wall
    for ws in sockets:
        await ws.close()
    per, fed = max(1, len(sockets)), sent / RATE  # what subscribers got, per second of feed
    return {
        "updates_sent": sent,
        "server_cpu_share": cpu / wall,
        "server_cpu_ms_per_s": cpu * 1000 / wall,
        "bytes_per_subscriber_per_s": counts[0] / per / fed,
        "messages_per_subscriber_per_s": counts[1] / per / fed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.sched_setaffinity(0, {1})
    modes: dict[str, int | None] = {"feed only": None, "conflateMs 0": 0, "conflateMs 1000": 1000}
    results: dict[str, list[dict[str, float]]] = {mode: [] for mode in modes}
    with tempfile.TemporaryDirectory() as workdir, racewire(Path(workdir), races=1) as server:
        for _ in range(args.repeat):
            for mode, conflate_ms in modes.items():  # interleaved, so drift hits every mode alike
                results[mode].append(asyncio.run(one_run(server, args.subscribers, conflate_ms, args.seconds)))
    median = {mode: {key: statistics.median(r[key] for r in runs) for key in runs[0]} for mode, runs in results.items()}
    print(
        f"{args.subscribers} subscribers, one race at {RATE} updates/s for {args.seconds:g} s, median of {args.repeat}"
    )
    print(
        "| mode | server CPU (share of a core) | server CPU over the feed alone | bytes / subscriber / s "
        "| messages / subscriber / s |"
    )
    print("|---|---|---|---|---|")
    floor = median["feed only"]["server_cpu_share"]
    for mode, m in median.items():
        print(
            f"| {mode} | {m['server_cpu_share']:.3f} | {m['server_cpu_share'] - floor:.3f} "
            f"| {m['bytes_per_subscriber_per_s']:,.0f} | {m['messages_per_subscriber_per_s']:.2f} |"
        )
    every, paced = median["conflateMs 0"], median["conflateMs 1000"]
    print(
        f"conflateMs 1000 / conflateMs 0: server CPU {paced['server_cpu_share'] / every['server_cpu_share']:.2f}x, "
        f"CPU over the feed {(paced['server_cpu_share'] - floor) / (every['server_cpu_share'] - floor):.2f}x, "
        f"bytes per subscriber {paced['bytes_per_subscriber_per_s'] / every['bytes_per_subscriber_per_s']:.3f}x"
    )


if __name__ == "__main__":
    main()
