"""Per-client controls as the operation gate sees them: what a token's client identity selects
(its cost limit, request rate, trusted documents and subscription allowance), and the usage it
reports (requests, errors, cost spent, active subscriptions). The server builds each client's
quota (server/partners.py); schema/ only asks it."""

from __future__ import annotations

from typing import Protocol

from graphql import GraphQLError

from resolvers.errors import ApiError
from schema.documents import document_id
from schema.limit_errors import RateLimited


class OperationNotTrusted(ApiError):
    code = "OPERATION_NOT_TRUSTED"


class TooManySubscriptions(ApiError):
    code = "TOO_MANY_SUBSCRIPTIONS"


class ClientQuota(Protocol):
    """One client's settings and meter, shared by all its tokens and connections in this process."""

    @property
    def label(self) -> str:
        """The client as metrics name it: a listed partner's id, else `other` or `none`."""

    @property
    def max_cost(self) -> int | None:
        """Its query cost limit; None: the server's."""

    @property
    def documents(self) -> frozenset[str] | None:
        """The sha256 of each operation it may run; None: any."""

    def take_request(self) -> float:
        """Takes one request from its allowance: 0, or the seconds until there is one."""

    def open_subscription(self) -> bool:
        """Counts a subscription in; False when it already has its most."""

    def close_subscription(self) -> None: ...

    def record(self, *, cost: int | None, failed: bool) -> None:
        """One operation done: its cost (None when it never ran) and whether it had errors."""


def refusals_before_measuring(quota: ClientQuota, query: str | None) -> list[GraphQLError]:
    """The client's request rate, then its trusted documents: before any work on the document."""
    wait = quota.take_request()
    if wait > 0:
        return [RateLimited("too many requests for this client; retry later", retryAfter=round(wait, 3))]
    if quota.documents is not None and document_id(query or "") not in quota.documents:
        return [OperationNotTrusted("this client may run only the operations it has registered")]
    return []


def subscription_refusal(quota: ClientQuota) -> list[GraphQLError]:
    if quota.open_subscription():
        return []
    return [TooManySubscriptions("this client has as many active subscriptions as it may; end one first")]
