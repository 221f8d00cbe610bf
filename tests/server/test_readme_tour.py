"""The README's five-minute tour, run as written against the server `scripts/demo` starts.

The blocks are read from README.md itself, so a tour that drifts from the demo fails here. The demo
runs with no Node.js on its PATH: it needs only Python."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from live_server import ROOT, GraphQLWs, ServerProcess

Block = tuple[str, str]  # (language, text)


def tour_blocks() -> list[Block]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## A five-minute tour\n", 1)[1].split("\n## ", 1)[0]
    return [(lang, text) for lang, text in re.findall(r"^```(\w+)\n(.*?)^```$", section, re.M | re.S)]


def blocks(kind: str) -> list[str]:
    """The tour's GraphQL queries, subscriptions or shell commands, in the README's order."""
    found = [
        text
        for lang, text in tour_blocks()
        if (lang == "sh" if kind == "sh" else lang == "graphql" and text.lstrip().startswith(kind))
    ]
    assert found, f"the tour has no {kind} block"
    return found


@pytest.fixture(scope="module")
def demo_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PATH with only what scripts/demo needs (and the tour's curl and date): no node, no npm."""
    bin_dir = tmp_path_factory.mktemp("demo-bin")
    for tool in ("bash", "env", "dirname", "cat", "sha256sum", "cut", "curl", "date"):
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    (bin_dir / "python3").symlink_to(sys.executable)
    return bin_dir


OPENING = 'query { race(id: "1") { status market { bestPrices { decimal } } } }'


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory, demo_bin: Path) -> Iterator[tuple[ServerProcess, dict[str, Any]]]:
    """The demo, and race "1" as the very first request after start-up found it."""
    database = tmp_path_factory.mktemp("demo") / "racewire.db"
    server = ServerProcess(
        {"RACEWIRE_DATABASE_URL": f"sqlite+aiosqlite:///{database}", "PATH": str(demo_bin)}, command=("scripts/demo",)
    ).start(timeout=120)
    try:
        yield server, query(server, OPENING)["race"]
    finally:
        server.stop()


@pytest.fixture(scope="module")
def demo(started: tuple[ServerProcess, dict[str, Any]]) -> ServerProcess:
    return started[0]


def test_race_1_is_open_and_priced_from_the_first_request(started: tuple[ServerProcess, dict[str, Any]]) -> None:
    """A newcomer's first query finds the tour's race open with prices: the server says it is
    ready only after the feed's first tick opened the books."""
    opening = started[1]
    assert opening["status"] == "BETTING_OPEN" and opening["market"]["bestPrices"]


MARK = "--- next block ---"


def shell(commands: list[str], demo: ServerProcess, demo_bin: Path) -> list[Any]:
    """Runs the shell blocks as written, one after another in one shell (the reader's terminal,
    in the repository); returns what each printed, as JSON."""
    script = f"\necho '{MARK}'\n".join(commands)
    env = {**os.environ, "RACEWIRE_PORT": str(demo.port), "PATH": str(demo_bin)}
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(output) for output in done.stdout.split(MARK + "\n")]


def query(demo: ServerProcess, document: str) -> dict[str, Any]:
    answer = httpx.post(f"{demo.http}/graphql", json={"query": document}, timeout=10).json()
    assert "errors" not in answer, answer
    return answer["data"]


def test_the_tour_has_its_steps() -> None:
    assert len(blocks("query")) >= 2 and len(blocks("subscription")) == 1 and len(blocks("sh")) == 2


async def test_the_tour_subscription_shows_a_snapshot_then_live_moves(demo: ServerProcess) -> None:
    (document,) = blocks("subscription")
    client = await GraphQLWs.open(demo.ws)
    try:
        await client.subscribe("tour", document)
        first = (await client.next("tour"))["oddsUpdated"]
        assert first["snapshot"] is True
        live = (await client.next("tour", timeout=15))["oddsUpdated"]  # the feed moves race 1 every tick
        assert live["snapshot"] is False and live["prices"] and live["seq"] > first["seq"]
    finally:
        await client.close()


async def test_the_tour_queries_answer_with_open_races_and_a_priced_card(demo: ServerProcess) -> None:
    races_page, card, *more = blocks("query")
    edges = query(demo, races_page)["races"]["edges"]
    assert edges and all(edge["node"]["status"] == "BETTING_OPEN" for edge in edges)
    race = query(demo, card)["race"]
    assert race["status"] == "BETTING_OPEN" and race["runners"]
    assert all(runner["bestPrice"] for runner in race["runners"]) and race["market"]["bestPrices"]
    for document in more:
        query(demo, document)


async def test_the_tour_stores_a_price_and_replays_it_on_the_same_key(demo: ServerProcess, demo_bin: Path) -> None:
    first, again = shell(blocks("sh"), demo, demo_bin)
    assert "errors" not in first and "errors" not in again, (first, again)
    stored = first["data"]["storeOdds"]
    assert isinstance(stored["seq"], int) and stored["replayed"] is False
    assert stored["changed"] == [{"runnerId": "1", "decimal": 4.33, "fractional": "10/3"}]
    assert again["data"]["storeOdds"] == {**stored, "replayed": True}
    # The whole tour again, later (its own key and time): a fresh write, not a conflict.
    later, _ = shell(blocks("sh"), demo, demo_bin)
    assert "errors" not in later, later
