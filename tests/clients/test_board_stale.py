"""The odds board shows feed health: in headless Chromium, against a server whose sources go
stale after a second of silence."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from js_clients import ClientServer, control_endpoint, run_node_tests


@pytest.fixture
def stale_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    server = ClientServer(f"sqlite+aiosqlite:///{tmp_path}/racewire.db", env={"RACEWIRE_FEED_STALE_SECONDS": "1"})
    try:
        with control_endpoint(server) as control:
            yield server.env(control)
    finally:
        server.stop()


def test_the_board_greys_a_stale_sources_prices_in_chromium(stale_env: dict[str, str]) -> None:
    run_node_tests("board-stale.test.mjs", env=stale_env)
