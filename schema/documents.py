"""Parsed and validated documents, remembered: feeds and frontends send the same few documents
all day, and parsing and validating one again costs more than executing it.

Anyone may send a new document, so each cache is bounded by bytes, not by entries, and a
document over `MAX_CACHED_QUERY_BYTES` never enters one: it is parsed and validated every time."""

from __future__ import annotations

import hashlib
import sys
from weakref import WeakKeyDictionary

from cachetools import LRUCache
from graphql import DocumentNode, GraphQLError, GraphQLSchema, Token, parse

MAX_CACHED_QUERY_BYTES = 64 * 1024
PARSED_BYTES = 16 * 1024 * 1024
VALID_BYTES = 4 * 1024 * 1024
# A parsed document holds, per lexical token, its token and a share of its AST nodes: measured
# at 470-610 bytes on documents of 5,000 tokens (tests/schema/test_documents.py keeps it honest);
# and each comment or string token its own copy of its text.
TOKEN_BYTES = 640


def document_id(text: str) -> str:
    """A document's id, as persisted queries and manifests name it: the sha256 of its exact text."""
    return hashlib.sha256(text.encode()).hexdigest()


def text_bytes(text: str) -> int:
    """What a str takes in memory (CPython stores 1, 2 or 4 bytes a character)."""
    return sys.getsizeof(text)


def cacheable(query: str) -> bool:
    return text_bytes(query) <= MAX_CACHED_QUERY_BYTES


def document_bytes(document: DocumentNode) -> int:
    """An estimate of a parsed document's memory: its source text, and its tokens with their text
    and their nodes."""
    loc = document.loc
    if loc is None:
        return TOKEN_BYTES
    size = text_bytes(loc.source.body)
    token: Token | None = loc.start_token
    while token is not None:
        size += TOKEN_BYTES + len(token.value or "")
        token = token.next
    return size


class ParsedDocuments:
    """Parsed documents by (text, token limit), least recently used forgotten past `max_bytes`."""

    def __init__(self, max_bytes: int = PARSED_BYTES) -> None:
        self._parsed: LRUCache[tuple[str, int], DocumentNode] = LRUCache(max_bytes, getsizeof=document_bytes)

    def parse(self, query: str, max_tokens: int) -> DocumentNode:
        """The parsed document; raises the GraphQLError of one that does not parse."""
        key = (query, max_tokens)
        document = self._parsed.get(key)
        if document is None:
            document = parse(query, max_tokens=max_tokens)
            if cacheable(query):
                self._parsed[key] = document
        return document

    @property
    def bytes(self) -> int:
        return int(self._parsed.currsize)

    def __len__(self) -> int:
        return len(self._parsed)


class ValidDocuments:
    """Documents that passed validation, per schema (validation depends on nothing else)."""

    def __init__(self, max_bytes: int = VALID_BYTES) -> None:
        self._max_bytes = max_bytes
        self._valid: WeakKeyDictionary[GraphQLSchema, LRUCache[str, int]] = WeakKeyDictionary()

    def seen(self, schema: GraphQLSchema, query: str | None) -> bool:
        valid = self._valid.get(schema)
        return query is not None and valid is not None and valid.get(query) is not None

    def remember(self, schema: GraphQLSchema, query: str | None) -> None:
        if query is None or not cacheable(query):
            return
        valid = self._valid.get(schema)
        if valid is None:
            valid = self._valid[schema] = LRUCache(self._max_bytes, getsizeof=_own_size)
        valid[query] = text_bytes(query)

    def bytes(self, schema: GraphQLSchema) -> int:
        valid = self._valid.get(schema)
        return 0 if valid is None else int(valid.currsize)


def _own_size(size: int) -> int:
    return size


PARSED = ParsedDocuments()
VALID_DOCUMENTS = ValidDocuments()


def parsed(query: str | None, max_tokens: int) -> DocumentNode | None:
    """The parsed document, or None when it does not parse (errors are not remembered)."""
    if not query:
        return None
    try:
        return PARSED.parse(query, max_tokens)
    except GraphQLError:
        return None
