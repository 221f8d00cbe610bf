"""The most items each list argument and input list field takes (docs/limits.md's table). A
list past its bound is refused before any of it is read or stored: it would otherwise cost time in
proportion to its length, or overflow the database's bind parameters (PostgreSQL takes 32,767)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from resolvers.errors import BadUserInput
from resolvers.news import (
    MAX_TAGS as MAX_TAGS,  # re-exported: tags of an article, and tags a `news` subscription follows
)

Item = TypeVar("Item")

MAX_FILTER_STATUSES = 7  # as many as there are statuses
MAX_MARK_READ = 1_000
MAX_NEWS_RACES = 50
MAX_MEETINGS = 50  # per loadRaceCards
MAX_RACES_PER_MEETING = 30
MAX_RUNNERS = 60  # per race card, and in a race's result


def bounded(items: Sequence[Item], *, limit: int, field: str) -> Sequence[Item]:
    if len(items) > limit:
        raise BadUserInput(f"{field}: at most {limit} items, got {len(items)}", field=field, limit=limit)
    return items
