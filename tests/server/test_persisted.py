"""The persisted-query store's refusals, one by one, without a server (the store's round trips and
the transports are in test_persisted_queries.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from resolvers.errors import ApiError, BadUserInput
from schema.documents import document_id as sha256
from server.persisted import (
    OperationNotTrusted,
    PersistedQueries,
    PersistedQueryNotFound,
    PersistedQueryNotSupported,
    load_trusted,
)

QUERY = "{ __typename }"


def apq(digest: object, version: object = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": digest}}


def test_a_plain_query_passes_through_untouched() -> None:
    store = PersistedQueries()
    assert store.resolve(QUERY, None) == QUERY and store.resolve(QUERY, {"other": 1}) == QUERY
    assert store.resolve(None, None) is None and store.bytes == 0


def test_with_persisted_queries_off_a_hash_is_not_supported() -> None:
    store = PersistedQueries(enabled=False)
    for query in (None, QUERY):
        with pytest.raises(PersistedQueryNotSupported) as raised:
            store.resolve(query, apq(sha256(QUERY)))
        assert raised.value.extensions == {"code": "PERSISTED_QUERY_NOT_SUPPORTED"}
    assert store.resolve(QUERY, None) == QUERY and store.bytes == 0


@pytest.mark.parametrize(
    "persisted",
    [
        "a string",
        {"sha256Hash": sha256(QUERY)},
        apq(sha256(QUERY), version=2)["persistedQuery"],
        apq(sha256(QUERY).upper())["persistedQuery"],
        apq(sha256(QUERY)[:-1])["persistedQuery"],
        apq(12345)["persistedQuery"],
        apq(None)["persistedQuery"],
    ],
)
def test_a_malformed_persisted_query_is_bad_user_input(persisted: object) -> None:
    store = PersistedQueries()
    with pytest.raises(BadUserInput) as raised:
        store.resolve(QUERY, {"persistedQuery": persisted})
    assert raised.value.extensions["code"] == "BAD_USER_INPUT"
    assert raised.value.extensions["field"] in {"persistedQuery", "sha256Hash"}
    assert store.bytes == 0


def test_a_hash_that_does_not_match_is_not_kept() -> None:
    store = PersistedQueries()
    with pytest.raises(BadUserInput, match="does not match"):
        store.resolve(QUERY, apq(sha256("{ other }")))
    with pytest.raises(PersistedQueryNotFound):
        store.resolve(None, apq(sha256("{ other }")))
    assert store.bytes == 0


def test_trusted_documents_come_from_the_directory_given(tmp_path: Path) -> None:
    (tmp_path / "One.graphql").write_text("query One { __typename }\n")
    (tmp_path / "notes.txt").write_text("{ notAnOperation }")
    trusted = load_trusted(tmp_path)
    assert trusted == {sha256("query One { __typename }\n"): "query One { __typename }\n"}
    store = PersistedQueries(enabled=False, trusted=trusted)  # trusted documents work with APQ off
    assert store.resolve(None, apq(sha256("query One { __typename }\n"))) == "query One { __typename }\n"
    with pytest.raises(OperationNotTrusted) as raised:
        store.resolve("{ notAnOperation }", None)
    assert isinstance(raised.value, ApiError) and raised.value.extensions == {"code": "OPERATION_NOT_TRUSTED"}


def test_no_trusted_documents_is_a_setup_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="RACEWIRE_TRUSTED_DOCUMENTS=true"):
        load_trusted(tmp_path)
