"""The extension that enforces the query limits on each operation (schema/query_limits.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from graphql import DocumentNode, GraphQLError, parse, validate
from graphql.validation import ASTValidationRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.types.graphql import OperationType

from resolvers.errors import Unauthenticated
from schema.clients import ClientQuota, refusals_before_measuring, subscription_refusal
from schema.context import Context
from schema.documents import VALID_DOCUMENTS, parsed
from schema.limit_errors import QueryTooComplex, QueryTooDeep, QueryTooLarge, TooManyAliases, TooManyFragmentSpreads
from schema.measure import Measure, coerce_variables, measure
from schema.merge_budget import with_budget
from schema.mutation_rate import mutation_rate
from schema.reported import reported

if TYPE_CHECKING:
    from schema.query_limits import QueryLimits  # which builds the gate: imported at run time, a cycle

MAX_VALIDATION_ERRORS = 20


class OperationGate(SchemaExtension):
    """The token limit and a parse through the cache, then the partners-only gate, the document's
    figures against the limits, validation, the cost limit and the mutation rate. The computed
    cost of a query or mutation is reported in the result's `extensions.cost`."""

    def __init__(self, *, limits: QueryLimits, merging: type[ASTValidationRule]) -> None:
        self.limits = limits
        self.merging = merging
        self.cost: int | None = None
        self.max_cost = limits.max_cost
        self.subscribed = False

    def on_operation(self) -> Iterator[None]:
        self.execution_context.parse_options["max_tokens"] = self.limits.max_tokens
        try:
            yield  # a subscription's whole life
        finally:
            self._account()

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.graphql_document is None and ctx.query and len(ctx.query) > self.limits.max_query_length:
            # Not even lexed (graphql-core's lexer reads a character at a time): refused in place of a
            # stand-in document, as Strawberry parses whenever an extension leaves no document.
            ctx.graphql_document = _REFUSED
            ctx.pre_execution_errors = [
                QueryTooLarge(
                    f"the query is {len(ctx.query)} characters long, over the maximum of {self.limits.max_query_length}",
                    length=len(ctx.query),
                    maximumLength=self.limits.max_query_length,
                )
            ]
        # A document that fails to parse is left to Strawberry's own parse, which reports it.
        ctx.graphql_document = ctx.graphql_document or parsed(ctx.query, self.limits.max_tokens)
        yield

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.pre_execution_errors is None and ctx.graphql_document is not None:
            ctx.pre_execution_errors = self._refusals()
        yield

    def get_results(self) -> dict[str, Any]:
        # Not on every event of a subscription: its events are encoded once for many subscribers.
        if self.cost is None or self.execution_context.operation_type is OperationType.SUBSCRIPTION:
            return {}
        return {"cost": {"requested": self.cost, "maximum": self.max_cost}}

    def _account(self) -> None:
        """The client's meter: one operation, its cost if it ran, whether it failed; its subscription ends."""
        quota = self._quota
        if quota is None:
            return
        if self.subscribed:
            quota.close_subscription()
        ctx = self.execution_context
        result = getattr(ctx, "result", None)
        failed = bool(ctx.pre_execution_errors) or bool(getattr(result, "errors", None))
        quota.record(cost=None if ctx.pre_execution_errors else self.cost, failed=failed)

    @property
    def _quota(self) -> ClientQuota | None:
        context = self.execution_context.context
        return context.client if isinstance(context, Context) else None

    def _refusals(self) -> list[GraphQLError]:
        ctx = self.execution_context
        context = ctx.context
        if isinstance(context, Context) and context.auth_error is not None:
            # A token that was sent and refused is not read as no token: the client must know.
            return [Unauthenticated(context.auth_error)]
        if isinstance(context, Context) and context.limits.require_auth and not context.viewer.authenticated:
            return [Unauthenticated("this server needs a bearer token for every operation")]
        quota = self._quota
        if quota is not None:
            if quota.max_cost is not None:
                self.max_cost = quota.max_cost
            if refusals := refusals_before_measuring(quota, ctx.query):
                return refusals
        assert ctx.graphql_document is not None
        schema = ctx.schema._schema  # noqa: SLF001 - Strawberry's graphql-core schema
        variables = coerce_variables(schema, ctx.graphql_document, ctx.operation_name, ctx.variables)
        # A page larger than the page size limit is refused by its resolver, so counts at that size.
        figures = measure(
            schema,
            ctx.graphql_document,
            ctx.operation_name,
            None if isinstance(variables, list) else variables,
            default_list_size=self.limits.default_list_size,
            page_size=context.limits.max_page_size if isinstance(context, Context) else None,
        )
        if refusals := self._over_limits(figures):
            return refusals
        if not VALID_DOCUMENTS.seen(schema, ctx.query):
            # Strawberry's validation, with fewer errors: each is located by a scan of the text up to it.
            rules = (
                *with_budget(tuple(ctx.validation_rules), self.merging),
                MaybeNullValidationRule,
                OneOfInputValidationRule,
            )
            errors = validate(schema, ctx.graphql_document, rules, max_errors=MAX_VALIDATION_ERRORS)
            if errors:
                return [_client_error(e) for e in errors]
            VALID_DOCUMENTS.remember(schema, ctx.query)
        if isinstance(variables, list):
            return []  # execution refuses the variables itself, and runs nothing
        self.cost = reported(figures.cost)
        if self.cost > self.max_cost:
            return [
                QueryTooComplex(
                    f"query cost {self.cost} exceeds the maximum of {self.max_cost}",
                    cost=self.cost,
                    maximumCost=self.max_cost,
                )
            ]
        if isinstance(context, Context) and ctx.operation_type is OperationType.MUTATION:
            return mutation_rate(context)
        if quota is not None and ctx.operation_type is OperationType.SUBSCRIPTION:
            if refusals := subscription_refusal(quota):
                return refusals
            self.subscribed = True
        return []

    def _over_limits(self, figures: Measure) -> list[GraphQLError]:
        limits = self.limits
        if figures.depth > limits.max_depth:
            return [
                QueryTooDeep(
                    f"query depth {figures.depth} exceeds the maximum of {limits.max_depth}",
                    depth=reported(figures.depth),
                    maximumDepth=limits.max_depth,
                )
            ]
        if figures.spreads > limits.max_fragment_spreads:
            return [
                TooManyFragmentSpreads(
                    f"{reported(figures.spreads)} fragment spreads (each counted every time its fragment is spread) "
                    f"exceed the maximum of {limits.max_fragment_spreads}",
                    spreads=reported(figures.spreads),
                    maximumSpreads=limits.max_fragment_spreads,
                )
            ]
        if figures.aliases > limits.max_aliases:
            return [
                TooManyAliases(
                    f"{reported(figures.aliases)} aliases exceed the maximum of {limits.max_aliases}",
                    aliases=reported(figures.aliases),
                    maximumAliases=limits.max_aliases,
                )
            ]
        return []


_REFUSED: DocumentNode = parse("{ __typename }", no_location=True)


def _client_error(error: GraphQLError) -> GraphQLError:
    """A validation error is the client's, even when a coercion inside it raised (an integer
    literal of 5,000 digits raises ValueError): not an internal error to mask."""
    if error.original_error is None or isinstance(error.original_error, GraphQLError):
        return error
    return GraphQLError(error.message, error.nodes, extensions=error.extensions)
