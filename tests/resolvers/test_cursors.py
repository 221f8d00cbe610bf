"""Cursors round-trip, and anything but a cursor the API returned is BAD_USER_INPUT on `after`."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest

from resolvers.cursors import decode_keyset, decode_positions, encode_keyset, encode_positions
from resolvers.errors import MAX_BIG_ID, MAX_ID, BadUserInput


def raw(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def test_positions_round_trip_in_any_order() -> None:
    positions = {"racewire:odds:7": 12, "racewire:status": 0, "racewire:news": MAX_BIG_ID}
    cursor = encode_positions(positions)
    assert decode_positions(cursor) == positions
    assert cursor == encode_positions(dict(reversed(positions.items())))  # sorted: one cursor per position
    assert "=" not in cursor and decode_positions(encode_positions({})) == {}


def test_keysets_round_trip_in_utc() -> None:
    at = datetime(2030, 5, 4, 13, 0, 17, 250_000, tzinfo=timezone(timedelta(hours=2)))
    decoded_at, row_id = decode_keyset(encode_keyset(at, 42))
    assert decoded_at == at and decoded_at.tzinfo == UTC and row_id == 42


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!",
        "not base64 at all ~",
        raw("k1|2030-05-04T13:00:00+00:00|1"),  # a keyset where positions are expected
        raw("p2|a=1"),
        raw("p1|a=b"),
        raw("p1|a=-1"),
        raw("p1|a=１"),  # a digit, but not an ASCII one
        raw("p1|a=" + "9" * 20),
        raw(f"p1|a={MAX_BIG_ID + 1}"),
        raw("p1|no-equals-sign"),
        base64.urlsafe_b64encode(b"p1|\xff\xfe").decode(),
    ],
)
def test_bad_positions_are_bad_user_input(cursor: str) -> None:
    with pytest.raises(BadUserInput) as raised:
        decode_positions(cursor)
    assert raised.value.extensions == {"code": "BAD_USER_INPUT", "field": "after"}


@pytest.mark.parametrize(
    "cursor",
    [
        raw("p1|a=1"),
        raw("k1|2030-05-04T13:00:00|1"),  # no time zone
        raw("k1|yesterday|1"),
        raw("k1|2030-05-04T13:00:00+00:00|x"),
        raw("k1|2030-05-04T13:00:00+00:00|"),
        raw(f"k1|2030-05-04T13:00:00+00:00|{MAX_ID + 1}"),
        raw("k1|2030-05-04T13:00:00+00:00"),
        raw("k1|0001-01-01T00:00:00+14:00|1"),  # out of range once in UTC
    ],
)
def test_bad_keysets_are_bad_user_input(cursor: str) -> None:
    with pytest.raises(BadUserInput) as raised:
        decode_keyset(cursor)
    assert raised.value.extensions["code"] == "BAD_USER_INPUT"


def test_a_keyset_id_is_bounded_by_the_column_it_continues() -> None:
    cursor = encode_keyset(datetime(2030, 1, 1, tzinfo=UTC), MAX_ID + 1)
    with pytest.raises(BadUserInput):
        decode_keyset(cursor)
    assert decode_keyset(cursor, max_id=MAX_BIG_ID)[1] == MAX_ID + 1
