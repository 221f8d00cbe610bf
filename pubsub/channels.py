"""Channel names. A channel carries one stored event stream, so the names are shared."""

from __future__ import annotations

import hashlib

STATUS = "status"
NEWS = "news"
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
