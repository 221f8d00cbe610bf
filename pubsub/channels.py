"""Channel names. A channel carries one stored event stream, so the names are shared."""

from __future__ import annotations

import hashlib

STATUS = "status"
NEWS = "news"
FEEDS = "feeds"  # price sources going stale and live again
_ODDS_PREFIX = "odds:"


def odds(race_id: int) -> str:
    return f"{_ODDS_PREFIX}{race_id}"


def race_of(channel: str) -> int | None:
    if channel.startswith(_ODDS_PREFIX):
        return int(channel[len(_ODDS_PREFIX) :])
    return None


_USER_PREFIX = "user:"


def user(subject: str) -> str:
    """A user's private notification stream. The subject is hashed: it may hold any
    character and any length, and a stream name is at most 60 characters."""
    return _USER_PREFIX + hashlib.sha256(subject.encode()).hexdigest()[:40]


DEFAULT_PREFIX = "racewire:"
_MAX_PREFIX = 64


class Namespace:
    """A deployment's channels on a shared broadcaster: every channel is its prefix followed by
    the stream's name (the log and the cursors keep the bare stream names)."""

    __slots__ = ("control", "ping", "prefix")

    def __init__(self, prefix: str = DEFAULT_PREFIX) -> None:
        if len(prefix) > _MAX_PREFIX or not all(c.isprintable() and not c.isspace() for c in prefix):
            raise ValueError(f"a channel prefix is at most {_MAX_PREFIX} printable characters without spaces")
        self.prefix = prefix
        self.control = prefix + "control"  # held subscribed by the Redis backend
        self.ping = prefix + "ping"  # published on by the readiness check

    def channel(self, stream: str) -> str:
        return self.prefix + stream
