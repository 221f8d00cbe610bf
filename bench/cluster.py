"""Many machines, simulated on one: 4 Racewire processes on one PostgreSQL, broadcasting through a
single Redis (the baseline), a 3-primary/3-replica Redis Cluster and a 4-primary/4-replica one,
each measured in the same run. 200 races, subscribers spread over the races and the processes
(graphql-transport-ws), a feed storing through every process across all races at a fixed rate.

Per configuration: deliveries/s, latency from the event's store (`publishedAt`) to its receipt
(p50/p99), lost deliveries, Racewire CPU per delivery, and the CPU each Redis node spent
(/proc/<pid>/stat), primaries and replicas apart: a shard's replica receives every SPUBLISH too.

    .venv/bin/python bench/cluster.py --races 200 --subscribers-per-race 5 --rate 40 --seconds 10 --repeat 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from redis import Redis
from websockets.asyncio.client import ClientConnection, connect

from run import ROOT, RUNNERS, SECRET, free_port, postgres_database, wait_listening

PROCESSES = 4
CLUSTER_BASES = {3: 17200, 4: 17220}
ODDS = "subscription($ids: [ID!]!) { oddsUpdated(raceIds: $ids) { seq publishedAt } }"
STORE = "mutation($i: StoreOddsInput!) { storeOdds(input: $i) { seq } }"
TICK = os.sysconf("SC_CLK_TCK")


def publish_stats(ports: list[int]) -> dict[int, tuple[int, int]]:
    """(calls, usec) of PUBLISH + SPUBLISH per node, from INFO commandstats."""
    stats = {}
    for port in ports:
        with Redis(port=port) as node:
            info = node.info("commandstats")
        calls = usec = 0
        for command in ("cmdstat_publish", "cmdstat_spublish"):
            calls += int(info.get(command, {}).get("calls", 0))
            usec += int(info.get(command, {}).get("usec", 0))
        stats[port] = (calls, usec)
    return stats


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


@contextmanager
def single_redis() -> Iterator[tuple[str, dict[str, tuple[int, int]]]]:
    port = free_port()
    process = subprocess.Popen(
        [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_listening(port, process)
        yield f"redis://127.0.0.1:{port}", {"primary single": (process.pid, port)}
    finally:
        process.kill()
        process.wait()


@contextmanager
def redis_cluster(primaries: int) -> Iterator[tuple[str, dict[str, tuple[int, int]]]]:
    """The cluster's URL and its nodes: a name ("primary 17200") to (pid, port)."""
    base = CLUSTER_BASES[primaries]
    env = {**os.environ, "RACEWIRE_TEST_CLUSTER_NODES": str(primaries * 2), "RACEWIRE_TEST_CLUSTER_REPLICAS": "1"}
    script = str(ROOT / "scripts/redis-cluster")
    url = subprocess.run([script, "start", str(base)], env=env, check=True, capture_output=True, text=True).stdout
    try:
        data = Path(os.environ.get("TMPDIR", tempfile.gettempdir())) / f"racewire-redis-cluster-{base}"
        with Redis(port=base) as node:
            owners = {int(primary[1]) for _, _, primary, *_ in node.execute_command("CLUSTER", "SLOTS")}
        pids = {}
        for port in range(base, base + primaries * 2):
            role = "primary" if port in owners else "replica"
            pids[f"{role} {port}"] = (int((data / f"{port}.pid").read_text()), port)
        yield url.strip(), pids
    finally:
        subprocess.run([script, "stop", str(base)], env=env, check=True, capture_output=True)


