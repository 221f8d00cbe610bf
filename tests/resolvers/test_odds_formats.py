from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from fractions import Fraction

import pytest

from resolvers.odds_formats import _LADDER, implied_probability, to_american, to_fractional


def _label(entry: tuple[int, int]) -> str:
    return f"{entry[0]}/{entry[1]}"


def _quoted(entry: tuple[int, int]) -> float:
    """The entry's decimal price as a site would quote it, to 2 dp."""
    return round(1 + entry[0] / entry[1], 2)


def _group_by_quoted_price() -> dict[float, list[str]]:
    groups: dict[float, list[str]] = defaultdict(list)
    for entry in _LADDER:
        groups[_quoted(entry)].append(_label(entry))
    return dict(groups)


# Ladder entries whose 2 dp quotes coincide, and which one the shared quote maps to (the nearest).
# At 1.00 the quote is not a valid price at all.
EXPECTED_COLLISIONS: dict[float, tuple[list[str], str | None]] = {
    1.0: (["1/999", "1/750", "1/500", "1/400", "1/300", "1/250", "1/200"], None),
    1.01: (["1/150", "1/125", "1/100", "1/80"], "1/100"),
    1.02: (["1/66", "1/50", "1/40"], "1/50"),
    1.04: (["1/28", "1/25"], "1/25"),
    1.05: (["1/22", "1/20"], "1/20"),
    1.06: (["1/18", "1/16"], "1/16"),
    1.12: (["2/17", "1/8"], "2/17"),
}

UNIQUELY_QUOTED_ENTRIES = [
    pytest.param(_quoted(entry), _label(entry), id=_label(entry))
    for entry in _LADDER
    if _quoted(entry) not in EXPECTED_COLLISIONS
]


@pytest.mark.parametrize(
    ("decimal", "expected"),
    [
        (2.0, "1/1"),
        (2.5, "6/4"),
        (1.91, "10/11"),
        (4.33, "10/3"),
        (3.5, "5/2"),
        (1.5, "1/2"),
        (1.67, "4/6"),
        (11.0, "10/1"),
        (34.0, "33/1"),
        (1000.0, "999/1"),
        (3.12, "85/40"),
        (1.0001, "1/999"),
    ],
)
def test_to_fractional_snaps_to_the_ladder(decimal: float, expected: str) -> None:
    assert to_fractional(decimal) == expected


def test_ladder_is_strictly_ascending_and_contains_evens() -> None:
    decimals = [1 + Fraction(n, d) for n, d in _LADDER]
    assert decimals == sorted(set(decimals))
    assert (1, 1) in _LADDER
    assert _LADDER[0] == (1, 999) and _LADDER[-1] == (999, 1)


@pytest.mark.parametrize(("decimal", "expected"), UNIQUELY_QUOTED_ENTRIES)
def test_every_uniquely_quoted_ladder_entry_round_trips(decimal: float, expected: str) -> None:
    assert to_fractional(decimal) == expected


def test_only_the_expected_ladder_entries_collide_at_two_decimal_places() -> None:
    collisions = {price: labels for price, labels in _group_by_quoted_price().items() if len(labels) > 1}
    assert collisions == {price: labels for price, (labels, _) in EXPECTED_COLLISIONS.items()}


@pytest.mark.parametrize(
    ("decimal", "expected"),
    [(price, winner) for price, (_, winner) in EXPECTED_COLLISIONS.items() if winner is not None],
)
def test_colliding_quote_maps_to_the_nearest_entry(decimal: float, expected: str) -> None:
    assert to_fractional(decimal) == expected


@pytest.mark.parametrize(
    ("decimal", "expected"),
    [
        (2.225, "6/5"),  # exactly between 6/5 (2.2) and 5/4 (2.25)
        (2.3875, "11/8"),  # exactly between 11/8 (2.375) and 7/5 (2.4)
        (1.01125, "1/100"),  # exactly between 1/100 (1.01) and 1/80 (1.0125)
    ],
)
def test_ties_go_to_the_shorter_price(decimal: float, expected: str) -> None:
    assert to_fractional(decimal) == expected


@pytest.mark.parametrize(
    ("decimal", "expected"),
    [
        (2.05, "21/20"),  # 2.5% from both 1/1 and 11/10
        (2.041, "21/20"),  # just over 2% from 1/1
        (2.3125, "21/16"),  # between 5/4 and 11/8
        (1.763, "13/17"),  # between 8/11 and 4/5
        (113.0, "112/1"),  # between 100/1 and 125/1
        (22.0, "21/1"),  # between 20/1 and 22/1
    ],
)
def test_off_ladder_price_falls_back_to_simplest_fraction(decimal: float, expected: str) -> None:
    assert to_fractional(decimal) == expected
    assert expected == _limit_denominator_20(decimal)


def test_fallback_starts_strictly_beyond_two_percent() -> None:
    assert to_fractional(2.04) == "1/1"  # exactly 2% from evens stays on the ladder
    assert to_fractional(2.041) == "21/20"


def test_price_within_two_percent_of_ladder_is_not_a_fallback() -> None:
    # 1.37 is only 0.47% from 4/11 (1.3636...), so it snaps instead of falling back to 7/19.
    assert to_fractional(1.37) == "4/11"
    assert _limit_denominator_20(1.37) == "7/19"


def _limit_denominator_20(decimal: float) -> str:
    simple = (Fraction(str(decimal)) - 1).limit_denominator(20)
    return f"{simple.numerator}/{simple.denominator}"


@pytest.mark.parametrize(
    ("decimal", "expected"),
    [
        (2.0, "+100"),
        (2.5, "+150"),
        (1.91, "-110"),
        (1.5, "-200"),
        (3.5, "+250"),
        (11.0, "+1000"),
        (1000.0, "+99900"),
        (1.25, "-400"),
        (1.01, "-10000"),
    ],
)
def test_to_american(decimal: float, expected: str) -> None:
    assert to_american(decimal) == expected


@pytest.mark.parametrize(
    ("decimal", "expected"),
    [
        (2.0, 0.5),
        (2.5, 0.4),
        (1.91, 0.5236),
        (3.0, 0.3333),
        (1.5, 0.6667),
        (1000.0, 0.001),
        (1.01, 0.9901),
    ],
)
def test_implied_probability(decimal: float, expected: float) -> None:
    assert implied_probability(decimal) == expected


@pytest.mark.parametrize(
    "decimal",
    [1.0, 0.5, 0.0, -2.0, 1000.01, 1e6, math.nan, math.inf, -math.inf],
)
@pytest.mark.parametrize("convert", [to_fractional, to_american, implied_probability])
def test_invalid_prices_are_rejected(convert: Callable[[float], object], decimal: float) -> None:
    with pytest.raises(ValueError, match="decimal odds"):
        convert(decimal)
