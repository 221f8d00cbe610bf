"""The mutation rate per token: a mutation over its token's rate is refused, with when to retry."""

from __future__ import annotations

from graphql import GraphQLError

from schema.context import Context
from schema.limit_errors import RateLimited


def mutation_rate(context: Context) -> list[GraphQLError]:
    if context.rate_limit is None or context.viewer.subject is None:
        return []
    wait = context.rate_limit(context.viewer.subject)
    if wait <= 0:
        return []
    return [RateLimited("too many mutations for this token; retry later", retryAfter=round(wait, 3))]
