"""HTTP without WebSocket: graphql-sse and Apollo's multipart subscriptions, and the GraphQL over
HTTP spec's audits (graphql-http), each with the real client against a real server."""

from __future__ import annotations

from js_clients import run_node_tests


def test_subscriptions_over_sse_and_multipart_http(client_env: dict[str, str]) -> None:
    run_node_tests("http_subscriptions.test.mjs", env=client_env)


def test_every_must_and_should_of_the_graphql_over_http_audits_passes(client_env: dict[str, str]) -> None:
    report = run_node_tests("audits.test.mjs", env=client_env)
    assert "ℹ fail 0" in report
    assert "warn:" not in report  # no MAY is left unmet either
