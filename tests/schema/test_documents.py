"""The document caches are bounded by bytes, and a document over the size never enters one."""

from __future__ import annotations

import gc
import tracemalloc

from graphql import build_schema, parse

from schema.documents import (
    MAX_CACHED_QUERY_BYTES,
    TOKEN_BYTES,
    ParsedDocuments,
    ValidDocuments,
    document_bytes,
    text_bytes,
)

SCHEMA = build_schema("type Query { a: Int }")


def fields(count: int, tag: str = "") -> str:
    return "{ " + " ".join(f"{tag}f{n}" for n in range(count)) + " }"


def commented(size: int, tag: str) -> str:
    return f"# {tag}" + "x" * size + "\n{ a }"


def test_parsed_documents_stay_within_their_byte_budget() -> None:
    budget = 1024 * 1024
    cache = ParsedDocuments(budget)
    for n in range(200):
        cache.parse(fields(50, f"d{n}_"), 5_000)
        assert cache.bytes <= budget
    assert 0 < len(cache) < 200  # the oldest were forgotten, the newest kept
    recent = fields(50, "d199_")
    assert cache.parse(recent, 5_000) is cache.parse(recent, 5_000)


def test_a_document_over_the_size_is_parsed_but_never_kept() -> None:
    cache = ParsedDocuments()
    large = commented(MAX_CACHED_QUERY_BYTES, "large")
    assert cache.parse(large, 5_000).definitions
    assert len(cache) == 0 and cache.bytes == 0
    small = commented(100, "small")  # the positive control
    cache.parse(small, 5_000)
    assert len(cache) == 1


def test_the_size_estimate_is_not_below_what_a_parsed_document_takes() -> None:
    for query in (fields(4_990), commented(50_000, "c"), "query Q($id: ID!) { race(id: $id) { id name } }"):
        query = query + " "  # a new str, so that tracemalloc sees only the parse
        gc.collect()
        tracemalloc.start()
        document = parse(query, max_tokens=5_000)
        taken, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert document_bytes(document) >= taken, (len(query), document_bytes(document), taken)
        assert document_bytes(document) <= 2 * taken + TOKEN_BYTES + text_bytes(query)


def test_valid_documents_stay_within_their_byte_budget() -> None:
    budget = 64 * 1024
    valid = ValidDocuments(budget)
    queries = [commented(1_000, f"v{n}") for n in range(200)]
    for query in queries:
        valid.remember(SCHEMA, query)
        assert valid.bytes(SCHEMA) <= budget
    assert valid.seen(SCHEMA, queries[-1]) and not valid.seen(SCHEMA, queries[0])


def test_a_valid_document_over_the_size_is_not_remembered() -> None:
    valid = ValidDocuments()
    large, small = commented(MAX_CACHED_QUERY_BYTES, "l"), commented(10, "s")
    valid.remember(SCHEMA, large)
    valid.remember(SCHEMA, small)
    assert not valid.seen(SCHEMA, large) and valid.seen(SCHEMA, small)
    assert valid.bytes(SCHEMA) == text_bytes(small)
