"""Racewire as an Apollo Federation 2 subgraph: `Meeting`, `Race`, `Runner` and `NewsArticle` are
entities keyed by `id`, and the root Query carries federation's `_entities` and `_service`.

Both fields are Racewire's own (Strawberry's federation schema uses a query type's own fields
when it has them), so they are described, and `_entities` is sized like a page: its cost counts
each representation, and more representations than the page size limit are refused, as a page
that large is. Each representation is resolved through the request's DataLoaders.

`FederationAny` is the one name taken from inside Strawberry: the `_Any` scalar its federation
schema installs, which `_entities(representations: [_Any!]!)` must use (tests/schema/test_federation.py
fails loudly if it moves)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any, Final, cast
from weakref import WeakKeyDictionary

import strawberry
from strawberry.federation.schema import FederationAny

from resolvers.errors import BadUserInput, Unauthenticated, known_id
from schema.context import Info
from schema.list_size import sized_by
from schema.types.news import NewsArticle
from schema.types.races import Meeting, Race, Runner

# The oldest version a router takes a subgraph's Subscription fields from (Apollo Router: 2.4).
FEDERATION_VERSION: Final = "2.4"
EntityType = Meeting | NewsArticle | Race | Runner
ENTITIES: dict[str, type[EntityType]] = {kind.__name__: kind for kind in (Meeting, NewsArticle, Race, Runner)}

Entity = Annotated[
    Meeting | NewsArticle | Race | Runner,
    strawberry.union("_Entity", description="Racewire's entities, each keyed by its `id`."),
]

_SDL: WeakKeyDictionary[Any, str] = WeakKeyDictionary()


@strawberry.type(name="_Service", description="This subgraph, for a federation gateway or router.")
class Service:
    @strawberry.field(description="The subgraph's SDL, with its federation directives.")
    def sdl(self, info: Info) -> str:
        schema = info.schema
        if schema not in _SDL:
            _SDL[schema] = schema.as_str()
        return _SDL[schema]


@strawberry.type
class FederationQuery:
    @strawberry.field(
        name="_entities",
        metadata=sized_by("representations", per_item=True),
        description="Entities by their representations ({__typename, id}), in the same order; null for one "
        "that does not exist. At most the page size limit per request.",
    )
    def entities(
        self,
        info: Info,
        representations: Annotated[
            list[FederationAny],
            strawberry.argument(
                description="Each a `{__typename, id}` object naming an entity type and its id; at most the "
                "page size limit (100 by default)."
            ),
        ],
    ) -> list[Entity | None]:
        limit = info.context.limits.max_page_size
        if len(representations) > limit:
            raise BadUserInput(
                f"representations: at most {limit} items, got {len(representations)}",
                field="representations",
                limit=limit,
            )
        # graphql-core completes each item: it awaits an awaitable, and an Exception is that item's error.
        return cast(
            "list[Entity | None]",
            [_resolve(info, index, representation) for index, representation in enumerate(representations)],
        )

    @strawberry.field(name="_service", description="This subgraph's SDL (needs a token when introspection is off).")
    def service(self, info: Info) -> Service:
        if not getattr(info.schema, "introspection", True) and not info.context.viewer.authenticated:
            raise Unauthenticated("the subgraph SDL needs a bearer token on this server")
        return Service()


def _resolve(info: Info, index: int, representation: object) -> Awaitable[EntityType | None] | Exception | None:
    """A representation's entity, still to be awaited; the error of a malformed one, in its place."""
    try:
        entity, key = _reference(index, representation)
    except BadUserInput as error:
        return error
    if key is None:
        return None  # an id too large to exist
    return entity.resolve_reference(info=info, id=key)


def _reference(index: int, representation: object) -> tuple[type[EntityType], int | None]:
    where = f"representations[{index}]"
    if not isinstance(representation, dict):
        raise BadUserInput(f"{where} must be an object {{__typename, id}}", field="representations", index=index)
    typename = representation.get("__typename")
    entity = ENTITIES.get(typename) if isinstance(typename, str) else None
    if entity is None or not isinstance(typename, str):
        raise BadUserInput(
            f"{where}: __typename must be one of {', '.join(sorted(ENTITIES))}", field="representations", index=index
        )
    key = representation.get("id")
    if isinstance(key, bool) or not isinstance(key, str | int):
        raise BadUserInput(f"{where}: id must be an ID", field="representations", index=index)
    return entity, known_id(str(key), what=typename, field="representations")
