"""How long judging a hostile document takes: parse, the limits' one-pass measure and validation,
through Strawberry's real path (the schema's extensions, caches included), stopping before
execution. Each document is the worst of its shape that the default limits let through to
validation (grown until one more repetition would be refused), or a 256 KiB one that is refused.

Prints the median over several runs of each, next to a baseline (an ordinary race-card query)
judged in the same run. Each run judges a fresh copy (a unique comment), so no cache helps.
Strawberry's log line per refused document is switched off: it is logging, not judging.

    .venv/bin/python bench/validation.py [--runs 7]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.language import Lexer, Source, TokenKind
from strawberry.extensions import SchemaExtension

from schema.query_limits import QueryLimits
from schema.schema import build_schema

LIMITS = QueryLimits()
KIB = 1024
RACE_CARD = (Path(__file__).resolve().parents[1] / "graphql" / "operations" / "RaceCard.graphql").read_text()


class JudgeOnly(SchemaExtension):
    """Stops each operation once it has been judged: execution is not what is measured."""

    def on_execute(self) -> Iterator[None]:
        self.execution_context.result = GraphQLExecutionResult(data={}, errors=None)
        yield


def tokens(query: str) -> int:
    lexer, count = Lexer(Source(query)), 0
    while lexer.advance().kind is not TokenKind.EOF:
        count += 1
    return count


def largest(build: Callable[[int], str], *, reserve: int = 40) -> str:
    """The largest `build(n)` within the token and length limits (`reserve` left for the run's comment)."""

    def fits(n: int) -> bool:
        query = build(n)
        return len(query) <= LIMITS.max_query_length - reserve and tokens(query) < LIMITS.max_tokens

    low, high = 1, 1
    while fits(high * 2):
        high *= 2
    low, high = high, high * 2
    while low + 1 < high:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return build(low)


def doubling(levels: int) -> str:
    """The issue's document: each fragment spreads the next one twice."""
    fragments = [f"fragment F{n} on Query {{ ...F{n + 1} ...F{n + 1} }}" for n in range(levels)]
    return "{ ...F0 }\n" + "\n".join([*fragments, f"fragment F{levels} on Query {{ __typename }}"])


def side_by_side(count: int) -> str:
    """Fragments spread next to one another, each selecting the same fields: pairs to compare."""
    fragments = " ".join(f"fragment F{n} on Race {{ id name status }}" for n in range(count))
    return fragments + ' { race(id: "1") { ' + " ".join(f"...F{n}" for n in range(count)) + " } }"


def deep_introspection(levels: int) -> str:
    inner = "name"
    for _ in range(levels):
        inner = f"name kind ofType {{ {inner} }}"
    return '{ __type(name: "Race") { ' + inner + " } }"


DOCUMENTS: dict[str, Callable[[], str]] = {
    "baseline: race card": lambda: RACE_CARD,
    "doubling fragments, 22 levels (906 B)": lambda: doubling(22),
    "doubling fragments, as many levels as fit": lambda: largest(doubling),
    "the same field, repeated": lambda: largest(lambda n: "{ " + "__typename " * n + "}"),
    "the same field with a selection, repeated": lambda: largest(lambda n: "{ " + 'race(id: "1") { id } ' * n + "}"),
    "nested same-named fields, repeated": lambda: largest(
        lambda n: "{ " + 'race(id: "1") { meeting { races { id } } } ' * n + "}"
    ),
    "one alias, differing arguments": lambda: largest(
        lambda n: "{ " + " ".join(f'a: race(id: "{i}") {{ id }}' for i in range(n)) + " }"
    ),
    "100 fragments side by side (over the tokens)": lambda: side_by_side(LIMITS.max_fragment_spreads),
    "fragments side by side, as many as fit": lambda: largest(side_by_side),
    "unknown fields (100 errors, each located)": lambda: largest(
        lambda n: "#" + "c" * n + "\n{ " + " ".join(f"x{i}" for i in range(150)) + " }"
    ),
    "many operations": lambda: largest(lambda n: " ".join(f"query Q{i} {{ __typename }}" for i in range(n))),
    "many unused variables": lambda: largest(
        lambda n: "query(" + " ".join(f"$v{i}: Int" for i in range(n)) + ") { __typename }"
    ),
    "repeated directives": lambda: largest(lambda n: "{ __typename" + " @skip(if: false)" * n + " }"),
    "introspection nested 190 deep": lambda: deep_introspection(190),
    "an integer literal of 30,000 digits": lambda: "{ races(first: " + "9" * 30_000 + ") { edges { node { id } } } }",
    "a string literal at the length limit": lambda: largest(lambda n: '{ race(id: "' + "x" * n + '") { id } }'),
    "256 KiB: one comment": lambda: "{ __typename }\n#" + "c" * (256 * KIB - 20),
    "256 KiB: one string": lambda: '{ race(id: "' + "x" * (256 * KIB - 30) + '") { id } }',
    "256 KiB: the same field": lambda: "{ " + "__typename " * (256 * KIB // 11 - 1) + "}",
}


async def judge(schema: object, query: str) -> tuple[float, str]:
    started = time.perf_counter()
    result = await schema.execute(query)  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - started
    errors = result.errors or []
    outcome = (errors[0].extensions or {}).get("code", "?") if errors else "accepted"
    return elapsed, str(outcome)


async def main(runs: int) -> None:
    logging.getLogger("strawberry").setLevel(logging.CRITICAL)  # its log line per error is not judging
    schema = build_schema(LIMITS, introspection=True)
    schema.extensions = [*schema.extensions, JudgeOnly]
    built = {name: build() for name, build in DOCUMENTS.items()}
    rows = []
    baseline = None
    for name, query in built.items():
        times, outcome = [], ""
        for run in range(runs):
            elapsed, outcome = await judge(schema, f"{query}\n# run {run} {time.perf_counter_ns()}")
            times.append(elapsed)
        median = statistics.median(times) * 1000
        baseline = baseline or median
        rows.append((name, len(query.encode()), tokens(query) if len(query) < 64 * KIB else None, outcome, median))
    print(f"{'document':46} {'bytes':>7} {'tokens':>6} {'outcome':>26} {'median ms':>9} {'× baseline':>10}")
    for name, size, count, outcome, median in rows:
        shown = str(count) if count is not None else "-"
        print(f"{name:46} {size:7d} {shown:>6} {outcome:>26} {median:9.2f} {median / baseline:10.1f}")
    print(f"limits: {LIMITS}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    asyncio.run(main(parser.parse_args().runs))
