"""graphql-transport-ws's vocabulary: the close codes Racewire uses (each on docs/limits.md), and
the shape a client's message must have, checked before the connection reads one: a message that
is JSON but not one of them closes the connection with 4400."""

from __future__ import annotations

from typing import Any

INVALID_MESSAGE_CLOSE = 4400
UNAUTHORIZED_CLOSE = 4401  # subscribe before connection_ack
FORBIDDEN_CLOSE = 4403  # refused or expired token
SUBPROTOCOL_CLOSE = 4406
INIT_TIMEOUT_CLOSE = 4408
DUPLICATE_ID_CLOSE = 4409
TOO_MANY_CLOSE = 4429  # a second connection_init, too many messages or connections
PONG_TIMEOUT_CLOSE = 4504
INTERNAL_ERROR_CLOSE = 1011  # a failure of the server's own, logged
PING = '{"type":"ping"}'
PONG = '{"type":"pong"}'
_WITH_ID = frozenset({"subscribe", "complete"})
_PINGS = frozenset({"ping", "pong"})


def problem_with(message: object) -> str | None:
    """Why the message cannot be handled, or None when it has the protocol's shape. Unknown types
    are the handler's to refuse (4400 too); its payload for `connection_init` is checked there."""
    if not isinstance(message, dict):
        return "A message must be a JSON object"
    kind = message.get("type")
    if not isinstance(kind, str):
        return "A message needs a string `type`"
    if kind in _WITH_ID and not (isinstance(message.get("id"), str) and message["id"]):
        return f"A {kind} message needs a non-empty string `id`"
    if kind in _PINGS and not isinstance(message.get("payload"), dict | None):
        return f"A {kind} payload must be an object"
    if kind == "subscribe":
        return _operation_problem(message.get("payload"))
    return None


def _operation_problem(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return "A subscribe payload must be an object"
    query, extensions = payload.get("query"), payload.get("extensions")
    persisted = isinstance(extensions, dict) and "persistedQuery" in extensions  # the query may come from the store
    if not isinstance(query, str) and not (query is None and persisted):
        return "`query` must be a string"
    for key, kind, name in (
        ("variables", dict, "an object"),
        ("extensions", dict, "an object"),
        ("operationName", str, "a string"),
    ):
        if not isinstance(payload.get(key), kind | None):
            return f"`{key}` must be {name} or null"
    return None