@contextmanager
def racewire_processes(database_url: str, broadcast_url: str, workdir: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    processes, ports = [], []
    for _ in range(PROCESSES):
        port = free_port()
        env = {
            **os.environ,
            "RACEWIRE_PORT": str(port),
            "RACEWIRE_JWT_SECRET": SECRET,
            "RACEWIRE_DATABASE_URL": database_url,
            "RACEWIRE_BROADCAST_URL": broadcast_url,
            "RACEWIRE_MIGRATE_ON_START": "false",
            "RACEWIRE_MAX_CONNECTIONS_PER_CLIENT": "1000000",
            "RACEWIRE_MUTATIONS_PER_SECOND": "100000",
            "RACEWIRE_MUTATION_BURST": "100000",
            "RACEWIRE_WS_MESSAGES_PER_SECOND": "100000",
            "RACEWIRE_WS_MESSAGE_BURST": "100000",
        }
        processes.append(
            subprocess.Popen(
                [str(ROOT / ".venv/bin/racewire"), "serve"],
                cwd=workdir,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        ports.append(port)
    try:
        for port, process in zip(ports, processes, strict=True):
            wait_listening(port, process)
            process.port = port  # type: ignore[attr-defined]
        yield processes
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)


def load_cards(port: int, token: str, races: int, per_meeting: int = 20) -> dict[str, list[str]]:
    """Race cards of `races` races, a meeting per 20 (a card holds at most 30)."""
    post = time.strftime("%Y-%m-%dT23:00:00+00:00", time.gmtime())
    runners: dict[str, list[str]] = {}
    for first in range(0, races, per_meeting):
        card = {
            "venue": f"Bench Park {first // per_meeting}",
            "country": "GB",
            "date": post[:10],
            "races": [
                {
                    "number": n + 1,
                    "name": f"Bench {first + n}",
                    "postTime": post,
                    "distanceMeters": 1600,
                    "runners": [{"number": r + 1, "horse": f"Horse {first + n}-{r}"} for r in range(RUNNERS)],
                }
                for n in range(min(per_meeting, races - first))
            ],
        }
        body = {
            "query": "mutation($m: [MeetingCardInput!]!) { loadRaceCards(meetings: $m) { races { id runners { id } } } }",
            "variables": {"m": [card]},
        }
        answer = httpx.post(
            f"http://127.0.0.1:{port}/graphql", json=body, timeout=30, headers={"Authorization": f"Bearer {token}"}
        ).json()
        assert "errors" not in answer, answer
        for race in answer["data"]["loadRaceCards"][0]["races"]:
            runners[race["id"]] = [r["id"] for r in race["runners"]]
    return runners


class Subscriber:
    def __init__(self, connection: ClientConnection, race: str) -> None:
        self.connection = connection
        self.race = race
        self.seqs: list[int] = []
        self.latencies_ms: list[float] = []
        self.measuring_from: int | None = None  # seqs up to this one are the warm-up

    @classmethod
    async def open(cls, port: int, race: str) -> Subscriber:
        connection = await connect(
            f"ws://127.0.0.1:{port}/graphql", subprotocols=["graphql-transport-ws"], open_timeout=30, max_queue=None
        )
        await connection.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await connection.recv())["type"] == "connection_ack"
        await connection.send(
            json.dumps({"id": "1", "type": "subscribe", "payload": {"query": ODDS, "variables": {"ids": [race]}}})
        )
        return cls(connection, race)

    async def run(self) -> None:
        async for frame in self.connection:
            received = datetime.now(UTC)
            message = json.loads(frame)
            if message["type"] == "ping":
                await self.connection.send(json.dumps({"type": "pong"}))
                continue
            update = message["payload"]["data"]["oddsUpdated"]
            self.seqs.append(update["seq"])
            if self.measuring_from is not None and update["seq"] > self.measuring_from:
                stored = datetime.fromisoformat(update["publishedAt"])
                self.latencies_ms.append((received - stored).total_seconds() * 1000)


class Feed:
    """Stores one price per call, round-robin over the races and the processes, at a fixed rate."""

    def __init__(self, ports: list[int], runners: dict[str, list[str]]) -> None:
        from server.auth import create_access_token

        token = create_access_token(secret=SECRET, subject="bench-feed", scopes=["odds:write"])
        self.clients = [
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", timeout=30, headers={"Authorization": f"Bearer {token}"}
            )
            for port in ports
        ]
        self.runners = runners
        self.stored = {race: 0 for race in runners}
        self.at = datetime.now(UTC) - timedelta(hours=1)
        self.n = 0

    async def store(self, race: str) -> None:
        self.n += 1
        self.at += timedelta(milliseconds=1)
        runner = self.runners[race][self.n % len(self.runners[race])]
        body = {
            "query": STORE,
            "variables": {
                "i": {
                    "raceId": race,
                    "source": "feed",
                    "observedAt": self.at.isoformat(),
                    "prices": [{"runnerId": runner, "decimal": 2 + (self.n % 80) / 10}],
                }
            },
        }
        answer = (await self.clients[self.n % len(self.clients)].post("/graphql", json=body)).json()
        assert "errors" not in answer, answer
        self.stored[race] += 1

    async def at_rate(self, rate: float, seconds: float, workers: int = 16) -> None:
        races = list(self.runners)
        total = int(rate * seconds)
        start = time.monotonic()
        queue: asyncio.Queue[str] = asyncio.Queue()

        async def work() -> None:
            while True:
                race = await queue.get()
                await self.store(race)
                queue.task_done()

        tasks = [asyncio.create_task(work()) for _ in range(workers)]
        for n in range(total):
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            queue.put_nowait(races[n % len(races)])
        await queue.join()
        for task in tasks:
            task.cancel()

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()


