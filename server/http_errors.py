"""Requests refused before any GraphQL runs, answered as GraphQL errors:
`{"errors": [{"message": …, "extensions": {"code": …}}]}` with the HTTP status that says why,
in the media type the client negotiated. Under application/graphql-response+json, a result whose
errors came before execution (a document that does not parse or validate, variables that do not
coerce, a refused limit) is a request error too: a 4xx status and no `data` entry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import orjson
from cross_web import HTTPException
from graphql import GraphQLError
from starlette.responses import Response
from strawberry.types import ExecutionResult

CODES = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    414: "URI_TOO_LONG",
    415: "UNSUPPORTED_MEDIA_TYPE",
}
# Request errors whose code says more than "bad request"; any other is 400.
STATUS_OF_CODE = {
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "RATE_LIMITED": 429,
    "SERVICE_UNAVAILABLE": 503,
    "INTERNAL_SERVER_ERROR": 500,
}
ALLOWED_METHODS = "GET, POST"


class RequestError(HTTPException):
    """An HTTP refusal with its GraphQL error code and any headers it needs (Allow, Connection)."""

    def __init__(
        self, status_code: int, message: str, *, code: str | None = None, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(status_code, message)
        self.code = code or CODES.get(status_code, "BAD_REQUEST")
        self.headers = dict(headers or {})


def error_body(message: str, code: str) -> bytes:
    return orjson.dumps({"errors": [{"message": message, "extensions": {"code": code}}]})


def error_response(error: HTTPException, media_type: str) -> Response:
    """Strawberry's own refusals (plain HTTPExceptions) and ours, as GraphQL error bodies."""
    status = error.status_code
    code = error.code if isinstance(error, RequestError) else CODES.get(status, "BAD_REQUEST")
    headers = error.headers if isinstance(error, RequestError) else {}
    if status == 405:
        headers = {"allow": ALLOWED_METHODS, **headers}
    return Response(error_body(error.reason, code), status_code=status, media_type=media_type, headers=headers)


def is_request_error(result: ExecutionResult) -> bool:
    """Errors before execution began: no data, and no error has a path into the response."""
    errors = result.errors or []
    return result.data is None and bool(errors) and all(error.path is None for error in errors)


def request_error_status(errors: Sequence[GraphQLError]) -> int:
    codes = {(error.extensions or {}).get("code") for error in errors}
    statuses = sorted(STATUS_OF_CODE[code] for code in codes if code in STATUS_OF_CODE)
    return statuses[-1] if statuses else 400
