"""GraphiQL and the live odds board in headless Chromium against a real server, with no internet."""

from __future__ import annotations

from js_clients import ROOT, run_node_tests


def test_graphiql_and_the_odds_board_work_offline_in_chromium(client_env: dict[str, str]) -> None:
    run_node_tests("browser.test.mjs", env={**client_env, "RACEWIRE_ARTIFACTS": str(ROOT / "test-artifacts")})
