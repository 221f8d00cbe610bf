"""Racewire's fan-out benchmark: N graphql-transport-ws subscribers, E storeOdds of 10 prices,
the server pinned to core 0 and the load client to core 1, against the baseline in the same run.
Both servers run with their default settings (only the per-client limits a one-address load
test would trip are raised). --deflate adds the mode browsers use: every load connection offers
permessage-deflate as Chrome does, beside the mode that offers no extension, in the same run.
--socketio adds the socket.io stack of the earlier Node version (bench/socketio/) in every repeat.

    .venv/bin/python bench/run.py --connections 1000,5000 --events 20 --repeat 3 --deflate
    .venv/bin/python bench/run.py --connections 5000,10000 --repeat 3 --deflate --socketio --skip-baseline
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from server.auth import create_access_token  # noqa: E402 - importable once the checkout is on sys.path

SECRET = "bench-secret-0123456789abcdefghijklmnop"
POSTGRES_ADMIN_URL = os.environ.get("RACEWIRE_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("RACEWIRE_BENCH_REDIS", "redis://127.0.0.1:6379")
RUNNERS = 12
METRICS = (
    "lost",
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "max_ms",
    "deliveries_per_s",
    "server_cpu_us_per_delivery",
    "server_rss_kib_per_connection",
    "wire_bytes_per_delivery",
    "connect_per_s",
    "connect_server_cpu_us_per_connection",
    "client_cpu_share",
)
SOCKETIO = ROOT / "bench/socketio"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if process.poll() is not None:
            raise RuntimeError("server exited")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("server did not listen")


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database, dropped afterwards: --workers needs a shared one."""
    name = f"racewire_bench_{os.getpid()}_{time.monotonic_ns()}"

    async def admin(statement: str) -> None:
        connection = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"
    try:
        subprocess.run(
            [str(ROOT / ".venv/bin/racewire"), "migrate"],
            env={**os.environ, "RACEWIRE_DATABASE_URL": url},
            check=True,
            capture_output=True,
        )
        yield url
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


@contextmanager
def racewire(
    workdir: Path,
    races: int,
    workers: int = 1,
    cores: str = "0",
    database_url: str | None = None,
    overrides: dict[str, str] | None = None,
) -> Iterator[dict[str, Any]]:
    port = free_port()
    env = {
        **os.environ,
        "RACEWIRE_PORT": str(port),
        "RACEWIRE_JWT_SECRET": SECRET,
        "RACEWIRE_DATABASE_URL": database_url or f"sqlite+aiosqlite:///{workdir}/racewire.db",
        "RACEWIRE_BROADCAST_URL": REDIS_URL if workers > 1 else "memory://",
        "RACEWIRE_MIGRATE_ON_START": "false" if workers > 1 else "true",
        "RACEWIRE_MAX_CONNECTIONS_PER_CLIENT": "1000000",
        "RACEWIRE_MUTATIONS_PER_SECOND": "100000",
        "RACEWIRE_MUTATION_BURST": "100000",
        "RACEWIRE_WS_MESSAGES_PER_SECOND": "100000",
        "RACEWIRE_WS_MESSAGE_BURST": "100000",
        **(overrides or {}),
    }
    command = ["taskset", "-c", cores, str(ROOT / ".venv/bin/racewire"), "serve", "--workers", str(workers)]
    process = subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(port, process)
        token = create_access_token(secret=SECRET, subject="bench", scopes=["odds:write", "races:write"])
        runners = _load_cards(port, token, races)
        while workers > 1 and len(children(process.pid)) < workers:
            time.sleep(0.1)
        pids = [process.pid] + (children(process.pid) if workers > 1 else [])  # CPU and RSS summed over all
        yield {"port": port, "pid": ",".join(map(str, pids)), "token": token, "runners": runners}
    finally:
        process.terminate()
        process.wait(30)


def _load_cards(port: int, token: str, races: int) -> dict[str, list[str]]:
    post = time.strftime("%Y-%m-%dT23:00:00+00:00", time.gmtime())
    cards = [
        {
            "venue": "Bench Park",
            "country": "GB",
            "date": post[:10],
            "races": [
                {
                    "number": n + 1,
                    "name": f"Bench {n + 1}",
                    "postTime": post,
                    "distanceMeters": 1600,
                    "runners": [{"number": r + 1, "horse": f"Horse {n}-{r}"} for r in range(RUNNERS)],
                }
                for n in range(races)
            ],
        }
    ]
    body = {
        "query": "mutation($m: [MeetingCardInput!]!) { loadRaceCards(meetings: $m) { races { id runners { id } } } }",
        "variables": {"m": cards},
    }
    answer = httpx.post(
        f"http://127.0.0.1:{port}/graphql", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ).json()
    meeting = answer["data"]["loadRaceCards"][0]
    return {race["id"]: [r["id"] for r in race["runners"]] for race in meeting["races"]}