async def until(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def measure(
    processes: list[subprocess.Popen[bytes]],
    runners: dict[str, list[str]],
    nodes: dict[str, tuple[int, int]],
    args: argparse.Namespace,
) -> dict[str, Any]:
    ports = [p.port for p in processes]  # type: ignore[attr-defined]
    races = list(runners)
    subscribers = []
    for n in range(len(races) * args.subscribers_per_race):
        subscribers.append(await Subscriber.open(ports[n % len(ports)], races[n % len(races)]))
    async with httpx.AsyncClient() as http:
        for port in ports:
            expected = sum(1 for n in range(len(subscribers)) if n % len(ports) == ports.index(port))
            while (await http.get(f"http://127.0.0.1:{port}/ready")).json()["subscriptions"] < expected:
                await asyncio.sleep(0.1)
    reading = [asyncio.create_task(s.run()) for s in subscribers]
    feed = Feed(ports, runners)
    for race in races:  # warm-up: every subscription proven live
        await feed.store(race)
    await until(lambda: all(len(s.seqs) >= 1 for s in subscribers), 60)
    for s in subscribers:
        s.measuring_from = feed.stored[s.race]

    redis_pids = {name: pid for name, (pid, _) in nodes.items()}
    redis_ports = {name: port for name, (_, port) in nodes.items()}
    idle_from = {name: cpu_seconds(pid) for name, pid in redis_pids.items()}
    await asyncio.sleep(args.idle_seconds)  # what the nodes spend with nothing published: gossip, pings
    idle = {name: (cpu_seconds(pid) - idle_from[name]) / args.idle_seconds for name, pid in redis_pids.items()}

    server_cpu = [cpu_seconds(p.pid) for p in processes]
    redis_cpu = {name: cpu_seconds(pid) for name, pid in redis_pids.items()}
    publishes = publish_stats(list(redis_ports.values()))
    started = time.monotonic()
    await feed.at_rate(args.rate, args.seconds)
    fed = time.monotonic() - started
    expected = sum(feed.stored[s.race] - (s.measuring_from or 0) for s in subscribers)
    await until(lambda: sum(len(s.latencies_ms) for s in subscribers) >= expected, 30)
    elapsed = time.monotonic() - started
    server_used = sum(cpu_seconds(p.pid) for p in processes) - sum(server_cpu)
    redis_used = {name: cpu_seconds(pid) - redis_cpu[name] for name, pid in redis_pids.items()}
    after = publish_stats(list(redis_ports.values()))
    published_on = {name: after[port][0] - publishes[port][0] for name, port in redis_ports.items()}
    publish_usec = {name: after[port][1] - publishes[port][1] for name, port in redis_ports.items()}

    for task in reading:
        task.cancel()
    for s in subscribers:
        await s.connection.close()
    await feed.close()
    latencies = sorted(ms for s in subscribers for ms in s.latencies_ms)
    delivered = len(latencies)
    published = sum(feed.stored.values()) - len(races)
    duplicated = sum(len(s.seqs) - len(set(s.seqs)) for s in subscribers)
    load_share = {name: max(used / elapsed - idle[name], 0.0) for name, used in redis_used.items()}
    return {
        "stored": published,
        "stores_per_s": published / fed,
        "deliveries": delivered,
        "lost": expected - delivered,
        "duplicated": duplicated,
        "deliveries_per_s": delivered / elapsed,
        "p50_ms": latencies[len(latencies) // 2],
        "p99_ms": latencies[int(len(latencies) * 0.99)],
        "racewire_cpu_us_per_store": server_used / max(published, 1) * 1e6,
        "racewire_cpu_us_per_delivery": server_used / max(delivered, 1) * 1e6,
        "redis_cpu_share": {name: used / elapsed for name, used in redis_used.items()},
        "redis_idle_share": idle,
        "redis_load_share": load_share,
        "publishes": published_on,
        "publish_usec": publish_usec,
    }


def run_once(config: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        database_url = stack.enter_context(postgres_database())
        if config == "redis":
            broadcast_url, nodes = stack.enter_context(single_redis())
        else:
            broadcast_url, nodes = stack.enter_context(redis_cluster(int(config.split("-")[1])))
        processes = stack.enter_context(racewire_processes(database_url, broadcast_url, Path(tmp)))
        from server.auth import create_access_token

        token = create_access_token(secret=SECRET, subject="bench", scopes=["odds:write", "races:write"])
        runners = load_cards(processes[0].port, token, args.races)  # type: ignore[attr-defined]
        return asyncio.run(measure(processes, runners, nodes, args))


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    for run in runs:  # a single Redis is one node, whatever its port was in each run
        for key, value in run.items():
            if isinstance(value, dict) and len(value) == 1:
                run[key] = {"primary single": next(iter(value.values()))}
    figures = {
        key: statistics.median(run[key] for run in runs)
        for key, value in runs[0].items()
        if not isinstance(value, dict)
    }
    for key, value in runs[0].items():
        if isinstance(value, dict):
            figures[key] = {name: statistics.median(run[key][name] for run in runs) for name in value}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--races", type=int, default=200)
    parser.add_argument("--subscribers-per-race", type=int, default=5)
    parser.add_argument("--rate", type=float, default=40, help="stores per second, spread over all races")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--configs", default="redis,cluster-3,cluster-4")
    parser.add_argument("--from-log", help="print the table again from the per-run lines a run wrote to stderr")
    parser.add_argument(
        "--idle-seconds", type=float, default=3, help="Redis CPU measured idle first, for the load's share"
    )
    args = parser.parse_args()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    configs = args.configs.split(",")
    runs: dict[str, list[dict[str, Any]]] = {config: [] for config in configs}
    if args.from_log:
        for line in Path(args.from_log).read_text().splitlines():
            config, _, figures = line.partition(" ")
            if config in runs and figures.startswith("{"):
                runs[config].append(json.loads(figures))
    else:
        for _ in range(args.repeat):
            for config in configs:  # interleaved, so a noisy moment does not fall on one configuration
                runs[config].append(run_once(config, args))
                print(config, json.dumps(runs[config][-1]), file=sys.stderr, flush=True)
    report(runs, args)


def report(runs: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> None:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    print(
        f"commit {commit}; {PROCESSES} Racewire processes, PostgreSQL; {args.races} races x "
        f"{args.subscribers_per_race} subscribers; {args.rate:g} stores/s for {args.seconds:g} s; "
        f"median of {min(len(r) for r in runs.values())} runs"
    )
    summaries = {config: summarise(r) for config, r in runs.items()}
    print(
        "broadcaster | lost | dup | stores/s | deliveries/s | p50 ms | p99 ms | racewire CPU µs/store | "
        "publishes per primary | µs in (S)PUBLISH per call | Redis CPU µs per publish, all nodes, above idle | "
        "busiest primary: µs/s in (S)PUBLISH | busiest primary CPU above idle | "
        "every node: CPU share (idle)"
    )
    for config, s in summaries.items():
        primaries = [n for n in s["publishes"] if n.startswith("primary")]
        per_primary = "/".join(f"{s['publishes'][n]:.0f}" for n in primaries)
        busiest = max(primaries, key=lambda n: s["publishes"][n])
        usec_per_s = s["publish_usec"][busiest] / (s["deliveries"] / s["deliveries_per_s"])
        shares = ", ".join(f"{n}: {v:.1%} ({s['redis_idle_share'][n]:.1%})" for n, v in s["redis_cpu_share"].items())
        in_command = sum(s["publish_usec"][n] for n in primaries) / max(sum(s["publishes"][n] for n in primaries), 1)
        seconds = s["deliveries"] / s["deliveries_per_s"]
        above_idle = sum(s["redis_load_share"].values()) * seconds / max(s["stored"], 1) * 1e6
        print(
            f"{config} | {s['lost']:.0f} | {s['duplicated']:.0f} | {s['stores_per_s']:.0f} | "
            f"{s['deliveries_per_s']:.0f} | {s['p50_ms']:.1f} | {s['p99_ms']:.1f} | "
            f"{s['racewire_cpu_us_per_store']:.0f} | {per_primary} | {in_command:.1f} | {above_idle:.0f} | {usec_per_s:.0f} | "
            f"{s['redis_load_share'][busiest]:.2%} | {shares}"
        )


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
