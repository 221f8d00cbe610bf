"""Builds the Strawberry schema."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import DisableIntrospection, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES, StrawberryGraphQLCoreExecutionContext
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

from resolvers.errors import BadRequest
from schema.context import Context
from schema.errors import TypedErrors, log_error, strip_suggestions
from schema.federation import FEDERATION_VERSION
from schema.mutation import Mutation
from schema.query import Query
from schema.query_limits import QueryLimits, limit_extensions
from schema.scalars import SCALAR_OVERRIDES
from schema.subscription import Subscription


class FreshLoaders(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if isinstance(context, Context):
            context.fresh_loaders()
        yield


class PerEventMemo(StrawberryGraphQLCoreExecutionContext):
    """graphql-core 3.3 shares one memo of collected subfields between all events of a
    subscription, keyed by lists that are new for every event, so it grows with each event
    for as long as the subscription lives (measured: ~2.7 KiB per event). Each event gets its own.
    Passed through Strawberry's public `execution_context_class` and overriding graphql-core's
    public `build_per_event_executor`; graphql-core has no public way to scope the memo, so the
    one private name it sets is guarded by tests/schema/test_per_event_memo.py."""

    def build_per_event_executor(self, payload: Any) -> Any:
        executor = super().build_per_event_executor(payload)
        executor._relevant_sub_fields = {}  # noqa: SLF001 - the memo, see the docstring
        return executor


class RacewireSchema(strawberry.federation.Schema):
    """Strawberry's federation schema (a Federation 2 subgraph, schema/federation.py), with every
    error passing through one place before a client sees it: there production strips every
    "Did you mean …?" (fields, arguments, types, enum values, input fields; in validation and in
    variables alike), and each error is logged at its level."""

    def __init__(self, *, suggestions: bool = True, introspection: bool = True, **kwargs: Any) -> None:
        super().__init__(federation_version=FEDERATION_VERSION, **kwargs)
        self.suggestions = suggestions
        self.introspection = introspection

    def _process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        if not self.suggestions:
            for error in errors:
                strip_suggestions(error)
        self.process_errors(errors, execution_context)

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        for error in errors:
            log_error(error)

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """A subscription run as a single result (a plain JSON POST) would execute its stream as if
        it were a query; it is refused, naming the transports that carry subscriptions."""
        allowed = set(DEFAULT_ALLOWED_OPERATION_TYPES if allowed_operation_types is None else allowed_operation_types)
        try:
            return await super().execute(
                query,
                variable_values,
                context_value,
                root_value,
                operation_name,
                allowed - {OperationType.SUBSCRIPTION},
                operation_extensions,
            )
        except InvalidOperationTypeError as error:
            if error.operation_type is not OperationType.SUBSCRIPTION or OperationType.SUBSCRIPTION not in allowed:
                raise
            refusal = BadRequest(
                "a subscription needs a stream: graphql-transport-ws on WebSocket, or "
                "Accept: text/event-stream (SSE) or multipart/mixed;subscriptionSpec=1.0"
            )
            log_error(refusal)
            return ExecutionResult(data=None, errors=[refusal])


def build_schema(
    limits: QueryLimits | None = None, *, introspection: bool = True, suggestions: bool = True
) -> strawberry.Schema:
    """Production turns introspection and "Did you mean …?" suggestions off."""
    return RacewireSchema(
        suggestions=suggestions,
        introspection=introspection,
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        execution_context_class=PerEventMemo,
        scalar_overrides=SCALAR_OVERRIDES,
        config=StrawberryConfig(disable_field_suggestions=not suggestions),
        extensions=[
            FreshLoaders,
            *([] if introspection else [DisableIntrospection]),
            *limit_extensions(limits or QueryLimits()),
            TypedErrors,
        ],
    )


schema = build_schema()
