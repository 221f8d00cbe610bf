"""Demo data: a deterministic day of UK and Irish racing around now, and bookmaker prices."""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from resolvers.errors import Conflict
from resolvers.race_cards import MeetingCard, RaceCard, RunnerCard, load_race_cards
from storage import races
from storage.database import Database

DEMO_SOURCES = ("bet365", "betfair", "paddypower", "williamhill", "skybet")


@dataclass(frozen=True)
class _Venue:
    name: str
    country: str
    jumps: bool
    goings: tuple[str, ...]


_VENUES = (
    _Venue("Cheltenham", "GB", True, ("Good to Soft", "Soft", "Good")),
    _Venue("Newmarket", "GB", False, ("Good to Firm", "Good")),
    _Venue("Leopardstown", "IE", True, ("Yielding", "Soft", "Good to Yielding")),
    _Venue("York", "GB", False, ("Good", "Good to Firm", "Good to Soft")),
    _Venue("Punchestown", "IE", True, ("Yielding to Soft", "Soft", "Heavy")),
    _Venue("Kempton", "GB", False, ("Standard", "Standard to Slow")),
    _Venue("Haydock", "GB", True, ("Good to Soft", "Soft", "Heavy")),
    _Venue("Curragh", "IE", False, ("Good", "Good to Yielding", "Yielding")),
)
_FLAT_FURLONGS = (5, 6, 7, 8, 10, 12, 14, 16)
_JUMPS_FURLONGS = (16, 17, 19, 20, 21, 23)
_FLAT_RACES = (
    "Maiden Stakes",
    "Novice Stakes",
    "Handicap",
    "Fillies' Handicap",
    "Classified Stakes",
    "Conditions Stakes",
    "Listed Stakes",
    "Apprentice Handicap",
)
_JUMPS_RACES = (
    "Maiden Hurdle",
    "Novices' Hurdle",
    "Handicap Hurdle",
    "Novices' Chase",
    "Handicap Chase",
    "Beginners' Chase",
    "Hunters' Chase",
    "National Hunt Flat Race",
)
_SPONSORS = (
    "Racewire",
    "Coral",
    "Betfair",
    "Sky Bet",
    "William Hill",
    "Paddy Power",
    "Tote",
    "Irish Stallion Farms",
    "Unibet",
    "BetVictor",
)
_HORSE_FIRST = (
    "Silver Golden Midnight Royal Desert Northern Celtic Crimson Brave Lucky Wild Misty "
    "Stormy Quiet Velvet Copper Frosty Hidden Dancing Flying Noble Highland Shannon Autumn "
    "Atlantic Bold Secret Cosmic Emerald Lunar Scarlet Winter Mighty Sandy Kilcash"
).split()
_HORSE_SECOND = (
    "Harbour Tempo Legend Arrow Spirit Warrior Dancer Rose Thunder Echo Lad Lass Prince "
    "Storm Bay Ridge Glen Crown Duke Flyer Gift Quest Venture Rebel Whisper Comet Falcon "
    "Meadow Rover Shadow Voyage Charm Empire Sovereign Gale Ranger Mist"
).split()
_FIRST_NAMES = (
    "Oisin Rachael Paddy Jack Harry Tom Sean Hollie William Ryan Rossa Danny Saffie "
    "Callum Jamie Kieren Billy Hayley Mark Rob Aidan Emma Nicky Gavin Lucinda Fergal "
    "Venetia Olly Noel Jessica"
).split()
_SURNAMES = (
    "Brennan Carey Doherty Fallon Gallagher Hennessy Keane Lynch Madden Nolan Quinlan Regan "
    "Sheehan Tierney Whelan Ashby Barker Cartwright Dawson Ellison Fairley Hartley Kendall "
    "Marsh Pickering Radley Stanton Thornton Wells Costello"
).split()
_METRES_PER_FURLONG = 201.168
_KG_PER_LB = 0.45359237


# The tour's race: next year's big race, whose ante-post market stays open for the demo's life.
# It is loaded before the day's cards, so on a fresh database it is race 1 with runners 1, 2, ...
FEATURE = _Venue("Aintree", "GB", True, ("Good to Soft",))
FEATURE_AHEAD = timedelta(weeks=52)


