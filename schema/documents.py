"""Parsed and validated documents, remembered: feeds and frontends send the same few documents
all day, and parsing and validating one again costs more than executing it."""

from __future__ import annotations

import functools
from collections import OrderedDict
from weakref import WeakKeyDictionary

from graphql import DocumentNode, GraphQLError, GraphQLSchema, parse

REMEMBERED = 256  # documents per cache: bounded, as anyone may send a new one


def parsed(query: str | None, max_tokens: int) -> DocumentNode | None:
    """The parsed document, or None when it does not parse (errors are not remembered)."""
    if not query:
        return None
    try:
        return _parse(query, max_tokens)
    except GraphQLError:
        return None


@functools.lru_cache(maxsize=REMEMBERED)
def _parse(query: str, max_tokens: int) -> DocumentNode:
    return parse(query, max_tokens=max_tokens)


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
