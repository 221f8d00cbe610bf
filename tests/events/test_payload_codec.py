"""The payload codec: every record round-trips through the stored form, which has snake_case keys
only; the camelCase form of payloads written before it reads as the same record; anything else is
refused with BadPayload."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from events import codec
from events.payloads import (
    Conflated,
    HeldPrice,
    MarketFreshness,
    NewsPosted,
    NotificationPosted,
    OddsChanged,
    Payload,
    PriceChange,
    RaceStatusChanged,
    RunnerScratched,
    SnapshotMark,
    SourcedPrice,
    SourceFreshness,
    StalePrice,
)

AT = datetime(2026, 3, 1, 12, 30, 15, 250_000, tzinfo=UTC)
ISO = AT.isoformat()

# Each record beside its payload as the version before the codec stored and published it.
OLD_FORMS: list[tuple[str, Payload, dict[str, Any]]] = [
    (
        "odds",
        OddsChanged(7, "betfair", AT, (PriceChange(71, 2.5), PriceChange(72, 4.0))),
        {
            "raceId": 7,
            "source": "betfair",
            "observedAt": ISO,
            "prices": [{"runnerId": 71, "decimal": 2.5}, {"runnerId": 72, "decimal": 4}],
        },
    ),
    (
        "feed",
        MarketFreshness(7, "bet365", "STALE", True, False, (HeldPrice(71, 3.0, AT),)),
        {
            "raceId": 7,
            "source": "bet365",
            "status": "STALE",
            "stale": True,
            "marketStale": False,
            "prices": [{"runnerId": 71, "decimal": 3.0, "observedAt": ISO}],
        },
    ),
    ("feed", SourceFreshness("bet365", "LIVE", AT), {"source": "bet365", "status": "LIVE", "lastSeenAt": ISO}),
    ("feed", SourceFreshness("new", "STALE", None), {"source": "new", "status": "STALE", "lastSeenAt": None}),
    ("scratch", RunnerScratched(7, 72), {"raceId": 7, "runnerId": 72}),
    (
        "status",
        RaceStatusChanged(7, "RESULTED", "OFF", (72, 71)),
        {"raceId": 7, "status": "RESULTED", "previous": "OFF", "result": [72, 71]},
    ),
    (
        "status",
        RaceStatusChanged(7, "BETTING_OPEN", "SCHEDULED", None),
        {"raceId": 7, "status": "BETTING_OPEN", "previous": "SCHEDULED", "result": None},
    ),
    ("news", NewsPosted(3, ("going", "ascot"), (7,)), {"newsId": 3, "tags": ["going", "ascot"], "raceIds": [7]}),
    (
        "notification",
        NotificationPosted(5, 2, "PRICE_LEVEL", 7, 71, 6.0, None, None, "Horse 1 is 6.0", AT, False),
        {
            "id": 5,
            "alertId": 2,
            "kind": "PRICE_LEVEL",
            "raceId": 7,
            "runnerId": 71,
            "price": 6.0,
            "status": None,
            "newsId": None,
            "message": "Horse 1 is 6.0",
            "createdAt": ISO,
            "read": False,
        },
    ),
]
ONLY_NEW: list[Payload] = [
    Conflated(3, (SourcedPrice(71, "betfair", 2.5, AT, stale=True),), (72,), None),
    SnapshotMark(),
]


def keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys(v)}
    return set()


@pytest.mark.parametrize("record", [r for _, r, _ in OLD_FORMS] + ONLY_NEW, ids=lambda r: type(r).__name__)
def test_every_record_round_trips_through_a_snake_case_form(record: Payload) -> None:
    stored = codec.encode(record)
    assert codec.decode(codec.kind_of(record), stored) == record
    assert all(key == key.lower() for key in keys(stored)), stored


@pytest.mark.parametrize(("kind", "record", "old"), OLD_FORMS, ids=lambda v: v if isinstance(v, str) else "")
def test_the_old_camel_case_form_reads_as_the_same_record(kind: str, record: Payload, old: dict[str, Any]) -> None:
    assert codec.decode(kind, old) == record
    assert codec.kind_of(record) == kind
    # What is written now is the new form, not the old one given back.
    assert codec.encode(record) != old


def test_the_new_form_is_written_as_documented() -> None:
    assert codec.encode(OLD_FORMS[0][1]) == {
        "race_id": 7,
        "source": "betfair",
        "observed_at": ISO,
        "prices": [{"runner_id": 71, "decimal": 2.5}, {"runner_id": 72, "decimal": 4.0}],
    }


def test_a_store_outcomes_prices_read_in_both_forms() -> None:
    change, stale = PriceChange(71, 2.5), StalePrice(72, 3.0, AT)
    assert codec.decode_price_change({"runnerId": 71, "decimal": 2.5}) == change
    assert codec.decode_price_change(codec.encode_price_change(change)) == change
    assert codec.decode_stale_price({"runnerId": 72, "decimal": 3.0, "currentObservedAt": ISO}) == stale
    assert codec.decode_stale_price(codec.encode_stale_price(stale)) == stale


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("odds", {}),
        ("odds", {"race_id": 7, "source": "b", "observed_at": "yesterday", "prices": []}),
        ("odds", {"race_id": "7", "source": "b", "observed_at": ISO, "prices": []}),
        ("odds", {"race_id": 7, "source": "b", "observed_at": ISO, "prices": [{"runner_id": 1, "decimal": "2.5"}]}),
        ("odds", {"race_id": 7, "source": "b", "observed_at": ISO, "prices": [{"runner_id": True, "decimal": 2.5}]}),
        ("odds", {"race_id": 7, "source": "b", "observed_at": ISO, "prices": None}),
        ("scratch", {"race_id": 7}),
        ("status", {"race_id": 7, "status": None}),
        ("feed", {"race_id": 7, "source": "b", "status": "STALE", "stale": "yes", "market_stale": False, "prices": []}),
        ("news", {"news_id": 1, "tags": "ab"}),
        ("never-a-kind", {"race_id": 7}),
    ],
)
def test_a_payload_that_is_not_its_kinds_record_is_refused(kind: str, data: dict[str, Any]) -> None:
    with pytest.raises(codec.BadPayload):
        codec.decode(kind, data)
