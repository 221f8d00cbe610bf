"""The one place an event's payload record (events/payloads.py) turns into its stored and wire form,
a JSON object with snake_case keys, and back.

Before this form, payloads were written with camelCase keys (`raceId`, `observedAt`, ...); `decode`
reads both, so an old row of the log replays after an upgrade and, during a rolling upgrade, a
message from a process of the older version is still understood. `encode` writes only the new form.
docs/architecture.md lists both forms."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

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

Json = dict[str, Any]


class BadPayload(ValueError):
    """A payload that is not the record its kind says (missing or ill-typed fields, an unknown kind)."""


KINDS: dict[type[Payload], str] = {
    OddsChanged: "odds",
    MarketFreshness: "feed",
    SourceFreshness: "feed",
    RunnerScratched: "scratch",
    RaceStatusChanged: "status",
    NewsPosted: "news",
    NotificationPosted: "notification",
    Conflated: "conflated",
    SnapshotMark: "snapshot",
}


def kind_of(payload: Payload) -> str:
    return KINDS[type(payload)]


def encode(payload: Payload) -> Json:
    """The stored and wire form: JSON types only, snake_case keys."""
    match payload:
        case OddsChanged():
            return {
                "race_id": payload.race_id,
                "source": payload.source,
                "observed_at": payload.observed_at.isoformat(),
                "prices": [encode_price_change(p) for p in payload.prices],
            }
        case MarketFreshness():
            return {
                "race_id": payload.race_id,
                "source": payload.source,
                "status": payload.status,
                "stale": payload.stale,
                "market_stale": payload.market_stale,
                "prices": [
                    {"runner_id": p.runner_id, "decimal": p.decimal, "observed_at": p.observed_at.isoformat()}
                    for p in payload.prices
                ],
            }
        case SourceFreshness():
            seen = payload.last_seen_at
            return {"source": payload.source, "status": payload.status, "last_seen_at": _iso(seen)}
        case RunnerScratched():
            return {"race_id": payload.race_id, "runner_id": payload.runner_id}
        case RaceStatusChanged():
            result = None if payload.result is None else list(payload.result)
            return {
                "race_id": payload.race_id,
                "status": payload.status,
                "previous": payload.previous,
                "result": result,
            }
        case NewsPosted():
            return {"news_id": payload.news_id, "tags": list(payload.tags), "race_ids": list(payload.race_ids)}
        case NotificationPosted():
            return {
                "id": payload.id,
                "alert_id": payload.alert_id,
                "kind": payload.kind,
                "race_id": payload.race_id,
                "runner_id": payload.runner_id,
                "price": payload.price,
                "status": payload.status,
                "news_id": payload.news_id,
                "message": payload.message,
                "created_at": payload.created_at.isoformat(),
                "read": payload.read,
            }
        case Conflated():
            return {
                "seq_from": payload.seq_from,
                "prices": [
                    {
                        "runner_id": p.runner_id,
                        "source": p.source,
                        "decimal": p.decimal,
                        "observed_at": p.observed_at.isoformat(),
                        "stale": p.stale,
                    }
                    for p in payload.prices
                ],
                "scratched": list(payload.scratched),
                "market_stale": payload.market_stale,
            }
        case SnapshotMark():
            return {}
    raise BadPayload(f"not a payload record: {type(payload).__name__}")


def decode(kind: str, data: Mapping[str, Any]) -> Payload:
    """The record of a `kind` event from its stored or wire form, new (snake_case) or old
    (camelCase); raises BadPayload for anything else."""
    decoder = _DECODERS.get(kind)
    if decoder is None:
        raise BadPayload(f"unknown event kind {kind!r}")
    try:
        return decoder(data)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise BadPayload(f"a {kind} payload that does not read: {error!r}") from None


def encode_price_change(change: PriceChange) -> Json:
    return {"runner_id": change.runner_id, "decimal": change.decimal}


def decode_price_change(data: Mapping[str, Any]) -> PriceChange:
    return PriceChange(_int(_field(data, "runner_id", "runnerId")), _float(data["decimal"]))


def encode_stale_price(stale: StalePrice) -> Json:
    return {
        "runner_id": stale.runner_id,
        "decimal": stale.decimal,
        "current_observed_at": stale.current_observed_at.isoformat(),
    }


def decode_stale_price(data: Mapping[str, Any]) -> StalePrice:
    return StalePrice(
        _int(_field(data, "runner_id", "runnerId")),
        _float(data["decimal"]),
        _time(_field(data, "current_observed_at", "currentObservedAt")),
    )


def _field(data: Mapping[str, Any], name: str, old_name: str) -> Any:
    """A field by its name, or by the camelCase name of payloads written before it."""
    return data[name] if name in data else data[old_name]


def _optional(data: Mapping[str, Any], name: str, old_name: str) -> Any:
    return data[name] if name in data else data.get(old_name)


def _int(value: Any) -> int:
    if type(value) is not int:
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def _float(value: Any) -> float:
    if type(value) not in (int, float):
        raise TypeError(f"expected a number, got {value!r}")
    return float(value)


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected a boolean, got {value!r}")
    return value


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {value!r}")
    return value


def _time(value: Any) -> datetime:
    return datetime.fromisoformat(_str(value))


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _odds(data: Mapping[str, Any]) -> OddsChanged:
    return OddsChanged(
        race_id=_int(_field(data, "race_id", "raceId")),
        source=_str(data["source"]),
        observed_at=_time(_field(data, "observed_at", "observedAt")),
        prices=tuple(decode_price_change(p) for p in _list(data["prices"])),
    )


def _feed(data: Mapping[str, Any]) -> MarketFreshness | SourceFreshness:
    # One kind on two streams: a race's odds stream (the event names the race) and the feeds stream.
    if "race_id" not in data and "raceId" not in data:
        seen = _optional(data, "last_seen_at", "lastSeenAt")
        return SourceFreshness(_str(data["source"]), _str(data["status"]), None if seen is None else _time(seen))
    return MarketFreshness(
        race_id=_int(_field(data, "race_id", "raceId")),
        source=_str(data["source"]),
        status=_str(data["status"]),
        stale=_bool(data["stale"]),
        market_stale=_bool(_field(data, "market_stale", "marketStale")),
        prices=tuple(
            HeldPrice(
                _int(_field(p, "runner_id", "runnerId")),
                _float(p["decimal"]),
                _time(_field(p, "observed_at", "observedAt")),
            )
            for p in _list(data["prices"])
        ),
    )


def _scratch(data: Mapping[str, Any]) -> RunnerScratched:
    return RunnerScratched(_int(_field(data, "race_id", "raceId")), _int(_field(data, "runner_id", "runnerId")))


def _status(data: Mapping[str, Any]) -> RaceStatusChanged:
    previous, result = data.get("previous"), data.get("result")
    return RaceStatusChanged(
        race_id=_int(_field(data, "race_id", "raceId")),
        status=_str(data["status"]),
        previous=None if previous is None else _str(previous),
        result=None if result is None else tuple(_int(r) for r in _list(result)),
    )


def _news(data: Mapping[str, Any]) -> NewsPosted:
    return NewsPosted(
        news_id=_int(_field(data, "news_id", "newsId")),
        tags=tuple(_str(t) for t in _list(data["tags"])),
        race_ids=tuple(_int(r) for r in _list(_optional(data, "race_ids", "raceIds") or [])),
    )


def _notification(data: Mapping[str, Any]) -> NotificationPosted:
    runner, news, price, status = (
        _optional(data, "runner_id", "runnerId"),
        _optional(data, "news_id", "newsId"),
        data.get("price"),
        data.get("status"),
    )
    return NotificationPosted(
        id=_int(data["id"]),
        alert_id=_int(_field(data, "alert_id", "alertId")),
        kind=_str(data["kind"]),
        race_id=_int(_field(data, "race_id", "raceId")),
        runner_id=None if runner is None else _int(runner),
        price=None if price is None else _float(price),
        status=None if status is None else _str(status),
        news_id=None if news is None else _int(news),
        message=_str(data["message"]),
        created_at=_time(_field(data, "created_at", "createdAt")),
        read=_bool(data["read"]),
    )


def _conflated(data: Mapping[str, Any]) -> Conflated:
    stale = _optional(data, "market_stale", "marketStale")
    return Conflated(
        seq_from=_int(_field(data, "seq_from", "seqFrom")),
        prices=tuple(
            SourcedPrice(
                _int(_field(p, "runner_id", "runnerId")),
                _str(p["source"]),
                _float(p["decimal"]),
                _time(_field(p, "observed_at", "observedAt")),
                _bool(p.get("stale", False)),
            )
            for p in _list(data["prices"])
        ),
        scratched=tuple(_int(r) for r in _list(data["scratched"])),
        market_stale=None if stale is None else _bool(stale),
    )


def _snapshot(data: Mapping[str, Any]) -> SnapshotMark:
    return SnapshotMark()


_DECODERS: dict[str, Callable[[Mapping[str, Any]], Payload]] = {
    "odds": _odds,
    "feed": _feed,
    "scratch": _scratch,
    "status": _status,
    "news": _news,
    "notification": _notification,
    "conflated": _conflated,
    "snapshot": _snapshot,
}
