"""Persisted operations: Apollo's automatic persisted queries (an in-memory store of documents
by sha256, bounded by bytes) and, optionally, trusted documents: only the operations shipped in
`graphql/operations/*.graphql` may run (shipped in the package as `server/operations`).

Partners' registered operations (server/manifests.py) are found by their hash as well, and pass
here whatever the trusted list; which client may run which is the operation gate's to decide
(schema/clients.py), as only it knows the client."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cachetools import LRUCache

from resolvers.errors import ApiError, BadUserInput
from schema.clients import OperationNotTrusted
from schema.documents import cacheable, document_id, text_bytes

# A link to graphql/operations in the checkout, a copy in an installed package (its package data).
OPERATIONS_DIR = Path(__file__).parent / "operations"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_DIGEST_BYTES = text_bytes("0" * 64)


class PersistedQueryNotFound(ApiError):
    code = "PERSISTED_QUERY_NOT_FOUND"


class PersistedQueryNotSupported(ApiError):
    code = "PERSISTED_QUERY_NOT_SUPPORTED"


def load_trusted(directory: Path = OPERATIONS_DIR) -> dict[str, str]:
    """The trusted documents by the sha256 of each file's exact text; none is a setup error, not a
    server that refuses every operation."""
    documents = {document_id(text): text for text in (path.read_text() for path in sorted(directory.glob("*.graphql")))}
    if not documents:
        raise RuntimeError(f"RACEWIRE_TRUSTED_DOCUMENTS=true, but there are no *.graphql operations in {directory}")
    return documents


class PersistedQueries:
    def __init__(
        self,
        *,
        enabled: bool = True,
        max_bytes: int = 8 * 1024 * 1024,
        trusted: Mapping[str, str] | None = None,
        registered: Mapping[str, str] | None = None,
    ) -> None:
        self.enabled = enabled
        self.trusted = trusted
        self.registered = dict(registered or {})
        self._store: LRUCache[str, str] = LRUCache(max_bytes, getsizeof=_entry_bytes)

    @property
    def bytes(self) -> int:
        return int(self._store.currsize)

    def resolve(self, query: str | None, extensions: Mapping[str, Any] | None) -> str | None:
        """The document to run, or raises the typed error the client gets instead."""
        persisted = (extensions or {}).get("persistedQuery")
        if persisted is None:
            if self.trusted is not None and query is not None and not self._is_trusted(document_id(query)):
                raise OperationNotTrusted("only trusted (persisted) operations may run on this server")
            return query
        if not self.enabled and self.trusted is None and not self.registered:
            raise PersistedQueryNotSupported("PersistedQueryNotSupported")
        digest = _hash_of(persisted)
        if query is None:
            return self._lookup(digest)
        if document_id(query) != digest:
            raise BadUserInput("provided sha does not match query", field="sha256Hash")
        if self.trusted is not None:
            if not self._is_trusted(digest):
                raise OperationNotTrusted("only trusted (persisted) operations may run on this server")
            return query
        if self.enabled:
            self._remember(digest, query)
        return query

    def _is_trusted(self, digest: str) -> bool:
        return (self.trusted is not None and digest in self.trusted) or digest in self.registered

    def _lookup(self, digest: str) -> str:
        found = self.registered.get(digest)
        if found is None:
            found = self.trusted.get(digest) if self.trusted is not None else self._store.get(digest)
        if found is None:
            raise PersistedQueryNotFound("PersistedQueryNotFound")
        return found

    def _remember(self, digest: str, query: str) -> None:
        # One over the size is run but not kept: its client is told PersistedQueryNotFound next
        # time and sends the document again, as Apollo's protocol expects.
        if cacheable(query):
            self._store[digest] = query


def _entry_bytes(query: str) -> int:
    return _DIGEST_BYTES + text_bytes(query)


def _hash_of(persisted: object) -> str:
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise BadUserInput("persistedQuery must be {version: 1, sha256Hash}", field="persistedQuery")
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or not _SHA256.match(digest):
        raise BadUserInput("sha256Hash must be 64 lowercase hex digits", field="sha256Hash")
    return digest
