"""Every list an operation takes is bounded, and says so where partners read: in its description."""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLInputObjectType, GraphQLList, get_nullable_type

from schema.schema import schema


def _list_inputs() -> Iterator[tuple[str, str | None]]:
    gql = schema._schema  # noqa: SLF001
    roots = [t for t in (gql.query_type, gql.mutation_type, gql.subscription_type) if t is not None]
    for root in roots:
        for name, field in root.fields.items():
            for arg_name, arg in field.args.items():
                if isinstance(get_nullable_type(arg.type), GraphQLList):
                    yield f"{root.name}.{name}({arg_name})", arg.description
    for named in gql.type_map.values():
        if isinstance(named, GraphQLInputObjectType) and not named.name.startswith("__"):
            for field_name, input_field in named.fields.items():
                if isinstance(get_nullable_type(input_field.type), GraphQLList):
                    yield f"{named.name}.{field_name}", input_field.description


def test_every_list_argument_and_input_list_field_publishes_its_bound() -> None:
    lists = dict(_list_inputs())
    assert len(lists) >= 11  # the schema has at least the lists this was written against
    unbounded = [
        name
        for name, description in lists.items()
        if not any(word in (description or "") for word in ("at most", "Up to", "1 to"))
    ]
    assert not unbounded, unbounded
