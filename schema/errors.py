"""Every error a client sees has a stable `extensions.code`. Internal errors are masked for
clients and logged in full, at ERROR, under an error id that the masked error carries; a database
that cannot be reached is `SERVICE_UNAVAILABLE` (retryable); a client's own mistakes are logged at
INFO, one line without a traceback, so a misbehaving client cannot flood the log."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.extensions import MaskErrors

from schema.limit_errors import limit_code
from storage.availability import is_unavailable

log = logging.getLogger("racewire.errors")
client_log = logging.getLogger("racewire.client_errors")

RETRY_AFTER_SECONDS = 2
UNAVAILABLE = "SERVICE_UNAVAILABLE"
# graphql-core appends " Did you mean 'a', 'b' or 'c'?" (or "… the enum value 'A'?"): names only.
_SUGGESTION = re.compile(r" Did you mean [^?]*\?")


def strip_suggestions(error: GraphQLError) -> None:
    """Without "Did you mean …?" a stranger cannot read the schema out of error messages."""
    if "Did you mean" in error.message:
        error.message = _SUGGESTION.sub("", error.message)


def _causes(error: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)


def _unavailable(error: GraphQLError) -> bool:
    original = error.original_error
    return not isinstance(original, GraphQLError | None) and any(is_unavailable(c) for c in _causes(original))


def _is_internal(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError) and not _unavailable(error)


def _code_for(error: GraphQLError) -> str:
    if code := (error.extensions or {}).get("code"):
        return str(code)
    if code := limit_code(error):
        return code
    if isinstance(error.original_error, StrawberryInputCoercionError) or error.message.startswith("Variable '$"):
        return "BAD_USER_INPUT"
    if error.message.startswith("Syntax Error"):
        return "GRAPHQL_PARSE_FAILED"
    return "GRAPHQL_VALIDATION_FAILED"


def log_error(error: GraphQLError) -> None:
    """Before masking: an internal error is logged when it is masked, with its id and traceback."""
    if _unavailable(error):
        cause = error.original_error
        log.warning("database unavailable at %s: %s: %s", error.path, type(cause).__name__, cause)
    elif not _is_internal(error):
        client_log.info("client error %s at %s: %s", _code_for(error), error.path, error.message)


def _service_unavailable(error: GraphQLError) -> GraphQLError:
    return GraphQLError(
        "The database is unavailable; retry shortly.",
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": UNAVAILABLE, "retryAfter": RETRY_AFTER_SECONDS},
    )


class TypedErrors(MaskErrors):
    def __init__(self) -> None:
        super().__init__(should_mask_error=_is_internal, error_message="Internal server error.")

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        error_id = uuid.uuid4().hex[:16]
        log.error("internal error %s at %s", error_id, error.path, exc_info=error.original_error)
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL_SERVER_ERROR", "errorId": error_id}
        return masked

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        processed = [_service_unavailable(e) if _unavailable(e) else e for e in super()._process_errors(errors)]
        for error in processed:
            if not (error.extensions or {}).get("code"):
                error.extensions = {**(error.extensions or {}), "code": _code_for(error)}
        return processed


def unavailable(errors: list[GraphQLError] | None) -> bool:
    """Whether a result failed because the database could not be reached (HTTP answers 503)."""
    return any((e.extensions or {}).get("code") == UNAVAILABLE for e in errors or ())
