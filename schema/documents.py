"""Parsed and validated documents, remembered: feeds and frontends send the same few documents
all day, and parsing and validating one again costs more than executing it."""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any
from weakref import WeakKeyDictionary

from strawberry.extensions import SchemaExtension

from graphql import DocumentNode, GraphQLError, GraphQLSchema, parse

REMEMBERED = 256  # documents per cache: bounded, as anyone may send a new one


@functools.lru_cache(maxsize=REMEMBERED)
def _parse(query: str, max_tokens: int | None) -> DocumentNode:
    return parse(query, max_tokens=max_tokens)


class CachedParse(SchemaExtension):
    """Parses through the cache. A document that fails to parse is left to Strawberry's own
    parse, which reports the error as it always does (errors are never cached)."""

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        options: dict[str, Any] = ctx.parse_options
        if ctx.query and set(options) <= {"max_tokens"}:
            try:
                ctx.graphql_document = _parse(ctx.query, options.get("max_tokens"))
            except GraphQLError:
                pass
        yield


class ValidDocuments:
    """Documents that passed validation, per schema (validation depends on nothing else)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._valid: WeakKeyDictionary[GraphQLSchema, OrderedDict[str, None]] = WeakKeyDictionary()

    def seen(self, schema: GraphQLSchema, query: str | None) -> bool:
        valid = self._valid.get(schema)
        if query is None or valid is None or query not in valid:
            return False
        valid.move_to_end(query)
        return True

    def remember(self, schema: GraphQLSchema, query: str | None) -> None:
        if query is None:
            return
        valid = self._valid.setdefault(schema, OrderedDict())
        valid[query] = None
        if len(valid) > self._size:
            valid.popitem(last=False)


VALID_DOCUMENTS = ValidDocuments(REMEMBERED)
