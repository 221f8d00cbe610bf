"""Builds the Strawberry schema."""

from __future__ import annotations

from collections.abc import Iterator

import strawberry
from strawberry.extensions import SchemaExtension

from schema.context import Context
from schema.errors import TypedErrors
from schema.mutation import Mutation
from schema.query import Query
from schema.subscription import Subscription


class FreshLoaders(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if isinstance(context, Context):
            context.fresh_loaders()
        yield


def build_schema() -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[
            FreshLoaders,
            TypedErrors,
        ],
    )


schema = build_schema()
