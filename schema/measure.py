"""A document's figures for the published limits (depth, aliases, fragment spreads, cost),
measured in time linear in its size, however its fragments spread one another.

Each definition's selections are walked once. Fragments are measured in dependency order, so a
fragment's figures are ready, and reused, wherever it is spread: no walk ever follows a spread,
and a chain of fragments costs no stack. A spread counts its fragment's figures each time, as
execution would expand it; the numbers may be huge, the work is not."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    get_nullable_type,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from graphql.type.definition import GraphQLInterfaceType, GraphQLObjectType

from schema.list_size import list_size

_MAX_VARIABLE_ERRORS = 50


@dataclass(frozen=True)
class Figures:
    """What one selection set adds up to. Its cost depends on whether the field above it was
    sized (`first`/`last`): a list directly under a sized field (a connection's `edges`) takes
    that size instead of counting as a list of its own."""

    depth: int = 0
    aliases: int = 0
    spreads: int = 0
    cost: int = 0
    cost_when_sized: int = 0

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            max(self.depth, other.depth),
            self.aliases + other.aliases,
            self.spreads + other.spreads,
            self.cost + other.cost,
            self.cost_when_sized + other.cost_when_sized,
        )


@dataclass(frozen=True)
class Measure:
    """The document's figures: `depth`, `aliases` and `spreads` over all its operations (as
    validation sees them all), `cost` of the operation that will run; `visited` is the work done,
    one per selection walked."""

    depth: int
    aliases: int
    spreads: int
    cost: int
    visited: int


@dataclass
class _Walk:
    schema: GraphQLSchema
    variables: VariableValues | None
    default_list_size: int
    page_size: int | None
    fragments: dict[str, Figures] = field(default_factory=dict)
    visited: int = 0

    def selections(self, selection_set: SelectionSetNode, parent: GraphQLNamedType | None) -> Figures:
        total = Figures()
        for selection in selection_set.selections:
            self.visited += 1
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = _counted_type(self.schema, condition.name.value) if condition else parent
                total += self.selections(selection.selection_set, inner)
            elif isinstance(selection, FragmentSpreadNode):
                # A fragment not measured yet is unknown or in a cycle: validation refuses both.
                total += self.fragments.get(selection.name.value, Figures()) + Figures(spreads=1)
        return total

    def field(self, node: FieldNode, parent: GraphQLNamedType | None) -> Figures:
        alias = 1 if node.alias else 0
        if node.selection_set is None:
            return Figures(aliases=alias, cost=1, cost_when_sized=1)
        definition = None if node.name.value.startswith("__") else _field_definition(parent, node.name.value)
        named = get_named_type(definition.type) if definition is not None else None
        inner = self.selections(node.selection_set, named)
        # Introspection is not counted in the depth, as GraphiQL's own query is deeper than the limit.
        depth = 0 if node.name.value.startswith("__") else 1 + inner.depth
        size = self._size(definition, node) if definition is not None else None
        is_list = definition is not None and isinstance(get_nullable_type(definition.type), GraphQLList)
        if size is not None:
            # A sized list holds the items themselves (`_entities`, `priceHistory`); a sized
            # connection, the list below it that takes the size.
            cost = 1 + size * (inner.cost if is_list else inner.cost_when_sized)
            return Figures(depth, inner.aliases + alias, inner.spreads, cost, cost)
        items = self.default_list_size if is_list else 1
        return Figures(depth, inner.aliases + alias, inner.spreads, 1 + items * inner.cost, 1 + inner.cost)

    def _size(self, definition: GraphQLField, node: FieldNode) -> int | None:
        """The items the field's resolver will be asked for: its size argument as execution
        coerces it (literal, variable, variable default or argument default), at most the most
        the resolver allows; that most when the argument cannot be known."""
        declared = list_size(definition)
        if declared is None:
            return None
        maximum = declared.maximum if declared.maximum is not None else self.page_size
        try:
            value = get_argument_values(definition, node, self.variables).get(declared.argument)
        except (GraphQLError, ValueError, TypeError):
            value = None  # execution refuses the field; count the most it could have asked for
        if declared.per_item:
            value = len(value) if isinstance(value, list) else None
        if not isinstance(value, int) or isinstance(value, bool):
            return maximum if maximum is not None else self.default_list_size
        value = max(value, 0)
        return value if maximum is None else min(value, maximum)


def measure(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: VariableValues | None,
    *,
    default_list_size: int,
    page_size: int | None = None,
) -> Measure:
    """`variables` are the operation's values as execution coerces them (`coerce_variables`)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    walk = _Walk(schema, variables, default_list_size, page_size)
    for name in _dependency_order(fragments):
        fragment = fragments[name]
        condition = _counted_type(schema, fragment.type_condition.name.value)
        walk.fragments[name] = walk.selections(fragment.selection_set, condition)
    chosen = _chosen(operations, operation_name)
    total, cost = Figures(), 0
    for operation in operations:
        figures = walk.selections(operation.selection_set, schema.get_root_type(operation.operation))
        total += figures
        if operation is chosen:
            cost = figures.cost
    return Measure(total.depth, total.aliases, total.spreads, cost, walk.visited)


def coerce_variables(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None, raw: Mapping[str, Any] | None
) -> VariableValues | list[GraphQLError]:
    """The variables as execution will coerce them (defaults applied), or why it will refuse them."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    operation = _chosen(operations, operation_name)
    definitions = operation.variable_definitions or () if operation is not None else ()
    return get_variable_values(schema, definitions, dict(raw or {}), max_errors=_MAX_VARIABLE_ERRORS)


def _chosen(operations: list[OperationDefinitionNode], name: str | None) -> OperationDefinitionNode | None:
    if name is None:  # several operations and no name: execution refuses; count the first
        return operations[0] if operations else None
    return next((o for o in operations if o.name is not None and o.name.value == name), None)


def _counted_type(schema: GraphQLSchema, name: str) -> GraphQLNamedType | None:
    """Introspection counts one per field: its lists are as long as the schema, not the data."""
    return None if name.startswith("__") else schema.get_type(name)


def _field_definition(parent: GraphQLNamedType | None, name: str) -> GraphQLField | None:
    if isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)):
        field: GraphQLField | None = parent.fields.get(name)
        return field
    return None


def _dependency_order(fragments: Mapping[str, FragmentDefinitionNode]) -> list[str]:
    """Every fragment after the fragments it spreads (a cycle is broken anywhere), without recursion."""
    spreads = {name: list(_spread_names(f.selection_set)) for name, f in fragments.items()}
    order: list[str] = []
    seen: set[str] = set()
    for root in fragments:
        if root in seen:
            continue
        seen.add(root)
        stack: list[tuple[str, Iterator[str]]] = [(root, iter(spreads[root]))]
        while stack:
            name, pending = stack[-1]
            following = next((s for s in pending if s in fragments and s not in seen), None)
            if following is None:
                stack.pop()
                order.append(name)
            else:
                seen.add(following)
                stack.append((following, iter(spreads[following])))
    return order


def _spread_names(selection_set: SelectionSetNode) -> Iterator[str]:
    pending = [selection_set]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FragmentSpreadNode):
                yield selection.name.value
            elif isinstance(selection, FieldNode | InlineFragmentNode) and selection.selection_set is not None:
                pending.append(selection.selection_set)
