"""Fixed-window request counters for REST limits (login). In memory for one instance, Redis for many."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

import redis.asyncio as aioredis


class WindowLimiter(Protocol):
    async def hit(self, key: str, limit: int, window_s: int) -> float:
        """Counts one hit; returns 0 when allowed, else seconds until the window resets."""
        ...


class MemoryLimiter:
    """Keeps at most one entry per active key; expired windows are dropped as they are met."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}
        self._max_keys = max_keys

    async def hit(self, key: str, limit: int, window_s: int) -> float:
        now = self._clock()
        start, count = self._windows.get(key, (now, 0))
        if now - start >= window_s:
            start, count = now, 0
        if len(self._windows) >= self._max_keys:
            self._windows = {k: v for k, v in self._windows.items() if now - v[0] < window_s}
        self._windows[key] = (start, count + 1)
        return 0.0 if count < limit else window_s - (now - start)


class RedisLimiter:
    def __init__(self, client: aioredis.Redis, namespace: str) -> None:
        self._client = client
        self._prefix = f"{namespace}:rl:"

    async def hit(self, key: str, limit: int, window_s: int) -> float:
        name = self._prefix + key
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, window_s, nx=True)
            pipe.pttl(name)
            count, _, ttl_ms = await pipe.execute()
        return 0.0 if int(count) <= limit else max(int(ttl_ms), 0) / 1000
