"""Convert decimal odds into the fractional, American and probability forms shown on race cards.

Fractional prices snap to the nearest entry on the traditional UK bookmakers' ladder. A price more
than 2% (relative) away from its nearest ladder entry falls back to the closest simple fraction,
``Fraction(decimal - 1).limit_denominator(20)``: 2.05 -> "21/20", 113.0 -> "112/1".
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

_MIN_DECIMAL = 1.0  # exclusive: 1.0 pays nothing back, so it is not a price
_MAX_DECIMAL = 1000.0
_LADDER_TOLERANCE = Fraction(2, 100)
_FALLBACK_MAX_DENOMINATOR = 20

# Shortest price first; min() keeps the first of equal candidates, which makes ties go short.
# Pairs are kept as bookmakers quote them (4/6 rather than 2/3, 85/40 rather than 17/8).
# The odds-on side between 1/5 and evens is the traditional ladder, not a strict mirror of the
# odds-against side (there is no 5/9, 5/8, 5/7 or 40/85).
_LADDER: tuple[tuple[int, int], ...] = (
    (1, 999),
    (1, 750),
    (1, 500),
    (1, 400),
    (1, 300),
    (1, 250),
    (1, 200),
    (1, 150),
    (1, 125),
    (1, 100),
    (1, 80),
    (1, 66),
    (1, 50),
    (1, 40),
    (1, 33),
    (1, 28),
    (1, 25),
    (1, 22),
    (1, 20),
    (1, 18),
    (1, 16),
    (1, 14),
    (1, 12),
    (1, 11),
    (1, 10),
    (1, 9),
    (2, 17),
    (1, 8),
    (2, 15),
    (1, 7),
    (2, 13),
    (1, 6),
    (2, 11),
    (1, 5),
    (2, 9),
    (1, 4),
    (2, 7),
    (3, 10),
    (1, 3),
    (4, 11),
    (2, 5),
    (4, 9),
    (1, 2),
    (8, 15),
    (4, 7),
    (8, 13),
    (4, 6),
    (8, 11),
    (4, 5),
    (5, 6),
    (10, 11),
    (1, 1),
    (11, 10),
    (6, 5),
    (5, 4),
    (11, 8),
    (7, 5),
    (6, 4),
    (8, 5),
    (13, 8),
    (7, 4),
    (9, 5),
    (15, 8),
    (2, 1),
    (85, 40),
    (9, 4),
    (5, 2),
    (11, 4),
    (3, 1),
    (10, 3),
    (7, 2),
    (4, 1),
    (9, 2),
    (5, 1),
    (11, 2),
    (6, 1),
    (13, 2),
    (7, 1),
    (15, 2),
    (8, 1),
    (17, 2),
    (9, 1),
    (10, 1),
    (11, 1),
    (12, 1),
    (14, 1),
    (16, 1),
    (18, 1),
    (20, 1),
    (22, 1),
    (25, 1),
    (28, 1),
    (33, 1),
    (40, 1),
    (50, 1),
    (66, 1),
    (80, 1),
    (100, 1),
    (125, 1),
    (150, 1),
    (200, 1),
    (250, 1),
    (300, 1),
    (400, 1),
    (500, 1),
    (750, 1),
    (999, 1),
)


@functools.lru_cache(maxsize=4096)  # ~0.4 ms a call (the ladder in Fractions), ten a price update
def to_fractional(decimal: float) -> str:
    """Return the fractional price for ``decimal``, e.g. 2.5 -> "6/4", 2.0 -> "1/1"."""
    price = _validated(decimal)
    entry = min(_LADDER, key=lambda candidate: abs(price - _ladder_decimal(candidate)))
    entry_decimal = _ladder_decimal(entry)
    if abs(price - entry_decimal) > _LADDER_TOLERANCE * entry_decimal:
        simple = (price - 1).limit_denominator(_FALLBACK_MAX_DENOMINATOR)
        return f"{simple.numerator}/{simple.denominator}"
    numerator, denominator = entry
    return f"{numerator}/{denominator}"


def to_american(decimal: float) -> str:
    """Return the American (moneyline) price for ``decimal``, e.g. 2.5 -> "+150", 1.91 -> "-110"."""
    profit = _validated(decimal) - 1
    if profit >= 1:
        return f"+{round(profit * 100)}"
    return f"-{round(100 / profit)}"


def implied_probability(decimal: float) -> float:
    """Return the bookmaker's implied win probability, ``1 / decimal`` rounded to 4 places."""
    _validated(decimal)
    return round(1 / float(decimal), 4)


def _ladder_decimal(entry: tuple[int, int]) -> Fraction:
    numerator, denominator = entry
    return 1 + Fraction(numerator, denominator)


def _validated(decimal: float) -> Fraction:
    if not math.isfinite(decimal) or not _MIN_DECIMAL < decimal <= _MAX_DECIMAL:
        bounds = f"({_MIN_DECIMAL:g}, {_MAX_DECIMAL:g}]"
        raise ValueError(f"decimal odds must be finite and in {bounds}, got {decimal!r}")
    # Work from the price as quoted (its shortest repr), not the binary float, so that 2.225 sits
    # exactly halfway between 6/5 and 5/4 and the 2% boundary is exact.
    return Fraction(repr(float(decimal)))