@contextmanager
def baseline(workdir: Path, races: int) -> Iterator[dict[str, Any]]:
    port = free_port()
    env = {
        **os.environ,
        "BASELINE_PORT": str(port),
        "BASELINE_DB": str(workdir / "baseline.db"),
        "PYTHONPATH": str(ROOT),
    }
    process = subprocess.Popen(
        ["taskset", "-c", "0", sys.executable, str(ROOT / "bench/baseline_server.py")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_listening(port, process)
        runners = {str(n + 1): [str(n * RUNNERS + r + 1) for r in range(RUNNERS)] for n in range(races)}
        yield {"port": port, "pid": process.pid, "token": "", "runners": runners}
    finally:
        process.terminate()
        process.wait(30)


def install_socketio() -> None:
    """The socket.io stack's exact pins (bench/socketio/package-lock.json), into that folder only."""
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=SOCKETIO,
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=600,
    )
    subprocess.run(["node", str(SOCKETIO / "check.mjs"), str(free_port())], check=True, timeout=60)  # the real client


@contextmanager
def socketio(races: int, deflate: str, adapter: str) -> Iterator[dict[str, Any]]:
    """bench/socketio/server.mjs on core 0: rooms per race, the redis-adapter on REDIS_URL (or none)."""
    port = free_port()
    env = {
        **os.environ,
        "SOCKETIO_PORT": str(port),
        "SOCKETIO_DEFLATE": deflate,
        "SOCKETIO_REDIS": REDIS_URL if adapter == "redis" else "none",
        "SOCKETIO_REDIS_PREFIX": f"racewire-bench-socketio-{os.getpid()}-{port}",
    }
    process = subprocess.Popen(
        ["taskset", "-c", "0", "node", str(SOCKETIO / "server.mjs")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_listening(port, process)
        runners = {str(n + 1): [str(n * RUNNERS + r + 1) for r in range(RUNNERS)] for n in range(races)}
        yield {"port": port, "pid": process.pid, "token": "", "runners": runners, "protocol": "socketio"}
    finally:
        process.terminate()
        process.wait(30)


def load(
    server: dict[str, Any], connections: int, events: int, client_cores: str = "1", deflate: bool = False
) -> dict[str, Any]:
    ws, http = ("/socket.io/", "/odds") if server.get("protocol") == "socketio" else ("/graphql", "/graphql")
    command = [
        "taskset",
        "-c",
        client_cores,
        "node",
        str(ROOT / "bench/loadclient.mjs"),
        f"--connections={connections}",
        f"--events={events}",
        f"--races={','.join(server['runners'])}",
        f"--runners={json.dumps(server['runners'])}",
        f"--ws=ws://127.0.0.1:{server['port']}{ws}",
        f"--http=http://127.0.0.1:{server['port']}{http}",
        f"--pid={server['pid']}",
        f"--token={server['token']}",
        f"--deflate={int(deflate)}",
        f"--protocol={server.get('protocol', 'graphql-transport-ws')}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        k: statistics.median(r[k] for r in runs if r[k] is not None)
        for k in METRICS
        if any(r[k] is not None for r in runs)
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", default="1000,5000")
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--races", type=int, default=1, help="subscribers spread over this many races")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="RACEWIRE_NAME=VALUE",
        help="a setting for Racewire away from its default, for an A/B (repeatable)",
    )
    parser.add_argument(
        "--ab-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="also run Racewire a second way in every repeat (`racewire-ab`), with this environment "
        "on top of --server-env: a setting, or PYTHONPATH=<another checkout> (repeatable)",
    )
    parser.add_argument(
        "--deflate",
        action="store_true",
        help="also measure with permessage-deflate offered as browsers do, in the same run",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes (`racewire serve --workers`); above 1 on PostgreSQL and Redis, "
        "and not pinned: server and load client then share both cores",
    )
    parser.add_argument(
        "--baseline-events",
        type=int,
        default=5,
        help="updates sent to the baseline (it takes seconds per update at thousands of subscribers)",
    )
    parser.add_argument(
        "--socketio",
        action="store_true",
        help="also measure the socket.io stack (bench/socketio/, installed here by npm ci) in every repeat",
    )
    parser.add_argument(
        "--socketio-deflate",
        choices=("off", "on", "all"),
        default="all",
        help="socket.io's perMessageDeflate in the --deflate mode (the plain mode runs its default, "
        "off): off = its default, declines the offer; on = true (engine.io's 1,024-byte threshold, which "
        "ws ignores unless server_no_context_takeover is agreed); all = threshold 0 (default)",
    )
    parser.add_argument(
        "--socketio-adapter",
        choices=("redis", "none"),
        default="redis",
        help="redis: @socket.io/redis-adapter on the local Redis, as the seed deployed it (default)",
    )
    args = parser.parse_args()
    overrides = dict(pair.split("=", 1) for pair in args.server_env)
    ab_overrides = {**overrides, **dict(pair.split("=", 1) for pair in args.ab_env)}
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # one descriptor per connection, both sides
    rows = []
    ratios: dict[tuple[int, str], list[float]] = {}
    cores = ("0", "1") if args.workers == 1 else ("0,1", "0,1")
    modes = ("plain", "deflate") if args.deflate else ("plain",)
    servers: tuple[str, ...] = ("racewire",) if args.skip_baseline else ("racewire", "baseline")
    if args.ab_env:
        servers = ("racewire", "racewire-ab", *servers[1:])
    if args.socketio:
        install_socketio()
        servers = (*servers, "socketio")
    for connections in (int(c) for c in args.connections.split(",")):
        results: dict[tuple[str, str], list[dict[str, Any]]] = {(m, n): [] for m in modes for n in servers}
        for _ in range(args.repeat):
            for mode in modes:
                for name in servers:
                    events = args.events if name != "baseline" else min(args.events, args.baseline_events)
                    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
                        if name == "baseline":
                            server = stack.enter_context(baseline(Path(tmp), args.races))
                        elif name == "socketio":
                            server = stack.enter_context(
                                socketio(
                                    args.races,
                                    args.socketio_deflate if mode == "deflate" else "off",
                                    args.socketio_adapter,
                                )
                            )
                        else:
                            url = stack.enter_context(postgres_database()) if args.workers > 1 else None
                            server = stack.enter_context(
                                racewire(
                                    Path(tmp),
                                    args.races,
                                    args.workers,
                                    cores[0],
                                    url,
                                    ab_overrides if name == "racewire-ab" else overrides,
                                )
                            )
                        results[mode, name].append(load(server, connections, events, cores[1], mode == "deflate"))
                    print(mode, name, connections, json.dumps(results[mode, name][-1]), file=sys.stderr, flush=True)
        for (mode, name), runs in results.items():
            rows.append((connections, mode, name, median_of(runs), runs[-1]["extensions"]))
            if name == "racewire" and args.socketio:
                ratios[connections, mode] = paired_ratios(runs, results[mode, "socketio"])
    print_table(rows, args, ratios)


def paired_ratios(mine: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> list[float]:
    """Racewire's CPU per delivery over socket.io's, repeat by repeat (the two ran minutes apart)."""
    key = "server_cpu_us_per_delivery"
    return [a[key] / b[key] for a, b in zip(mine, theirs, strict=True) if a[key] and b[key]]


def print_table(
    rows: list[tuple[int, str, str, dict[str, Any], dict[str, int]]],
    args: argparse.Namespace,
    ratios: dict[tuple[int, str], list[float]],
) -> None:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    print(
        f"commit {commit}; {args.events} updates of 10 prices ({args.baseline_events} to the baseline); "
        f"subscribers over {args.races} race(s); "
        f"median of {args.repeat} runs; "
        f"Racewire settings: {', '.join(args.server_env) or 'defaults'}; "
        + (f"racewire-ab: {', '.join(args.ab_env)}; " if args.ab_env else "")
        + (
            f"socketio: perMessageDeflate off in the plain mode, {args.socketio_deflate} in the deflate mode, "
            f"adapter {args.socketio_adapter}; "
            if args.socketio
            else ""
        )
        + (
            "server on core 0, load client on core 1"
            if args.workers == 1
            else f"{args.workers} workers on PostgreSQL and Redis, server and load client sharing cores 0-1"
        )
    )
    header = [
        "subs",
        "offered",
        "server",
        *METRICS,
        "cpu/delivery vs baseline",
        "cpu/delivery vs no deflate",
        "cpu/delivery vs racewire-ab",
        "cpu/delivery racewire/socketio (median of repeats' ratios)",
        "negotiated (last run)",
    ]
    print(" | ".join(header))
    cpu = {(c, mode, n): m.get("server_cpu_us_per_delivery") for c, mode, n, m, _ in rows}
    for connections, mode, name, figures, agreed in rows:
        cells = [str(connections), mode, name] + [f"{figures.get(k, float('nan')):.2f}" for k in METRICS]
        mine = figures.get("server_cpu_us_per_delivery")
        base = cpu.get((connections, mode, "baseline"))
        cells.append(f"{base / mine:.1f}x less" if base and mine and name.startswith("racewire") else "")
        plain = cpu.get((connections, "plain", name))
        cells.append(f"{mine / plain:.2f}x" if plain and mine and mode == "deflate" else "")
        other = cpu.get((connections, mode, "racewire-ab"))
        cells.append(f"{mine / other:.2f}x" if other and mine and name == "racewire" else "")
        paired = ratios.get((connections, mode)) if name == "racewire" else None
        cells.append(f"{statistics.median(paired):.2f}x ({', '.join(f'{r:.2f}' for r in paired)})" if paired else "")
        cells.append("; ".join(f"{header} ({count})" for header, count in agreed.items()))
        print(" | ".join(cells))


if __name__ == "__main__":
    main()
