"""The tiers every test gets from tests/fixtures/tiers.py, checked on tests of each kind in this
session's own collection, and the guard that keeps a process out of an unmarked test."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

TIER_NAMES = {"unit", "schema", "process", "cluster", "js", "browser", "container"}
EXPECTED = {
    "tests/server/test_rate_limits.py::test_keyed_buckets_are_separate_per_key": {"unit"},
    "tests/schema/test_documents.py::test_a_document_over_the_size_is_parsed_but_never_kept": {"schema"},
    "tests/resolvers/test_live.py::test_a_cursor_follows_several_races[sqlite]": {"schema"},
    "tests/server/test_live_server.py::test_health_and_readiness[sqlite]": {"process"},
    "tests/server/test_settings.py::test_serve_with_a_bad_value_exits_at_once_naming_it": {"process"},
    "tests/server/test_cli.py::test_export_schema_prints_the_sdl": {"process"},
    "tests/server/test_scale_out.py::test_concurrent_writers_on_three_processes_keep_seq_unique_and_contiguous[redis]": {
        "process",
        "cluster",
    },
    "tests/clients/test_http_clients.py::test_subscriptions_over_sse_and_multipart_http": {"process", "js"},
    "tests/clients/test_browser.py::test_graphiql_and_the_odds_board_work_offline_in_chromium": {
        "process",
        "js",
        "browser",
    },
}


def start_python() -> subprocess.CompletedProcess[str]:
    """Out of the tests' own code, so that only the guard, not the name rule, sees the process."""
    return subprocess.run(
        [sys.executable, "-c", "print('ran')"], capture_output=True, text=True, check=True, timeout=30
    )


def test_tests_of_each_kind_get_their_tiers(request: pytest.FixtureRequest) -> None:
    collected = {item.nodeid: item for item in request.session.items}
    if not set(EXPECTED) & set(collected):
        pytest.skip("none of the tests named here was collected in this run")
    for nodeid, tiers in EXPECTED.items():
        if nodeid not in collected:
            continue
        marked = {mark.name for mark in collected[nodeid].iter_markers()} & TIER_NAMES
        assert marked == tiers, nodeid


def test_every_test_has_a_tier(request: pytest.FixtureRequest) -> None:
    untiered = [
        item.nodeid for item in request.session.items if not {mark.name for mark in item.iter_markers()} & TIER_NAMES
    ]
    assert untiered == []


def test_a_test_not_marked_process_cannot_start_one(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("process") is None
    with pytest.raises(RuntimeError, match=r"starts a process .* but is not marked `process`"):
        start_python()


@pytest.mark.process
def test_a_test_marked_process_can() -> None:
    assert start_python().stdout == "ran\n"


def test_no_test_module_imports_another() -> None:
    """Shared fixtures and helpers live in tests/fixtures/ (plugins) and tests/*.py helpers: a test
    module imported by another runs its fixtures twice and breaks when it is renamed."""
    tests = Path(__file__).resolve().parent
    importing = []
    for path in sorted(tests.rglob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            importing += [
                f"{path.relative_to(tests)} imports {name}" for name in names if name.split(".")[-1].startswith("test_")
            ]
    assert importing == []
