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


class BadRequest(ApiError):
    code = "BAD_REQUEST"


# The id columns' ranges: PostgreSQL `integer` for races, runners, meetings and news; `bigint`
# for alerts and notifications. An id beyond them cannot exist, and must not reach the driver.
MAX_ID = 2**31 - 1
MAX_BIG_ID = 2**63 - 1


def known_id(value: str, *, what: str, field: str | None = None, limit: int = MAX_ID) -> int | None:
    """Racewire ids are positive integers carried as GraphQL `ID` strings; None for one too large
    to exist. Anything but decimal digits is BAD_USER_INPUT."""
    text = str(value)
    if not (text.isascii() and text.isdigit()) or text.strip("0") == "":
        raise BadUserInput(f"{what} id {text[:40]!r} is not a valid id", field=field or what)
    if len(text.lstrip("0")) > len(str(limit)):
        return None
    number = int(text)
    return number if number <= limit else None


def parse_id(value: str, *, what: str, field: str | None = None, limit: int = MAX_ID) -> int:
    """As `known_id`; an id too large to exist is NOT_FOUND, as for any id that does not exist."""
    number = known_id(value, what=what, field=field, limit=limit)
    if number is None:
        raise NotFound(f"{what} {str(value)[:40]} does not exist", field=field or what)
    return number


class SubscriberTooSlow(ApiError):
    code = "SUBSCRIBER_TOO_SLOW"
