"""Channel names. A channel carries one stored event stream, so the names are shared."""

from __future__ import annotations

STATUS = "status"
NEWS = "news"
_ODDS_PREFIX = "odds:"


def odds(race_id: int) -> str:
    return f"{_ODDS_PREFIX}{race_id}"


def race_of(channel: str) -> int | None:
    if channel.startswith(_ODDS_PREFIX):
        return int(channel[len(_ODDS_PREFIX) :])
    return None
