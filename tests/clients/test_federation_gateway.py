"""Racewire composed with a partner's subgraph by Apollo's own composition and gateway, against a
live server that needs a token for every operation; and the same token on its live endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from js_clients import SECRET, ClientServer, run_node_tests
from server.auth import create_access_token


@pytest.fixture
def partner_server(tmp_path: Path) -> Iterator[ClientServer]:
    server = ClientServer(f"sqlite+aiosqlite:///{tmp_path}/racewire.db", env={"RACEWIRE_REQUIRE_AUTH": "true"})
    yield server
    server.stop()


def test_apollo_gateway_joins_racewire_with_a_tipster_subgraph(partner_server: ClientServer) -> None:
    partner = create_access_token(secret=SECRET, subject="tipster-router", scopes=[])
    env = {**partner_server.env(control=""), "RACEWIRE_PARTNER_TOKEN": partner}
    report = run_node_tests("federation.test.mjs", env=env)
    assert "ℹ pass 2" in report and "ℹ fail 0" in report, report
