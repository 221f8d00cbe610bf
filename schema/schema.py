"""Builds the Strawberry schema."""

from __future__ import annotations

from collections.abc import Iterator

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, SchemaExtension

from resolvers.errors import ApiError
from schema.context import Context
from schema.mutation import Mutation
from schema.query import Query
from schema.subscription import Subscription


class FreshLoaders(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if isinstance(context, Context):
            context.fresh_loaders()
        yield


def _should_mask(error: GraphQLError) -> bool:
    original = error.original_error
    if original is None:
        return False  # parse and validation errors from graphql-core
    return not isinstance(original, GraphQLError)


def build_schema() -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[
            FreshLoaders,
            lambda: MaskErrors(should_mask_error=_should_mask, error_message="Internal server error."),
        ],
    )


schema = build_schema()
