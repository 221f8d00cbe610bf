"""The refusals of the query limits, each with a stable `extensions.code`."""

from __future__ import annotations

from graphql import GraphQLError

from resolvers.errors import ApiError


class QueryTooLarge(ApiError):
    code = "QUERY_TOO_LARGE"


class QueryTooDeep(ApiError):
    code = "QUERY_TOO_DEEP"


class TooManyAliases(ApiError):
    code = "TOO_MANY_ALIASES"


class TooManyFragmentSpreads(ApiError):
    code = "TOO_MANY_FRAGMENT_SPREADS"


class QueryTooComplex(ApiError):
    code = "QUERY_TOO_COMPLEX"


class RateLimited(ApiError):
    code = "RATE_LIMITED"


def limit_code(error: GraphQLError) -> str | None:
    """The code of graphql-core's token limit, which raises an untyped syntax error."""
    if error.message.startswith("Syntax Error: Document contains more than"):
        return "QUERY_TOO_LARGE"
    return None
