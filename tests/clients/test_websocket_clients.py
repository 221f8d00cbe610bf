"""Apollo Client and urql, the clients racing frontends use, against a real server over graphql-ws."""

from __future__ import annotations

from js_clients import run_node_tests


def test_apollo_client_follows_odds_and_resumes_after_a_restart(client_env: dict[str, str]) -> None:
    run_node_tests("apollo.test.mjs", env=client_env)


def test_urql_follows_odds_and_resumes_after_a_restart(client_env: dict[str, str]) -> None:
    run_node_tests("urql.test.mjs", env=client_env)
