"""How long the server takes to refuse (or accept) worst-case inputs outside GraphQL documents:
connection_init's `heartbeatMs` and the `conflateMs` argument at and beyond their bounds and of
odd kinds, federation's `_entities` with many, mixed and deeply nested representations, and the
partner files read at start (manifests, the partners TOML), large, deep and malformed.

The first two sections talk to a real server (`racewire serve` on a fresh SQLite file, as
bench/run.py starts it); the third reads files in this process, as the server does at start.
Each section prints the median of several runs of every case, as a ratio against a trivial valid
input measured in the same run, with its outcome (accepted, or how it was refused).

    .venv/bin/python bench/inputs.py [--runs 7]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from run import racewire
from schema.query_limits import QueryLimits
from schema.schema import build_schema
from server.manifests import ManifestError, operation_of, read_manifest
from server.partners import PartnersError, read_settings

KIB = 1024
MIB = 1024 * KIB
Timed = Callable[[], Awaitable[tuple[float, str]]]


def deep(levels: int, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(levels):
        value = {"a": value}
    return value


def deep_text(levels: int) -> str:
    """JSON nested `levels` objects deep, written out (json.dumps recurses per level)."""
    return '{"a":' * levels + "1" + "}" * levels


# connection_init: the raw message text, so odd JSON numbers are sent exactly as written.
INITS: dict[str, str] = {
    "baseline: {} payload": '{"type":"connection_init","payload":{}}',
    "heartbeatMs 1000 (lowest)": '{"type":"connection_init","payload":{"heartbeatMs":1000}}',
    "heartbeatMs 120000 (highest)": '{"type":"connection_init","payload":{"heartbeatMs":120000}}',
    "heartbeatMs 999": '{"type":"connection_init","payload":{"heartbeatMs":999}}',
    "heartbeatMs 120001": '{"type":"connection_init","payload":{"heartbeatMs":120001}}',
    "heartbeatMs -0": '{"type":"connection_init","payload":{"heartbeatMs":-0}}',
    "heartbeatMs 5000.0": '{"type":"connection_init","payload":{"heartbeatMs":5000.0}}',
    "heartbeatMs 1e308": '{"type":"connection_init","payload":{"heartbeatMs":1e308}}',
    "heartbeatMs 1e309 (inf)": '{"type":"connection_init","payload":{"heartbeatMs":1e309}}',
    "heartbeatMs 2**64": '{"type":"connection_init","payload":{"heartbeatMs":18446744073709551616}}',
    "heartbeatMs 4,000 digits": '{"type":"connection_init","payload":{"heartbeatMs":' + "9" * 4000 + "}}",
    'heartbeatMs "5000"': '{"type":"connection_init","payload":{"heartbeatMs":"5000"}}',
    "heartbeatMs true": '{"type":"connection_init","payload":{"heartbeatMs":true}}',
    "heartbeatMs nested object": json.dumps({"type": "connection_init", "payload": {"heartbeatMs": deep(100)}}),
    "payload nested 1,000 deep": '{"type":"connection_init","payload":' + deep_text(1000) + "}",
    "payload nested 5,000 deep": '{"type":"connection_init","payload":' + deep_text(5000) + "}",
    "payload: 20,000 keys (250 KiB)": json.dumps(
        {"type": "connection_init", "payload": {f"k{i:05d}": "x" for i in range(20_000)}}
    ),
    "payload: 1 MiB string": json.dumps({"type": "connection_init", "payload": {"pad": "x" * MIB}}),
}

CONFLATE = """subscription($ids: [ID!]!, $c: Int) {
  oddsUpdated(raceIds: $ids, snapshot: true, conflateMs: $c) { seq snapshot }
}"""
CONFLATE_LITERAL = """subscription($ids: [ID!]!) {
  oddsUpdated(raceIds: $ids, snapshot: true, conflateMs: LITERAL) { seq snapshot }
}"""
# conflateMs: the variable's JSON as written, or a literal in the document (`literal:`).
CONFLATES: dict[str, str] = {
    "baseline: conflateMs 0": "0",
    "conflateMs 120000 (highest)": "120000",
    "conflateMs 120001": "120001",
    "conflateMs -1": "-1",
    "conflateMs -0": "-0",
    "conflateMs 1000.0": "1000.0",
    "conflateMs 1.5": "1.5",
    "conflateMs 2**31": "2147483648",
    "conflateMs 1e308": "1e308",
    'conflateMs "100"': '"100"',
    "conflateMs nested object": json.dumps(deep(100)),
    "conflateMs list of 10,000": json.dumps([100] * 10_000),
    "literal: conflateMs 1e308": "literal:1e308",
    "literal: conflateMs of 3,000 digits": "literal:" + "9" * 3000,
}

ENTITIES = "query($r: [_Any!]!) { _entities(representations: $r) { __typename ... on Race { id } } }"


async def init_once(port: int, text: str) -> tuple[float, str]:
    async with connect(f"ws://127.0.0.1:{port}/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        started = time.perf_counter()
        await ws.send(text)
        try:
            answer = json.loads(await asyncio.wait_for(ws.recv(), 10))
            outcome = "ack " + json.dumps(answer.get("payload"))
        except ConnectionClosed as closed:
            outcome = f"close {closed.rcvd.code if closed.rcvd else '?'}"
        return time.perf_counter() - started, outcome


async def conflate_once(port: int, race: str, value: str) -> tuple[float, str]:
    if value.startswith("literal:"):
        query = CONFLATE_LITERAL.replace("LITERAL", value.removeprefix("literal:"))
        variables = json.dumps({"ids": [race]})
    else:
        query, variables = CONFLATE, '{"ids": [' + json.dumps(race) + '], "c": ' + value + "}"
    message = (
        '{"id":"1","type":"subscribe","payload":{"query":' + json.dumps(query) + ',"variables":' + variables + "}}"
    )
    async with connect(f"ws://127.0.0.1:{port}/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send('{"type":"connection_init","payload":{}}')
        await ws.recv()
        started = time.perf_counter()
        await ws.send(message)
        try:
            answer = json.loads(await asyncio.wait_for(ws.recv(), 10))
        except ConnectionClosed as closed:
            return time.perf_counter() - started, f"close {closed.rcvd.code if closed.rcvd else '?'}"
        elapsed = time.perf_counter() - started
        if answer["type"] == "next" and "errors" not in answer["payload"]:
            return elapsed, "accepted"
        errors = answer["payload"] if answer["type"] == "error" else answer["payload"]["errors"]
        return elapsed, str((errors[0].get("extensions") or {}).get("code", errors[0]["message"][:40]))


def entity_bodies(races: list[str]) -> dict[str, str]:
    race = races[0]

    def body(representations: Any) -> str:
        return json.dumps({"query": ENTITIES, "variables": {"r": representations}})

    valid = {"__typename": "Race", "id": race}
    mixed = [
        valid,
        {"__typename": "Nope", "id": "1"},
        {"__typename": "Race", "id": True},
        {"__typename": "Race", "id": "9" * 2000},
        {"__typename": "Race"},
        "Race:1",
        {"__typename": deep(50), "id": race},
        {"__typename": "Race", "id": race, "extra": ["x"] * 100},
        {"__typename": "Runner", "id": "-1"},
        {"__typename": "Race", "id": 1.5},
    ]
    return {
        "baseline: one representation": body([valid]),
        "100 representations (the limit)": body([valid] * 100),
        "101 representations": body([valid] * 101),
        "1,000 representations": body([valid] * 1000),
        "10,000 representations (~250 KiB)": body([{"__typename": "Race", "id": "1"}] * 10_000),
        "100 mixed/malformed": body(mixed * 10),
        "one nested 1,000 deep": body([{"__typename": "Race", "id": race, "n": "@"}]).replace('"@"', deep_text(1000)),
        "100 nested 100 deep": body([{"__typename": "Race", "id": race, "n": deep(100)}] * 100),
        "nested 5,000 deep (raw)": '{"query":'
        + json.dumps(ENTITIES)
        + ',"variables":{"r":['
        + "[" * 5000
        + "]" * 5000
        + "]}}",
        "id of 4,000 digits (a number)": body([{"__typename": "Race", "id": 0}]).replace(
            '"id": 0', '"id": ' + "9" * 4000
        ),
        "1 MiB body": body([{"__typename": "Race", "id": race, "pad": "x" * MIB}]),
    }


async def entity_once(client: httpx.AsyncClient, body: str) -> tuple[float, str]:
    started = time.perf_counter()
    try:
        response = await client.post("/graphql", content=body, headers={"content-type": "application/json"})
    except httpx.TransportError as error:  # a body refused before it is all sent
        return time.perf_counter() - started, f"{type(error).__name__} (connection closed)"
    elapsed = time.perf_counter() - started
    try:
        answer = response.json()
    except ValueError:
        return elapsed, f"HTTP {response.status_code}"
    errors = answer.get("errors") or []
    if not errors:
        return elapsed, f"HTTP {response.status_code} accepted"
    codes = sorted({str((e.get("extensions") or {}).get("code", "?")) for e in errors})
    return elapsed, f"HTTP {response.status_code} {len(errors)}× {'/'.join(codes)}"


def manifest_files(directory: Path) -> dict[str, Path]:
    import hashlib

    def operation(body: str) -> dict[str, str]:
        return {"id": hashlib.sha256(body.encode()).hexdigest(), "name": "Q", "type": "query", "body": body}

    def manifest(operations: Any, **extra: Any) -> dict[str, Any]:
        return {"format": "apollo-persisted-query-manifest", "version": 1, "operations": operations, **extra}

    texts: dict[str, str] = {
        "baseline: one operation": json.dumps(manifest([operation("{ __typename }")])),
        "1,000 operations": json.dumps(manifest([operation(f"query Q{i} {{ __typename }}") for i in range(1000)])),
        "10,000 operations": json.dumps(manifest([operation(f"query Q{i} {{ __typename }}") for i in range(10_000)])),
        "one 4 MiB body": json.dumps(manifest([operation("{ __typename }" + " " * 4 * MIB)])),
        "operations: 5": json.dumps(manifest(5)),
        "operations: an object": json.dumps(manifest({"a": operation("{ __typename }")})),
        "operations: a 1 MiB string": json.dumps(manifest("x" * MIB)),
        "10,000 operations, one id repeated": json.dumps(manifest([operation("{ __typename }")] * 10_000)),
        "an operation nested 100 deep": json.dumps(manifest([{**operation("{ a }"), "body": deep(100)}])),
        "nested 100,000 deep": "[" * 100_000 + "]" * 100_000,
        "not UTF-8": '{"format": "\xff"}',
        "4,300+ digit version": json.dumps(manifest([])).replace('"version": 1', '"version": ' + "1" * 5000),
        "a type that is no operation": json.dumps(manifest([{**operation("{ __typename }"), "type": "x" * 1000}])),
    }
    paths = {}
    for n, (name, text) in enumerate(texts.items()):
        path = directory / f"m{n}.json"
        path.write_bytes(text.encode("latin-1") if name == "not UTF-8" else text.encode())
        paths[name] = path
    return paths


PARTNERS: dict[str, str] = {
    "baseline: one partner": "[acme]\nmax_query_cost = 100\n",
    "1,000 partners": "".join(f"[p{i}]\nmax_query_cost = 100\n" for i in range(1000)),
    "requests_per_second = inf": "[acme]\nrequests_per_second = inf\n",
    "requests_per_second = nan": "[acme]\nrequests_per_second = nan\n",
    "requests_per_second = 1e308": "[acme]\nrequests_per_second = 1e308\n",
    "max_subscriptions = 2**63-1": "[acme]\nmax_subscriptions = 9223372036854775807\n",
    "a value nested 10,000 deep": "[acme]\nmax_query_cost = " + "[" * 10_000 + "]" * 10_000 + "\n",
    'a client named "a\\nb"': '["a\\nb"]\nmax_query_cost = 1\n',
    "not TOML": "[acme\n",
    "not UTF-8": "[acme]\nmax_query_cost = 1 # \xff\n",
}


def side_by_side(count: int) -> str:
    """Fragments spread next to one another, each selecting the same fields (bench/validation.py)."""
    fragments = " ".join(f"fragment F{n} on Race {{ id name status }}" for n in range(count))
    return fragments + ' query Q { race(id: "1") { ' + " ".join(f"...F{n}" for n in range(count)) + " } }"


DOCUMENTS: dict[str, str] = {
    "baseline: query Q { __typename }": "query Q { __typename }",
    "fragments side by side, 50": side_by_side(50),
    "fragments side by side, 100": side_by_side(100),
    "fragments side by side, 400": side_by_side(400),
    "the same field, 1,000 times": "query Q { " + "__typename " * 1000 + "}",
    "the same field, 4,000 times": "query Q { " + "__typename " * 4000 + "}",
    "a 1 MiB comment": "query Q { __typename }\n#" + "c" * MIB,
}


def time_file(read: Callable[[Path], Any], path: Path) -> tuple[float, str]:
    started = time.perf_counter()
    try:
        found = read(path)
        outcome = f"accepted ({len(found)})"
    except (ManifestError, PartnersError) as error:
        outcome = f"{type(error).__name__}: {str(error).removeprefix(str(path))[:40]!r}"
    except Exception as error:  # noqa: BLE001 - what is measured: an untyped failure is a finding
        outcome = f"UNTYPED {type(error).__name__}"
    return time.perf_counter() - started, outcome


def table(title: str, rows: list[tuple[str, int, str, float]]) -> None:
    baseline = rows[0][3]
    print(f"\n{title}\n{'case':40} {'bytes':>9} {'median ms':>9} {'× baseline':>10}  outcome")
    for name, size, outcome, median in rows:
        print(f"{name:40} {size:9d} {median * 1000:9.2f} {median / baseline:10.1f}  {outcome}")


async def measure(cases: dict[str, tuple[int, Timed]], runs: int) -> list[tuple[str, int, str, float]]:
    rows = []
    for name, (size, once) in cases.items():
        times, outcome = [], ""
        for _ in range(runs):
            elapsed, outcome = await once()
            times.append(elapsed)
        rows.append((name, size, outcome, statistics.median(times)))
    return rows


async def served(port: int, races: list[str], runs: int) -> None:
    inits = {n: (len(t), (lambda t=t: init_once(port, t))) for n, t in INITS.items()}
    table("connection_init (send to ack or close)", await measure(inits, runs))
    conflates = {n: (len(v), (lambda v=v: conflate_once(port, races[0], v))) for n, v in CONFLATES.items()}
    table("oddsUpdated conflateMs (subscribe to first message)", await measure(conflates, runs))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        bodies = {n: (len(b), (lambda b=b: entity_once(client, b))) for n, b in entity_bodies(races).items()}
        table("_entities over HTTP (request to response)", await measure(bodies, runs))


async def files(runs: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        manifests = manifest_files(Path(directory))

        async def manifest(path: Path) -> tuple[float, str]:
            return time_file(read_manifest, path)

        cases = {n: (p.stat().st_size, (lambda p=p: manifest(p))) for n, p in manifests.items()}
        table("partner manifests (read_manifest)", await measure(cases, runs))
        partner_paths = {}
        for n, (name, text) in enumerate(PARTNERS.items()):
            path = Path(directory) / f"p{n}.toml"
            path.write_bytes(text.encode("latin-1") if name == "not UTF-8" else text.encode())
            partner_paths[name] = path

        async def settings(path: Path) -> tuple[float, str]:
            return time_file(read_settings, path)

        cases = {n: (p.stat().st_size, (lambda p=p: settings(p))) for n, p in partner_paths.items()}
        table("partners file (read_settings)", await measure(cases, runs))
        schema = build_schema(QueryLimits())._schema  # noqa: SLF001 - graphql-core's, as `racewire documents add` checks
        document_paths = {}
        for n, (name, text) in enumerate(DOCUMENTS.items()):
            path = Path(directory) / f"d{n}.graphql"
            path.write_text(text)
            document_paths[name] = path

        async def register(path: Path) -> tuple[float, str]:
            return time_file(lambda p: [operation_of(p.read_text(), schema, source=str(p))], path)

        cases = {n: (p.stat().st_size, (lambda p=p: register(p))) for n, p in document_paths.items()}
        table("racewire documents add (operation_of)", await measure(cases, runs))


def main(runs: int, *, server: bool) -> None:
    if server:
        with tempfile.TemporaryDirectory() as workdir, racewire(Path(workdir), races=1, cores="0") as started:
            asyncio.run(served(started["port"], list(started["runners"]), runs))
    asyncio.run(files(runs))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--files-only", action="store_true", help="only the partner files, in this process")
    arguments = parser.parse_args()
    main(arguments.runs, server=not arguments.files_only)
