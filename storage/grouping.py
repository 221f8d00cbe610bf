"""Grouping rows read for a batch of keys, as DataLoaders need them: every key present."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

K = TypeVar("K")
T = TypeVar("T")


def group_by(rows: Iterable[T], key: Callable[[T], K], keys: Sequence[K]) -> dict[K, list[T]]:
    grouped: dict[K, list[T]] = {k: [] for k in keys}
    for row in rows:
        grouped[key(row)].append(row)
    return grouped
