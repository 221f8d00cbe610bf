"""What a partner's own controls cost per operation: the same small query executed through the
real schema (its extensions, caches warm), as an anonymous client (metered as `none`, no limits
of its own) and as a listed partner with a cost limit, a request rate, a manifest to check and
Prometheus counters to bump, against a baseline with no client at all, measured in the same run.

Prints the median over several runs of the time per operation and each ratio to the baseline.

    .venv/bin/python bench/partners.py [--runs 7] [--operations 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import statistics
import tempfile
import time

from broadcaster import Broadcast

from pubsub.hub import Hub
from resolvers.store_odds import OddsWriter
from resolvers.viewer import ANONYMOUS, Viewer
from schema.context import Context
from schema.schema import build_schema
from server.manifests import Operation
from server.metrics import Metrics
from server.partners import Partners, PartnerSettings
from storage.database import Database

QUERY = "query Ping { __typename }"
PARTNER = Viewer(subject="tipster-app", scopes=frozenset(), client="tipster")


async def per_operation(schema: object, context: Context, operations: int) -> float:
    start = time.perf_counter()
    for _ in range(operations):
        result = await schema.execute(QUERY, context_value=context)  # type: ignore[attr-defined]
        assert result.errors is None, result.errors
    return (time.perf_counter() - start) / operations


async def main(runs: int, operations: int) -> None:
    schema = build_schema()
    broadcast = Broadcast("memory://")
    await broadcast.connect()
    with tempfile.TemporaryDirectory() as directory:
        db = Database(f"sqlite+aiosqlite:///{directory}/bench.db")  # never opened: the query reads no table
        hub = Hub(broadcast)
        odds = OddsWriter(db, hub)
        partners = Partners(
            {"tipster": PartnerSettings(max_query_cost=2000, requests_per_second=1e9, request_burst=10**9)},
            {"tipster": [Operation(hashlib.sha256(QUERY.encode()).hexdigest(), "Ping", "query", QUERY)]},
            meter=Metrics(open_connections=lambda: 0),
        )
        contexts = {
            "no client (baseline)": Context(db=db, hub=hub, odds=odds, viewer=ANONYMOUS),
            "anonymous, metered": Context(
                db=db, hub=hub, odds=odds, viewer=ANONYMOUS, client=partners.quota_for(ANONYMOUS)
            ),
            "listed partner": Context(db=db, hub=hub, odds=odds, viewer=PARTNER, client=partners.quota_for(PARTNER)),
        }
        for context in contexts.values():
            await per_operation(schema, context, operations // 10)  # warm the caches
        figures: dict[str, list[float]] = {name: [] for name in contexts}
        for _ in range(runs):
            for name, context in contexts.items():  # interleaved, so drift hits each alike
                figures[name].append(await per_operation(schema, context, operations))
        await db.dispose()
    await broadcast.disconnect()
    baseline = statistics.median(figures["no client (baseline)"])
    print(f"{operations} operations of {QUERY!r}, median of {runs} runs")
    print(f"{'client':<24} {'µs / operation':>15} {'ratio':>7}")
    for name, values in figures.items():
        median = statistics.median(values)
        print(f"{name:<24} {median * 1e6:>15.1f} {median / baseline:>7.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--operations", type=int, default=3000)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.runs, arguments.operations))
