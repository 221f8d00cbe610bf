"""storeOdds ingest: mutations per second (10 prices each) on one server process pinned to core
0, SQLite and PostgreSQL, from a Node client on core 1 with W writers over HTTP keep-alive. The
baseline in the same run is bench/baseline_server.py: one transaction per call, as Strawberry's
docs show (it checks and keeps far less: no race, runner, staleness, current price or event log).

    .venv/bin/python bench/ingest.py --mutations 4000 --writers 32 --repeat 3
    .venv/bin/python bench/ingest.py --races 20          # writers spread over 20 races

HTTP sends one mutation per request; ws sends them as graphql-transport-ws operations, W/8
connections with 8 in flight each, as a feed holding a connection would.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import ROOT, baseline, racewire

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def ingest(server: dict, races: int, mutations: int, writers: int, transport: str = "http") -> dict[str, Any]:
    runners = dict(list(server["runners"].items())[:races])
    command = [
        "taskset",
        "-c",
        "1",
        "node",
        str(ROOT / "bench/ingestclient.mjs"),
        f"--http=http://127.0.0.1:{server['port']}/graphql",
        f"--token={server['token']}",
        f"--mutations={mutations}",
        f"--writers={writers}",
        f"--runners={json.dumps(runners)}",
        f"--transport={transport}",
    ]
    cpu_before, db_before, wall_before = cpu_seconds(server["pid"]), postgres_cpu_seconds(), time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the load client failed: {done.stderr[-2000:]}")
    cpu, wall = cpu_seconds(server["pid"]) - cpu_before, time.perf_counter() - wall_before
    return {
        **json.loads(done.stdout),
        "server_cpu_share": cpu / wall,
        "server_cpu_ms": cpu * 1000 / mutations,
        "postgres_cpu_share": (postgres_cpu_seconds() - db_before) / wall,
    }


def cpu_seconds(pid: int) -> float:
    """User and system time of a process, all its threads, from /proc/<pid>/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0  # a process that ended meanwhile
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """All PostgreSQL processes on this machine: the database shares the two cores too."""
    return sum(
        cpu_seconds(int(p.name)) for p in Path("/proc").iterdir() if p.name.isdigit() and _command(p) == "postgres"
    )


def _command(proc: Path) -> str:
    try:
        return (proc / "comm").read_text().strip()
    except OSError:
        return ""


async def fresh_postgres(name: str) -> str:
    admin = await asyncpg.connect(POSTGRES_ADMIN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mutations", type=int, default=4000)
    parser.add_argument("--writers", type=int, default=32)
    parser.add_argument("--races", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--transports", default="http,ws")
    args = parser.parse_args()
    print(
        f"storeOdds of 10 prices, {args.writers} writers, {args.races} race(s), "
        f"median of {args.repeat} runs of {args.mutations}"
    )
    print(
        "| server | database | transport | stored/s | failed | ratio to baseline | server CPU ms / call "
        "| server CPU use | PostgreSQL CPU use | load client CPU |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    setups = [("baseline", "sqlite", "http")] + [
        ("Racewire", database, transport)
        for transport in args.transports.split(",")
        for database in args.databases.split(",")
    ]
    runs: dict[tuple[str, str, str], list[dict[str, Any]]] = {setup: [] for setup in setups}
    for _ in range(args.repeat):
        for server_name, database, transport in setups:
            with tempfile.TemporaryDirectory() as tmp:
                if server_name == "baseline":
                    context = baseline(Path(tmp), args.races)
                else:
                    url = None if database == "sqlite" else asyncio.run(fresh_postgres("racewire_bench_ingest"))
                    context = racewire(Path(tmp), args.races, database_url=url)
                with context as server:
                    result = ingest(server, args.races, args.mutations, args.writers, transport)
                    runs[server_name, database, transport].append(result)
                    if result["failed"]:
                        print(
                            f"  ({server_name}, {database}: {result['failed']} failed, e.g. {result['first_failure']})"
                        )
    base = statistics.median(r["rate"] for r in runs[setups[0]])
    for (server_name, database, transport), results in runs.items():
        rate = statistics.median(r["rate"] for r in results)
        failed = statistics.median(r["failed"] for r in results)
        cpu = statistics.median(r["client_cpu_share"] for r in results)
        server_ms = statistics.median(r["server_cpu_ms"] for r in results)
        server_use = statistics.median(r["server_cpu_share"] for r in results)
        db_use = statistics.median(r["postgres_cpu_share"] for r in results) if database == "postgresql" else 0
        print(
            f"| {server_name} | {database} | {transport} | {rate:.0f} | {failed:.0f} | {rate / base:.2f} "
            f"| {server_ms:.2f} | {server_use:.2f} | {db_use:.2f} | {cpu:.2f} |"
        )


if __name__ == "__main__":
    main()
