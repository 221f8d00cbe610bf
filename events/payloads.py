"""What an event says: one record per kind of event (an envelope's `payload`), in the use cases'
own names. events/codec.py turns them into the stored and wire form and back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class PriceChange:
    """A runner's price that a storeOdds call changed."""

    runner_id: int
    decimal: float


@dataclass(frozen=True, slots=True)
class StalePrice:
    """A quote not stored: it was observed before the one held (observed at `current_observed_at`)."""

    runner_id: int
    decimal: float
    current_observed_at: datetime


@dataclass(frozen=True, slots=True)
class OddsChanged:
    """Kind "odds": the prices one call of a source changed in a race."""

    race_id: int
    source: str
    observed_at: datetime
    prices: tuple[PriceChange, ...]


@dataclass(frozen=True, slots=True)
class HeldPrice:
    """A price as a source last quoted it."""

    runner_id: int
    decimal: float
    observed_at: datetime


@dataclass(frozen=True, slots=True)
class MarketFreshness:
    """Kind "feed" on a race's odds stream: a source of the race went STALE or came back LIVE;
    `prices` are its quotes in the race, `market_stale` whether every source of the race is now stale."""

    race_id: int
    source: str
    status: str
    stale: bool
    market_stale: bool
    prices: tuple[HeldPrice, ...]


@dataclass(frozen=True, slots=True)
class SourceFreshness:
    """Kind "feed" on the feeds stream: a source went STALE or came back LIVE."""

    source: str
    status: str
    last_seen_at: datetime | None


@dataclass(frozen=True, slots=True)
class RunnerScratched:
    """Kind "scratch"."""

    race_id: int
    runner_id: int


@dataclass(frozen=True, slots=True)
class RaceStatusChanged:
    """Kind "status"; `result` is the finishing order once the race has one."""

    race_id: int
    status: str
    previous: str | None
    result: tuple[int, ...] | None


@dataclass(frozen=True, slots=True)
class NewsPosted:
    """Kind "news"."""

    news_id: int
    tags: tuple[str, ...]
    race_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class NotificationPosted:
    """Kind "notification", on a user's own stream: an alert fired."""

    id: int
    alert_id: int
    kind: str
    race_id: int
    runner_id: int | None
    price: float | None
    status: str | None
    news_id: int | None
    message: str
    created_at: datetime
    read: bool


@dataclass(frozen=True, slots=True)
class SourcedPrice:
    """A price with its own source and observation time, as a conflated event holds it."""

    runner_id: int
    source: str
    decimal: float
    observed_at: datetime
    stale: bool = False


@dataclass(frozen=True, slots=True)
class Conflated:
    """Kind "conflated" (made by a subscription, never stored): odds events `seq_from` up to the
    envelope's seq merged into the latest price per runner and source."""

    seq_from: int
    prices: tuple[SourcedPrice, ...]
    scratched: tuple[int, ...]
    market_stale: bool | None


@dataclass(frozen=True, slots=True)
class SnapshotMark:
    """Kind "snapshot" (made by a subscription, never stored): rebuild the current state."""


Payload = (
    OddsChanged
    | MarketFreshness
    | SourceFreshness
    | RunnerScratched
    | RaceStatusChanged
    | NewsPosted
    | NotificationPosted
    | Conflated
    | SnapshotMark
)
