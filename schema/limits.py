"""Published query limits: depth, aliases, tokens and cost, the partners-only gate, and the
mutation rate per token. Each refusal is a typed error with a stable `extensions.code`."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLArgument,
    GraphQLError,
    GraphQLList,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
)
from graphql.type.definition import GraphQLInterfaceType, GraphQLObjectType
from graphql.validation import ASTValidationRule
from strawberry.extensions import SchemaExtension
from strawberry.extensions.max_aliases import create_validator as alias_validator
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator
from strawberry.schema.schema import validate_document
from strawberry.types.graphql import OperationType

from resolvers.errors import ApiError, Unauthenticated
from schema.context import Context
from schema.documents import VALID_DOCUMENTS, parsed

SIZE_ARGUMENTS = ("first", "last")


class QueryTooComplex(ApiError):
    code = "QUERY_TOO_COMPLEX"


class RateLimited(ApiError):
    code = "RATE_LIMITED"


@dataclass(frozen=True)
class QueryLimits:
    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 5_000
    max_cost: int = 5_000
    default_list_size: int = 10


def limit_extensions(limits: QueryLimits) -> list[Callable[[], SchemaExtension]]:
    """A factory, so every operation gets a gate of its own; the rules are built once."""
    rules = (depth_validator(limits.max_depth, None), alias_validator(limits.max_aliases))
    return [functools.partial(OperationGate, limits=limits, rules=rules)]


def limit_code(error: GraphQLError) -> str | None:
    """The code of a refusal by one of Strawberry's limiters, which raise untyped errors."""
    if "exceeds maximum operation depth" in error.message:
        return "QUERY_TOO_DEEP"
    if "aliases found. Allowed:" in error.message:
        return "TOO_MANY_ALIASES"
    if error.message.startswith("Syntax Error: Document contains more than"):
        return "QUERY_TOO_LARGE"
    return None


class OperationGate(SchemaExtension):
    """The token limit and a parse through the cache, then the partners-only gate, validation
    (with the depth and alias rules), the cost limit and the mutation rate. The computed cost of
    a query or mutation is reported in the result's `extensions.cost`."""

    def __init__(self, *, limits: QueryLimits, rules: tuple[type[ASTValidationRule], ...]) -> None:
        self.limits = limits
        self.rules = rules
        self.cost: int | None = None

    def on_operation(self) -> Iterator[None]:
        self.execution_context.parse_options["max_tokens"] = self.limits.max_tokens
        yield

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
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
        return {"cost": {"requested": self.cost, "maximum": self.limits.max_cost}}

    def _refusals(self) -> list[GraphQLError]:
        ctx = self.execution_context
        context = ctx.context
        if isinstance(context, Context) and context.limits.require_auth and not context.viewer.authenticated:
            return [Unauthenticated(context.auth_error or "this server needs a bearer token for every operation")]
        assert ctx.graphql_document is not None
        if not VALID_DOCUMENTS.seen(ctx.schema._schema, ctx.query):  # noqa: SLF001
            rules = [*ctx.validation_rules, *self.rules]
            errors = validate_document(ctx.schema._schema, ctx.graphql_document, rules)  # noqa: SLF001
            if errors:
                return errors
            VALID_DOCUMENTS.remember(ctx.schema._schema, ctx.query)  # noqa: SLF001
        # A page larger than the page size limit is refused by its resolver, so counts at that size.
        page = context.limits.max_page_size if isinstance(context, Context) else None
        self.cost = operation_cost(ctx.schema._schema, ctx.graphql_document, ctx.operation_name,  # noqa: SLF001
                                   ctx.variables or {}, default_list_size=self.limits.default_list_size,
                                   max_list_size=page)
        if self.cost > self.limits.max_cost:
            return [QueryTooComplex(f"query cost {self.cost} exceeds the maximum of {self.limits.max_cost}",
                                    cost=self.cost, maximumCost=self.limits.max_cost)]
        if isinstance(context, Context) and ctx.operation_type is OperationType.MUTATION:
            return _mutation_rate(context)
        return []


def _mutation_rate(context: Context) -> list[GraphQLError]:
    if context.rate_limit is None or context.viewer.subject is None:
        return []
    wait = context.rate_limit(context.viewer.subject)
    if wait <= 0:
        return []
    return [RateLimited("too many mutations for this token; retry later", retryAfter=round(wait, 3))]


def operation_cost(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None,
                   variables: Mapping[str, Any], *, default_list_size: int, max_list_size: int | None = None) -> int:
    """1 per field; a field's selections count once per item it may return: `first`/`last` items,
    or `default_list_size` for a list without them (a connection's `edges` take the parent's size)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [op for op in operations if operation_name is None or (op.name and op.name.value == operation_name)]
    if not chosen:
        return 0
    root = schema.get_root_type(chosen[0].operation)
    counter = _CostCounter(schema.type_map, fragments, variables, default_list_size, max_list_size)
    return counter.selections(chosen[0].selection_set, root, sized=False, visited=frozenset())


@dataclass
class _CostCounter:
    types: Mapping[str, GraphQLNamedType]
    fragments: Mapping[str, FragmentDefinitionNode]
    variables: Mapping[str, Any]
    default_list_size: int
    max_list_size: int | None

    def selections(self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType | None,
                   *, sized: bool, visited: frozenset[str]) -> int:
        total = 0
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent, sized=sized, visited=visited)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self._type(condition.name.value) if condition else parent
                total += self.selections(selection.selection_set, inner, sized=sized, visited=visited)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is not None and name not in visited:
                    total += self.selections(fragment.selection_set, self._type(fragment.type_condition.name.value),
                                             sized=sized, visited=visited | {name})
        return total

    def field(self, node: FieldNode, parent: GraphQLNamedType | None, *, sized: bool, visited: frozenset[str]) -> int:
        definition = None
        if isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)):
            definition = parent.fields.get(node.name.value)
        if definition is None or node.selection_set is None:
            return 1
        size = self._size(node, definition.args)
        if size is not None and self.max_list_size is not None:
            size = min(size, self.max_list_size)
        is_list = isinstance(get_nullable_type(definition.type), GraphQLList)  # type: ignore[arg-type]
        multiplier = size if size is not None else (self.default_list_size if is_list and not sized else 1)
        children = self.selections(node.selection_set, get_named_type(definition.type),
                                   sized=size is not None, visited=visited)
        return 1 + multiplier * children

    def _size(self, node: FieldNode, arguments: Mapping[str, GraphQLArgument]) -> int | None:
        for argument in node.arguments or ():
            if argument.name.value not in SIZE_ARGUMENTS:
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                return max(int(value.value), 0)
            if isinstance(value, VariableNode) and isinstance(self.variables.get(value.name.value), int):
                return max(int(self.variables[value.name.value]), 0)
            return self.default_list_size
        for name in SIZE_ARGUMENTS:
            default = arguments[name].default_value if name in arguments else None
            if isinstance(default, int):
                return default
        return None

    def _type(self, name: str) -> GraphQLNamedType | None:
        return self.types.get(name)
