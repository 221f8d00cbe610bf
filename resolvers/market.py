"""A race's market from its current quotes: best price per runner, favourite, overround."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from storage.models import CurrentPrice, Runner


@dataclass(frozen=True)
class Quote:
    runner_id: int
    source: str
    decimal: float
    observed_at: datetime
    stale: bool = False  # its source is stale


@dataclass(frozen=True)
class Market:
    race_id: int
    best: tuple[Quote, ...]
    favourite_runner_id: int | None
    overround: float | None
    updated_at: datetime | None
    stale: bool = False  # priced, and every source quoting it is stale


def quotes(rows: Iterable[tuple[CurrentPrice, str, bool]]) -> list[Quote]:
    return [Quote(p.runner_id, code, p.decimal, p.observed_at, bool(stale)) for p, code, stale in rows]


def build_market(race_id: int, runners: Iterable[Runner], current: Iterable[Quote]) -> Market:
    """Best prices and favourite from live sources only: a stale source's quote is not a price
    anyone can be sure to get."""
    running = {r.id for r in runners if not r.scratched}
    best: dict[int, Quote] = {}
    stale = False
    for quote in current:
        if quote.runner_id not in running:
            continue
        if quote.stale:
            stale = True
            continue
        held = best.get(quote.runner_id)
        if held is None or quote.decimal > held.decimal:
            best[quote.runner_id] = quote
    ordered = tuple(sorted(best.values(), key=lambda q: (q.decimal, q.runner_id)))
    return Market(
        race_id=race_id,
        best=ordered,
        favourite_runner_id=ordered[0].runner_id if ordered else None,
        # Book percentage over the best prices: under 100 means a punter could back every runner at a profit.
        overround=round(sum(100.0 / q.decimal for q in ordered), 2) if ordered else None,
        updated_at=max((q.observed_at for q in ordered), default=None),
        stale=stale and not ordered,
    )
