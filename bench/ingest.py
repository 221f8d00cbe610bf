"""storeOdds ingest: mutations per second (10 prices each) on one server process, SQLite and
PostgreSQL, with several writers at once over HTTP keep-alive.

    .venv/bin/python bench/ingest.py --mutations 2000 --writers 8 --repeat 3
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import racewire  # noqa: E402

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


async def ingest(server: dict, mutations: int, writers: int) -> float:
    race, runners = next(iter(server["runners"].items()))
    start_at = datetime.now(timezone.utc) - timedelta(hours=5)
    counter = iter(range(mutations))

    async def writer(http: httpx.AsyncClient) -> None:
        for n in counter:
            body = {"query": "mutation($i: StoreOddsInput!) { storeOdds(input: $i) { seq } }", "variables": {"i": {
                "raceId": race, "source": f"feed{n % writers}", "observedAt": (start_at + timedelta(milliseconds=n)).isoformat(),
                "prices": [{"runnerId": r, "decimal": round(2 + (n + i) % 40 / 10, 2)} for i, r in enumerate(runners[:10])],
            }}}
            answer = (await http.post("/graphql", json=body)).json()
            if "errors" in answer:
                raise RuntimeError(answer["errors"])

    headers = {"Authorization": f"Bearer {server['token']}"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server['port']}", headers=headers, timeout=30) as http:
        started = time.perf_counter()
        await asyncio.gather(*[writer(http) for _ in range(writers)])
        return mutations / (time.perf_counter() - started)


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
    parser.add_argument("--mutations", type=int, default=2000)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"storeOdds of 10 prices, {args.writers} writers, median of {args.repeat} runs of {args.mutations}")
    print("database | mutations/s")
    for database in ("sqlite", "postgresql"):
        rates = []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                url = None if database == "sqlite" else asyncio.run(fresh_postgres("racewire_bench_ingest"))
                with racewire(Path(tmp), 1, database_url=url) as server:
                    rates.append(asyncio.run(ingest(server, args.mutations, args.writers)))
        print(f"{database} | {statistics.median(rates):.0f}")


if __name__ == "__main__":
    main()
