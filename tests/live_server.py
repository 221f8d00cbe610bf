"""Real parts for process-level tests: a uvicorn server process, a graphql-transport-ws client, and
the writes and waits the tests of tests/server share."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from server.auth import create_access_token

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """`racewire serve` in a child process; start() returns once uvicorn listens."""

    env: Mapping[str, str]
    port: int = field(default_factory=free_port)
    log: list[str] = field(default_factory=list)
    command: Sequence[str] = (sys.executable, "-m", "server.cli", "serve")
    cwd: Path = ROOT
    ready_line: str = "Uvicorn running on"  # what the server prints once its socket is bound

    def start(self, timeout: float = 30) -> ServerProcess:
        for _ in range(3):
            if self._start(timeout):
                return self
            if "address already in use" not in "".join(self.log):
                break
            self.port, self.log = free_port(), []  # the free port was taken meanwhile
        raise RuntimeError("server did not start:\n" + "".join(self.log))

    def _start(self, timeout: float) -> bool:
        env = {**os.environ, **self.env, "RACEWIRE_PORT": str(self.port), "RACEWIRE_HOST": "127.0.0.1"}
        self.process = subprocess.Popen(
            list(self.command),
            cwd=self.cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        up = threading.Event()

        def drain() -> None:
            assert self.process.stderr is not None
            for line in self.process.stderr:
                self.log.append(line)
                if self.ready_line in line:
                    up.set()
            up.set()

        threading.Thread(target=drain, daemon=True).start()
        if up.wait(timeout) and self.process.poll() is None and self.ready_line in "".join(self.log):
            return True
        self.stop()
        return False

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class GraphQLWs:
    """A minimal graphql-transport-ws client, strict about the protocol."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    @classmethod
    async def open(cls, url: str, payload: dict[str, Any] | None = None) -> GraphQLWs:
        connection = await connect(url, subprotocols=["graphql-transport-ws"], open_timeout=5)
        client = cls(connection)
        await client.send({"type": "connection_init", "payload": payload or {}})
        ack = await client.receive()
        assert ack["type"] == "connection_ack", ack
        return client

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(message))

    async def receive(self, timeout: float = 10) -> dict[str, Any]:
        while True:
            frame = await asyncio.wait_for(self.connection.recv(), timeout)
            assert isinstance(frame, str), f"graphql-transport-ws frames are text, got {frame!r}"
            message = json.loads(frame)
            if message["type"] == "ping":
                await self.send({"type": "pong"})
                continue
            return message

    async def subscribe(self, id: str, query: str, **variables: Any) -> None:
        await self.send({"id": id, "type": "subscribe", "payload": {"query": query, "variables": variables}})

    async def next(self, id: str, timeout: float = 10) -> dict[str, Any]:
        message = await self.receive(timeout)
        assert message.get("id") == id and message["type"] == "next", message
        assert "errors" not in message["payload"], message
        return message["payload"]["data"]

    async def close(self) -> None:
        await self.connection.close()


# What the process-level tests of tests/server write and wait for.
SECRET = "test-secret-for-racewire-0123456789abcdef"
ODDS = """subscription($ids: [ID!]!, $after: String) {
  oddsUpdated(raceIds: $ids, after: $after) { raceId seq cursor prices { runnerId decimal fractional } }
}"""
STORE = """mutation($input: StoreOddsInput!) { storeOdds(input: $input) { seq cursor } }"""


def token(*scopes: str) -> str:
    return create_access_token(secret=SECRET, subject="feed", scopes=scopes)


async def store(
    server: ServerProcess,
    race: dict[str, Any],
    price: float,
    *,
    bearer: str | None = None,
    at: datetime | None = None,
    source: str = "betfair",
) -> httpx.Response:
    body = {
        "query": STORE,
        "variables": {
            "input": {
                "raceId": race["id"],
                "source": source,
                "observedAt": (at or datetime.now(UTC)).isoformat(),
                "prices": [{"runnerId": race["runners"][0], "decimal": price}],
            }
        },
    }
    headers = {"Authorization": f"Bearer {bearer or token('odds:write')}"}
    async with httpx.AsyncClient(base_url=server.http) as client:
        return await client.post("/graphql", json=body, headers=headers)


async def wait_subscribed(server: ServerProcess, count: int) -> None:
    """Waits for /ready to count the subscriptions, so no update is sent before they listen."""
    async with httpx.AsyncClient(base_url=server.http) as client:
        for _ in range(200):
            if (await client.get("/ready")).json()["subscriptions"] >= count:
                return
            await asyncio.sleep(0.025)
    raise AssertionError("subscription never became active")


async def executions(server: ServerProcess) -> int:
    """The executions /ready counts: a fan-out group's one, and each subscription run on its own."""
    async with httpx.AsyncClient(base_url=server.http) as client:
        return int((await client.get("/ready")).json()["executions"])


async def wait_executions(server: ServerProcess, count: int) -> None:
    """Waits for the executions to drop to `count`: the members served on their own have joined."""
    for _ in range(400):
        if await executions(server) == count:
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"executions stayed at {await executions(server)}, not {count}")
