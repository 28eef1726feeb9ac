"""Token buckets with an injected clock, for client publishes."""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol

__all__ = ["KeyedLimiter", "PublishLimiter", "TokenBucket"]


class TokenBucket:
    """``burst`` tokens, refilled at ``rate`` per second; starts full.

    ``try_acquire(now)`` returns ``0.0`` and takes the cost when allowed, else the
    seconds until it would be allowed (nothing taken). Time going backwards (it
    should not, with a monotonic clock) refills nothing.
    """

    __slots__ = ("_last", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._last: float | None = None

    def _refill(self, now: float) -> None:
        if self._last is not None and now > self._last:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        if self._last is None or now > self._last:
            self._last = now

    def try_acquire(self, now: float, cost: float = 1.0) -> float:
        if cost > self.burst:
            raise ValueError("cost exceeds burst: it could never be allowed")
        self._refill(now)
        if self._tokens >= cost:
            self._tokens -= cost
            return 0.0
        return (cost - self._tokens) / self.rate

    def is_full(self, now: float) -> bool:
        self._refill(now)
        return self._tokens >= self.burst


class PublishLimiter(Protocol):
    """What a connection calls before a publish. ``key`` is e.g. ``"<user>|<channel>"``."""

    def try_acquire(self, key: str, now: float) -> float: ...


class KeyedLimiter:
    """One bucket per key, at most ``max_keys`` buckets (least recently used evicted).

    Evicting a bucket forgets its debt; with ``max_keys`` above the number of keys
    active in ``burst / rate`` seconds that never lets anyone exceed the rate.
    Worst case memory: ``max_keys`` x ~200 bytes.
    """

    def __init__(self, rate: float, burst: float, max_keys: int = 10_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def try_acquire(self, key: str, now: float) -> float:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst)
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket.try_acquire(now)
