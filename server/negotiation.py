"""HTTP content negotiation between a JSON answer and a stream (SSE or multipart).

Strawberry streams whenever Accept mentions a streaming type at all; urql lists text/event-stream
after JSON on every query, so a query would come back as an event stream. A stream is chosen only
when the client ranks it above JSON (by q, then by order), as HTTP's Accept means."""

from __future__ import annotations

JSON_TYPES = frozenset({"application/json", "application/graphql-response+json", "*/*", "application/*"})
STREAM_TYPES = frozenset({"text/event-stream", "multipart/mixed"})


def _ranked(accept: str) -> list[tuple[float, int, str]]:
    ranked = []
    for index, part in enumerate(accept.split(",")):
        media, *params = (piece.strip() for piece in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        ranked.append((-q, index, media.lower()))
    return sorted(ranked)


def prefers_stream(accept: str) -> bool:
    """Whether the client's best acceptable type is a stream rather than JSON."""
    for minus_q, _, media in _ranked(accept):
        if minus_q >= 0:
            return False
        if media in STREAM_TYPES:
            return True
        if media in JSON_TYPES:
            return False
    return False


GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
PLAIN_JSON = "application/json"


def response_type(accept: str) -> str:
    """The GraphQL over HTTP spec's media type when the client ranks it above plain JSON;
    application/json otherwise (for `*/*` and when Accept is missing too)."""
    for minus_q, _, media in _ranked(accept):
        if minus_q >= 0:
            break
        if media == GRAPHQL_RESPONSE_JSON:
            return GRAPHQL_RESPONSE_JSON
        if media in JSON_TYPES:
            return PLAIN_JSON
    return PLAIN_JSON
