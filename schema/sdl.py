"""The two published SDL files: the API as a client sees it (graphql/schema.graphql), and the
subgraph a federation router composes (graphql/subgraph.graphql, what `_service { sdl }` answers).

The plain SDL leaves out what Federation adds (`_entities`, `_service`, the `_Any`, `_Entity`,
`_Service`, `_FieldSet` and `link__*` types, `@key` and `@link`): a client that never composes Racewire reads
the same contract as before it was a subgraph. Types are printed by name, as Strawberry does."""

from __future__ import annotations

from graphql import GraphQLNamedType, GraphQLObjectType, GraphQLSchema, print_directive, print_type
from graphql.type import is_introspection_type, is_specified_scalar_type, specified_directives
from strawberry import Schema

FEDERATION_DIRECTIVES = frozenset({"key", "link"})


def subgraph_sdl(schema: Schema) -> str:
    return schema.as_str() + "\n"


def plain_sdl(schema: Schema) -> str:
    graphql_schema: GraphQLSchema = schema._schema  # noqa: SLF001 - Strawberry's graphql-core schema
    parts = [
        print_directive(d)
        for d in graphql_schema.directives
        if d not in specified_directives and d.name not in FEDERATION_DIRECTIVES
    ]
    for name in sorted(graphql_schema.type_map):
        kind = graphql_schema.type_map[name]
        # `link__Purpose` and the like: the types of federation's own directives
        if name.startswith("_") or "__" in name or is_introspection_type(kind) or is_specified_scalar_type(kind):
            continue
        parts.append(print_type(_without_federation_fields(kind, graphql_schema)))
    return "\n\n".join(parts) + "\n"


def _without_federation_fields(kind: GraphQLNamedType, schema: GraphQLSchema) -> GraphQLNamedType:
    if kind is not schema.query_type or not isinstance(kind, GraphQLObjectType):
        return kind
    fields = {name: field for name, field in kind.fields.items() if not name.startswith("_")}
    return GraphQLObjectType(kind.name, fields, description=kind.description)
