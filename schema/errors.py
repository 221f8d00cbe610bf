"""Every error a client sees has a stable `extensions.code`; internal errors are masked for
clients and logged in full under an error id that the masked error carries."""

from __future__ import annotations

import logging
import uuid

from graphql import GraphQLError
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.extensions import MaskErrors

from schema.limits import limit_code

log = logging.getLogger("racewire.errors")


def _is_internal(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


def _code_for(error: GraphQLError) -> str:
    if code := limit_code(error):
        return code
    if isinstance(error.original_error, StrawberryInputCoercionError) or error.message.startswith("Variable '$"):
        return "BAD_USER_INPUT"
    if error.message.startswith("Syntax Error"):
        return "GRAPHQL_PARSE_FAILED"
    return "GRAPHQL_VALIDATION_FAILED"


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
        processed = super()._process_errors(errors)
        for error in processed:
            if not (error.extensions or {}).get("code"):
                error.extensions = {**(error.extensions or {}), "code": _code_for(error)}
        return processed
