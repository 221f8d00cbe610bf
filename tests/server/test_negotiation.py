"""Choosing between a JSON answer and a stream from what real clients send as Accept."""

from __future__ import annotations

import pytest

from server.negotiation import prefers_stream

URQL = (
    "application/graphql-response+json, application/graphql+json, application/json, text/event-stream, multipart/mixed"
)
APOLLO_SUBSCRIPTION = (
    'multipart/mixed;boundary="graphql";subscriptionSpec=1.0,application/graphql-response+json,application/json;q=0.9'
)


@pytest.mark.parametrize(
    ("accept", "stream"),
    [
        (URQL, False),
        (APOLLO_SUBSCRIPTION, True),
        ("text/event-stream", True),
        ("application/json;q=0.5, text/event-stream", True),
        ("text/event-stream;q=0, application/json", False),
        ("*/*", False),
        ("", False),
    ],
)
def test_a_stream_only_when_ranked_above_json(accept: str, stream: bool) -> None:
    assert prefers_stream(accept) is stream
