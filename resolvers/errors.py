"""Errors a client can act on: typed GraphQL errors with a stable `extensions.code`."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError


class ApiError(GraphQLError):
    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message, extensions={"code": self.code, **details})


class BadUserInput(ApiError):
    code = "BAD_USER_INPUT"


class NotFound(ApiError):
    code = "NOT_FOUND"


class Unauthenticated(ApiError):
    code = "UNAUTHENTICATED"


class Forbidden(ApiError):
    code = "FORBIDDEN"


class Conflict(ApiError):
    code = "CONFLICT"


def parse_id(value: str, *, what: str) -> int:
    """Racewire ids are positive integers carried as GraphQL `ID` strings."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise BadUserInput(f"{what} id {value!r} is not a valid id", field=what) from None
    if number <= 0:
        raise BadUserInput(f"{what} id {value!r} is not a valid id", field=what)
    return number


class SubscriberTooSlow(ApiError):
    code = "SUBSCRIBER_TOO_SLOW"
