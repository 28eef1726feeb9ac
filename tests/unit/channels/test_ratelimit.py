import pytest

from channels.ratelimit import KeyedLimiter, TokenBucket


def test_bucket_allows_a_burst_then_reports_retry_after() -> None:
    bucket = TokenBucket(rate=2.0, burst=3)
    assert [bucket.try_acquire(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.try_acquire(0.0) == pytest.approx(0.5)


def test_bucket_refills_at_rate_up_to_burst() -> None:
    bucket = TokenBucket(rate=2.0, burst=3)
    for _ in range(3):
        bucket.try_acquire(0.0)
    assert bucket.try_acquire(0.5) == 0.0
    assert bucket.try_acquire(0.5) == pytest.approx(0.5)
    assert bucket.is_full(100.0)
    assert [bucket.try_acquire(100.0) for _ in range(4)][-1] > 0


def test_refused_attempts_take_nothing() -> None:
    bucket = TokenBucket(rate=1.0, burst=1)
    bucket.try_acquire(0.0)
    for _ in range(10):
        bucket.try_acquire(0.5)
    assert bucket.try_acquire(1.0) == 0.0


def test_clock_going_backwards_refills_nothing() -> None:
    bucket = TokenBucket(rate=1.0, burst=1)
    bucket.try_acquire(10.0)
    assert bucket.try_acquire(5.0) == pytest.approx(1.0)


def test_keyed_limiter_separates_keys_and_bounds_memory() -> None:
    limiter = KeyedLimiter(rate=1.0, burst=1, max_keys=2)
    assert limiter.try_acquire("a", 0.0) == 0.0
    assert limiter.try_acquire("a", 0.0) > 0
    assert limiter.try_acquire("b", 0.0) == 0.0
    limiter.try_acquire("c", 0.0)
    assert len(limiter) == 2