async def load_demo(*, db: Database, today: date | None = None, seed: int = 7, now: datetime | None = None) -> int:
    """Loads the demo day unless `today` already has meetings, and the ante-post feature race
    unless one is still ahead; returns how many races it added."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    day = today or now.date()
    async with db.read() as session:
        have_day = bool(await races.meetings_on(session, day))
        have_feature = bool(await races.meetings_from(session, day + timedelta(days=1)))
    cards: list[MeetingCard] = []
    if not have_feature:
        cards.append(feature_card(day=day, rng=random.Random(seed + 1)))
    if not have_day:
        cards.extend(demo_cards(day=day, anchor=datetime.combine(day, now.timetz()), rng=random.Random(seed)))
    if not cards:
        return 0
    try:
        await load_race_cards(db=db, cards=cards)
    except Conflict:
        return 0  # another process loaded the same day first
    return sum(len(card.races) for card in cards)


def feature_card(*, day: date, rng: random.Random) -> MeetingCard:
    """A one-race meeting a year ahead: a big field whose ante-post betting is open now."""
    post = datetime.combine(day + FEATURE_AHEAD, time(15, 0), tzinfo=UTC)
    runners = tuple(_runners(FEATURE, rng, set(), _people(rng, 16), _people(rng, 10), count=14))
    race = RaceCard(
        number=1, name="Racewire Grand National", post_time=post, distance_m=6907, runners=runners
    )  # 4m2f74y
    return MeetingCard(
        venue=FEATURE.name, country=FEATURE.country, date=post.date(), races=(race,), going=FEATURE.goings[0]
    )


def demo_cards(*, day: date, anchor: datetime, rng: random.Random) -> tuple[MeetingCard, ...]:
    """Four meetings whose first race is ~90 minutes before `anchor`, each starting a little later."""
    first = anchor.replace(minute=anchor.minute - anchor.minute % 5, second=0, microsecond=0)
    first -= timedelta(minutes=90)
    horses: set[str] = set()
    cards = []
    for venue in rng.sample(_VENUES, 4):
        cards.append(_meeting(venue, day, first, rng, horses))
        first += timedelta(minutes=rng.choice((10, 15, 20)))
    return tuple(cards)


def _meeting(venue: _Venue, day: date, first: datetime, rng: random.Random, horses: set[str]) -> MeetingCard:
    jockeys = _people(rng, 16)
    trainers = _people(rng, 10)
    post = first
    cards = []
    for number in range(1, rng.randint(6, 8) + 1):
        runners = tuple(_runners(venue, rng, horses, jockeys, trainers))
        furlongs = rng.choice(_JUMPS_FURLONGS if venue.jumps else _FLAT_FURLONGS)
        kind = rng.choice(_JUMPS_RACES if venue.jumps else _FLAT_RACES)
        cards.append(
            RaceCard(
                number=number,
                name=f"{rng.choice(_SPONSORS)} {kind}",
                post_time=post,
                distance_m=min(4800, round(furlongs * _METRES_PER_FURLONG)),
                runners=runners,
            )
        )
        post += timedelta(minutes=rng.choice((25, 30, 35)))
    return MeetingCard(
        venue=venue.name, country=venue.country, date=day, races=tuple(cards), going=rng.choice(venue.goings)
    )


def _runners(
    venue: _Venue,
    rng: random.Random,
    horses: set[str],
    jockeys: list[str],
    trainers: list[str],
    count: int | None = None,
) -> list[RunnerCard]:
    count = count or rng.randint(8, 14)
    low, high = (140, 166) if venue.jumps else (112, 136)  # 10st-11st12lb over jumps, 8st-9st10lb on the flat
    weights = sorted((rng.randint(low, high) for _ in range(count)), reverse=True)
    draws = rng.sample(range(1, count + 1), count)
    riders = rng.sample(jockeys, count)
    return [
        RunnerCard(
            number=n + 1,
            horse=_horse(rng, horses),
            jockey=riders[n],
            trainer=rng.choice(trainers),
            draw=None if venue.jumps else draws[n],
            weight_kg=round(weights[n] * _KG_PER_LB * 2) / 2,
        )
        for n in range(count)
    ]


def _horse(rng: random.Random, taken: set[str]) -> str:
    while True:
        name = f"{rng.choice(_HORSE_FIRST)} {rng.choice(_HORSE_SECOND)}"
        if name not in taken and name.split()[0] != name.split()[1]:
            taken.add(name)
            return name


def _people(rng: random.Random, count: int) -> list[str]:
    names: set[str] = set()
    while len(names) < count:
        names.add(f"{rng.choice(_FIRST_NAMES)} {rng.choice(_SURNAMES)}")
    return sorted(names)


# Prices: an exchange quotes on its tick ladder, bookmakers on the traditional fractional one.
Ladder = tuple[float, ...]
_TICKS = (
    (2.0, 0.01),
    (3.0, 0.02),
    (4.0, 0.05),
    (6.0, 0.1),
    (10.0, 0.2),
    (20.0, 0.5),
    (30.0, 1.0),
    (50.0, 2.0),
    (100.0, 5.0),
    (1000.0, 10.0),
)
_FRACTIONS = (
    "1/50 1/33 1/25 1/20 1/16 1/14 1/12 1/10 1/7 1/6 1/5 2/9 1/4 2/7 3/10 1/3 4/11 2/5 "
    "4/9 1/2 8/15 4/7 8/13 4/6 8/11 4/5 5/6 10/11 1/1 11/10 6/5 5/4 11/8 7/5 6/4 8/5 13/8 "
    "7/4 9/5 15/8 2/1 85/40 9/4 5/2 11/4 3/1 10/3 7/2 4/1 9/2 5/1 11/2 6/1 13/2 7/1 15/2 "
    "8/1 17/2 9/1 10/1 11/1 12/1 14/1 16/1 18/1 20/1 22/1 25/1 28/1 33/1 40/1 50/1 66/1 "
    "80/1 100/1 125/1 150/1 200/1 250/1 300/1 400/1 500/1"
).split()
EXCHANGE: Ladder = tuple(
    round(low + step * i, 2)
    for (low, _), (high, step) in zip(((1.01, 0.0), *_TICKS), _TICKS, strict=False)
    for i in range(1, round((high - low) / step) + 1)
)
BOOKMAKER: Ladder = tuple(round(1 + int(n) / int(d), 2) for n, d in (f.split("/") for f in _FRACTIONS))
EXCHANGES = frozenset({"betfair"})


def ladder_for(source: str) -> Ladder:
    return EXCHANGE if source in EXCHANGES else BOOKMAKER


def snap(price: float, ladder: Ladder = EXCHANGE) -> float:
    """The ladder price nearest to `price`."""
    at = bisect.bisect_left(ladder, price)
    return min(ladder[max(0, at - 1) : at + 1], key=lambda candidate: abs(candidate - price))


def tick(price: float, ticks: int, ladder: Ladder = EXCHANGE) -> float:
    """`price` moved by whole ladder steps (positive drifts, negative shortens)."""
    at = ladder.index(snap(price, ladder)) + ticks
    return ladder[min(max(at, 0), len(ladder) - 1)]


def nudge(price: float, consensus: float, rng: random.Random, ladder: Ladder = EXCHANGE) -> float:
    """A 3-10% move, likelier back towards the consensus, and always at least one step."""
    bias = max(-0.35, min(0.35, 2 * math.log(price / consensus)))
    shorten = rng.random() < 0.5 + bias
    moved = snap(price * (1 + (-1 if shorten else 1) * rng.uniform(0.03, 0.10)), ladder)
    return moved if moved != price else tick(price, -1 if shorten else 1, ladder)


def opening_prices(rng: random.Random, runner_ids: Sequence[int], ladder: Ladder = EXCHANGE) -> dict[int, float]:
    """A book with a 2.5-4 favourite, outsiders out to 50-100 and a 110-120% overround."""
    ids = list(runner_ids)
    rng.shuffle(ids)
    if len(ids) < 2:
        return {runner: ladder[0] for runner in ids}
    overround = rng.uniform(1.10, 1.20)
    favourite = min(rng.uniform(2.5, 4.0), (0.9 * (len(ids) - 1) + 1) / overround)
    rest, cap = overround - 1 / favourite, 0.9 / favourite
    floor = min(1 / rng.uniform(50, 100), rest / len(ids))
    weights = [math.exp(-0.4 * k) * rng.uniform(0.6, 1.4) for k in range(1, len(ids))]
    chances = [floor + (rest - floor * len(weights)) * w / sum(weights) for w in weights]
    for _ in weights:  # nobody may be shorter than the favourite: spread any excess over the rest
        excess = sum(max(0.0, c - cap) for c in chances)
        room = sum(c - floor for c in chances if c < cap)
        if excess < 1e-9 or room <= 0:
            break
        chances = [cap if c >= cap else c + excess * (c - floor) / room for c in chances]
    return {runner: snap(1 / chance, ladder) for runner, chance in zip(ids, [1 / favourite, *chances], strict=True)}
