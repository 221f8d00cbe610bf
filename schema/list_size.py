"""How many items a list field may return, declared on the field itself so that the query cost
counts the size its resolver will use (see `schema.measure`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import GraphQLField

LIST_SIZE = "racewire.list_size"


@dataclass(frozen=True)
class ListSize:
    """The field returns at most `argument` items, which its resolver refuses above `maximum`
    (None: the page size limit). With `per_item`, the argument is a list and the field returns
    one item for each of its elements (federation's `_entities`)."""

    argument: str
    maximum: int | None = None
    per_item: bool = False


def sized_by(argument: str, maximum: int | None = None, *, per_item: bool = False) -> dict[str, ListSize]:
    """Field metadata: `@strawberry.field(metadata=sized_by("first"))`."""
    return {LIST_SIZE: ListSize(argument, maximum, per_item)}


def list_size(field: GraphQLField) -> ListSize | None:
    definition: Any = (field.extensions or {}).get("strawberry-definition")
    metadata = getattr(definition, "metadata", None) or {}
    size = metadata.get(LIST_SIZE)
    return size if isinstance(size, ListSize) else None
