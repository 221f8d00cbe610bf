"""Real JavaScript clients against a real server: a server whose tests can restart it, and `node --test`."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from broadcaster import Broadcast
from sqlalchemy import text

from conftest import card
from live_server import ROOT, ServerProcess
from pubsub.hub import Hub
from resolvers.race_cards import load_race_cards
from resolvers.store_odds import OddsWriter, Quote, StoreOdds, store_odds
from server.auth import create_access_token
from storage.database import Database
from storage.migrate import upgrade

CLIENTS = ROOT / "clients"
SECRET = "test-secret-for-racewire-0123456789abcdef"


class ClientServer:
    """A `racewire serve` with one race card loaded, which a client test can ask to restart."""

    def __init__(self, database_url: str, env: Mapping[str, str] | None = None) -> None:
        self.database_url = database_url
        self.race_id, self.runner_ids = asyncio.run(self._load())
        self.process = ServerProcess(
            {"RACEWIRE_DATABASE_URL": database_url, "RACEWIRE_JWT_SECRET": SECRET, **(env or {})}
        ).start()

    async def _load(self) -> tuple[str, list[str]]:
        db = Database(self.database_url)
        try:
            await upgrade(db)
            await load_race_cards(db=db, cards=[card(runners=4)])
            async with db.read() as session:
                race = (await session.execute(text("SELECT id FROM races"))).scalar_one()
                runners = [r for (r,) in await session.execute(text("SELECT id FROM runners ORDER BY number"))]
        finally:
            await db.dispose()
        return str(race), [str(r) for r in runners]

    def restart(self, missed: int) -> list[int]:
        """Stops the server, stores `missed` prices while it is down, starts it on the same port."""
        port = self.process.port
        self.process.stop()
        seqs = asyncio.run(self._store_while_down(missed))
        self.process.start()
        assert self.process.port == port, "the port was taken while the server was down"
        return seqs

    async def _store_while_down(self, count: int) -> list[int]:
        db = Database(self.database_url)
        broadcast = Broadcast("memory://")
        await broadcast.connect()
        try:
            seqs = []
            for n in range(count):
                command = StoreOdds(
                    race_id=int(self.race_id),
                    source="offline-feed",
                    observed_at=datetime.now(UTC),
                    quotes=(Quote(runner_id=int(self.runner_ids[1]), decimal=5.0 + n),),
                )
                outcome = await store_odds(odds=OddsWriter(db, Hub(broadcast)), command=command)
                assert outcome.seq is not None
                seqs.append(outcome.seq)
            return seqs
        finally:
            await broadcast.disconnect()
            await db.dispose()

    def env(self, control: str) -> dict[str, str]:
        token = create_access_token(secret=SECRET, subject="node-feed", scopes=["odds:write"])
        steward = create_access_token(secret=SECRET, subject="node-steward", scopes=["races:write"])
        return {
            "RACEWIRE_HTTP": self.process.http,
            "RACEWIRE_TOKEN": token,
            "RACEWIRE_RACES_TOKEN": steward,
            "RACEWIRE_RACE_ID": self.race_id,
            "RACEWIRE_RUNNER_IDS": ",".join(self.runner_ids),
            "RACEWIRE_CONTROL": control,
            "RACEWIRE_TEST_SECRET": SECRET,
        }  # for tests that mint a token about to expire

    def stop(self) -> None:
        self.process.stop()


@contextmanager
def control_endpoint(server: ClientServer) -> Iterator[str]:
    """A loopback HTTP endpoint the node tests call to restart the server: POST /restart?missed=N."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            url = urlparse(self.path)
            if url.path != "/restart":
                self.send_error(404)
                return
            try:
                seqs = server.restart(int(parse_qs(url.query).get("missed", ["0"])[0]))
            except Exception as error:  # noqa: BLE001 - reported to the node test, which fails with it
                self.send_error(500, repr(error))
                return
            body = json.dumps({"seqs": seqs}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def run_node_tests(*files: str, env: Mapping[str, str], timeout: float = 180) -> str:
    """Runs `node --test` on files under clients/test; fails the calling test with node's report."""
    node = shutil.which("node")
    assert node, "node is not installed: Racewire's client tests need Node.js 20+ on the PATH"
    assert (CLIENTS / "node_modules").is_dir(), (
        "clients/node_modules is missing: run scripts/bootstrap (it runs npm ci)"
    )
    completed = subprocess.run(
        [node, "--test", "--test-concurrency=1", "--test-reporter=spec", *(f"test/{name}" for name in files)],
        cwd=CLIENTS,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    report = completed.stdout + completed.stderr
    assert completed.returncode == 0, f"node --test failed:\n{report}"
    return report
