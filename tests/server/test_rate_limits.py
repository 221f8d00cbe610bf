"""Token buckets and the per-address connection count, on a clock the test moves by hand."""

from __future__ import annotations

import pytest

from server.rate_limits import ConnectionCounter, KeyedBuckets, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_spends_its_burst_then_says_how_long_to_wait() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=2.0, burst=3, clock=clock)
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take() == pytest.approx(0.5)  # one token at two a second
    clock.now += 0.25
    assert bucket.take() == pytest.approx(0.25)  # half a token has come back
    clock.now += 0.25
    assert bucket.take() == 0.0


def test_a_bucket_saves_up_no_more_than_its_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=10.0, burst=2, clock=clock)
    clock.now += 3_600
    assert [bucket.take() for _ in range(2)] == [0.0, 0.0]
    assert bucket.take() > 0


def test_a_bucket_without_a_rate_never_refills() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=0.0, burst=1, clock=clock)
    assert bucket.take() == 0.0
    clock.now += 3_600
    assert bucket.take() == float("inf")


def test_keyed_buckets_are_separate_per_key() -> None:
    buckets = KeyedBuckets(rate=0.001, burst=1)
    assert buckets.take("feed-1") == 0.0
    assert buckets.take("feed-1") > 0
    assert buckets.take("feed-2") == 0.0  # another subject has its own burst


def test_keyed_buckets_forget_the_least_recently_used_beyond_keep() -> None:
    buckets = KeyedBuckets(rate=0.001, burst=1, keep=2)
    buckets.take("a")
    buckets.take("b")
    assert buckets.take("a") > 0  # "a" is now the most recently used
    buckets.take("c")  # three keys: "b" is forgotten
    assert buckets.take("a") > 0 and buckets.take("c") > 0
    assert buckets.take("b") == 0.0  # a fresh bucket
    assert len(buckets._buckets) == 2  # noqa: SLF001 - no idle bucket kept


def test_connections_are_counted_per_address_up_to_the_limit() -> None:
    counter = ConnectionCounter(limit=2)
    assert counter.acquire("10.0.0.1") and counter.acquire("10.0.0.1")
    assert not counter.acquire("10.0.0.1")
    assert counter.acquire("10.0.0.2")  # another address is not affected
    counter.release("10.0.0.1")
    assert counter.acquire("10.0.0.1")


def test_releasing_more_than_was_acquired_leaves_nothing_behind() -> None:
    counter = ConnectionCounter(limit=1)
    counter.release("10.0.0.9")
    assert counter.acquire("10.0.0.9")
    counter.release("10.0.0.9")
    counter.release("10.0.0.9")
    assert counter._open == {}  # noqa: SLF001 - no address left counted
    assert counter.acquire("10.0.0.9") and not counter.acquire("10.0.0.9")
