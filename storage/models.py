"""The tables: race cards, prices with full history, the event log and news."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

# SQLite only auto-increments INTEGER PRIMARY KEY columns.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, also on SQLite, which stores no zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[type, TypeEngine[Any]]] = {datetime: UtcDateTime()}


class RaceStatus(enum.Enum):
    SCHEDULED = "SCHEDULED"
    BETTING_OPEN = "BETTING_OPEN"
    SUSPENDED = "SUSPENDED"
    OFF = "OFF"
    FINISHED = "FINISHED"
    RESULTED = "RESULTED"
    ABANDONED = "ABANDONED"


class Meeting(Base):
    __tablename__ = "meetings"
    __table_args__ = (UniqueConstraint("venue", "date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    venue: Mapped[str] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(2))
    date: Mapped[date] = mapped_column(Date, index=True)
    going: Mapped[str | None] = mapped_column(String(40))


class Race(Base):
    __tablename__ = "races"
    __table_args__ = (
        UniqueConstraint("meeting_id", "number"),
        Index("ix_races_post_time_id", "post_time", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    post_time: Mapped[datetime]
    distance_m: Mapped[int] = mapped_column(Integer)
    status: Mapped[RaceStatus] = mapped_column(
        Enum(RaceStatus, name="race_status", native_enum=False, length=20),
        default=RaceStatus.SCHEDULED,
    )
    # Runner ids in finishing order, set when the race is resulted.
    result: Mapped[list[int] | None] = mapped_column(JSON)


class Runner(Base):
    __tablename__ = "runners"
    __table_args__ = (UniqueConstraint("race_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    race_id: Mapped[int] = mapped_column(ForeignKey("races.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    horse: Mapped[str] = mapped_column(String(100))
    jockey: Mapped[str | None] = mapped_column(String(100))
    trainer: Mapped[str | None] = mapped_column(String(100))
    draw: Mapped[int | None] = mapped_column(Integer)
    weight_kg: Mapped[float | None] = mapped_column(Float)
    scratched: Mapped[bool] = mapped_column(Boolean, default=False)


class PriceSource(Base):
    __tablename__ = "price_sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    # Feed health: every accepted call is a heartbeat; silent too long, the source is stale.
    last_seen_at: Mapped[datetime | None] = mapped_column(default=None)
    stale: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    status_changed_at: Mapped[datetime | None] = mapped_column(default=None)


class Price(Base):
    """Every accepted quote, kept for history."""

    __tablename__ = "prices"
    __table_args__ = (Index("ix_prices_runner_observed", "runner_id", "observed_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    race_id: Mapped[int] = mapped_column(ForeignKey("races.id"))
    runner_id: Mapped[int] = mapped_column(ForeignKey("runners.id"))
    source_id: Mapped[int] = mapped_column(ForeignKey("price_sources.id"))
    decimal: Mapped[float] = mapped_column(Float)
    observed_at: Mapped[datetime]
    stored_at: Mapped[datetime]


class CurrentPrice(Base):
    """The newest quote per runner and source: the market is read from here."""

    __tablename__ = "current_prices"
    __table_args__ = (Index("ix_current_prices_race", "race_id"),)

    runner_id: Mapped[int] = mapped_column(ForeignKey("runners.id"), primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("price_sources.id"), primary_key=True)
    race_id: Mapped[int] = mapped_column(ForeignKey("races.id"))
    decimal: Mapped[float] = mapped_column(Float)
    observed_at: Mapped[datetime]


class Stream(Base):
    """The head of one event stream; bumping it hands out the next `seq`."""

    __tablename__ = "streams"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)


class Event(Base):
    """The stored event log: the truth that live delivery and replay are read from."""

    __tablename__ = "events"

    stream: Mapped[str] = mapped_column(String(60), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    payload: Mapped[dict[str, object]] = mapped_column(JSON)
    created_at: Mapped[datetime]


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    # Whose key it is, a token's subject ('' for the server's own writes): one writer's key never
    # answers another's call.
    subject: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict[str, object]] = mapped_column(JSON)
    created_at: Mapped[datetime]


news_races = Table(
    "news_races",
    Base.metadata,
    Column("news_id", ForeignKey("news.id"), primary_key=True),
    Column("race_id", ForeignKey("races.id"), primary_key=True, index=True),
)

news_tags = Table(
    "news_tags",
    Base.metadata,
    Column("news_id", ForeignKey("news.id"), primary_key=True),
    Column("tag", String(40), primary_key=True, index=True),
)


class NewsArticle(Base):
    __tablename__ = "news"
    __table_args__ = (Index("ix_news_published_id", "published_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    headline: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime]


class AlertKind(enum.Enum):
    PRICE_LEVEL = "PRICE_LEVEL"
    PRICE_MOVE = "PRICE_MOVE"
    RACE_STATUS = "RACE_STATUS"
    SCRATCHED = "SCRATCHED"
    NEWS = "NEWS"


class Alert(Base):
    """A user's standing request to be told when something happens to a runner or race.

    `armed` is claimed with a conditional UPDATE, so an alert fires once per crossing even
    with several processes evaluating it; `reference` is a move alert's base price."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_runner_kind", "runner_id", "kind"),
        Index("ix_alerts_race_kind", "race_id", "kind"),
        Index("ix_alerts_user_id", "user", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user: Mapped[str] = mapped_column(String(200))
    kind: Mapped[AlertKind] = mapped_column(Enum(AlertKind, name="alert_kind", native_enum=False, length=20))
    race_id: Mapped[int] = mapped_column(ForeignKey("races.id"))
    runner_id: Mapped[int | None] = mapped_column(ForeignKey("runners.id"))
    above: Mapped[bool | None] = mapped_column(Boolean)
    level: Mapped[float | None] = mapped_column(Float)
    percent: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str | None] = mapped_column(String(20))
    reference: Mapped[float | None] = mapped_column(Float)
    armed: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    fired_at: Mapped[datetime | None]


class Notification(Base):
    """One firing of an alert, kept in its user's inbox."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_created", "user", "created_at", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user: Mapped[str] = mapped_column(String(200))
    # No foreign key: the inbox outlives a deleted alert.
    alert_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[AlertKind] = mapped_column(Enum(AlertKind, name="alert_kind", native_enum=False, length=20))
    race_id: Mapped[int] = mapped_column(Integer)
    runner_id: Mapped[int | None] = mapped_column(Integer)
    price: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str | None] = mapped_column(String(20))
    news_id: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime]
    read: Mapped[bool] = mapped_column(Boolean, default=False)
