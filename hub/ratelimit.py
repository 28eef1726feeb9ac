"""Fixed-window counters for the REST budgets (signup, login, creation) and failure streaks for the login
backoff. In memory for one instance, Redis for many (counted across instances)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

import redis.asyncio as aioredis

# The wait before the next attempt, given the failures already in the streak (`hub.rules.login_backoff`).
WaitRule = Callable[[int], float]


class WindowLimiter(Protocol):
    async def hit(self, key: str, limit: int, window_s: int) -> float:
        """Counts one hit; returns 0 when allowed, else seconds until the window resets."""
        ...

    async def undo(self, key: str) -> None:
        """Takes back one hit of the current window: the attempt it reserved turned out not to count."""
        ...

    async def begin_attempt(self, key: str, now: float, wait: WaitRule, forget_s: int) -> float:
        """Refuses (returns seconds to wait) while `wait(failures)` since the streak's last failure has not
        passed; otherwise counts this attempt as a failure in advance (so parallel attempts cannot all slip
        through) and returns 0. The caller then calls `end_streak` on success or `undo_attempt` when the
        attempt was no failure after all. A streak is forgotten `forget_s` after its last failure."""
        ...

    async def undo_attempt(self, key: str) -> None: ...

    async def end_streak(self, key: str) -> None: ...

    async def hold_until(self, key: str, until: float, ttl_s: int) -> None:
        """Stores `until` (a time on the caller's clock, which may be injected) under `key`, kept `ttl_s`
        seconds; a later call replaces it."""
        ...

    async def held_until(self, key: str) -> float | None:
        """What `hold_until` stored under `key`, or None once it is gone."""
        ...


class MemoryLimiter:
    """Keeps at most one entry per active key; expired windows are dropped as they are met."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}
        self._streaks: dict[str, tuple[int, float]] = {}  # key -> (failures, time of the last one)
        self._holds: dict[str, tuple[float, float]] = {}  # key -> (the value held, when it expires (self._clock))
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

    async def undo(self, key: str) -> None:
        window = self._windows.get(key)
        if window is not None and window[1] > 0:
            self._windows[key] = (window[0], window[1] - 1)

    async def begin_attempt(self, key: str, now: float, wait: WaitRule, forget_s: int) -> float:
        failures, last = self._streaks.get(key, (0, now))
        if now - last >= forget_s:
            failures = 0
        if failures:
            remaining = last + wait(failures) - now
            if remaining > 0:
                return remaining
        if len(self._streaks) >= self._max_keys:
            self._streaks = {k: v for k, v in self._streaks.items() if now - v[1] < forget_s}
        self._streaks[key] = (failures + 1, now)
        return 0.0

    async def undo_attempt(self, key: str) -> None:
        streak = self._streaks.get(key)
        if streak is not None:
            self._streaks[key] = (max(0, streak[0] - 1), streak[1])

    async def end_streak(self, key: str) -> None:
        self._streaks.pop(key, None)

    async def hold_until(self, key: str, until: float, ttl_s: int) -> None:
        now = self._clock()
        if len(self._holds) >= self._max_keys:
            self._holds = {k: v for k, v in self._holds.items() if v[1] > now}
        self._holds[key] = (until, now + ttl_s)

    async def held_until(self, key: str) -> float | None:
        held = self._holds.get(key)
        return held[0] if held is not None and held[1] > self._clock() else None


# The window starts at the first hit (EXPIRE NX); the count and the time left come back together, atomically.
_HIT = ("local n = redis.call('incr', KEYS[1]) redis.call('expire', KEYS[1], ARGV[1], 'NX') "
        "return {n, redis.call('pttl', KEYS[1])}")
# Decrements only a key that still exists: a bare DECR/HINCRBY on an expired key would create one without a TTL.
_UNDO_HIT = "if redis.call('exists', KEYS[1]) == 1 then redis.call('decr', KEYS[1]) end"
# Counts one more failure only if the streak is still what the caller decided on: its count and the time of its
# last failure (an attempt and its undo in between leave the count as it was, not the time).
_NEXT_ATTEMPT = ("local n, t = unpack(redis.call('hmget', KEYS[1], 'n', 't')) "
                 "if (tonumber(n) or 0) ~= tonumber(ARGV[1]) or (t or '') ~= ARGV[2] then return 0 end "
                 "redis.call('hset', KEYS[1], 'n', ARGV[1] + 1, 't', ARGV[3]) "
                 "redis.call('expire', KEYS[1], ARGV[4]) return 1")
_UNDO_ATTEMPT = "if redis.call('exists', KEYS[1]) == 1 then redis.call('hincrby', KEYS[1], 'n', -1) end"


class RedisLimiter:
    def __init__(self, client: aioredis.Redis, namespace: str) -> None:
        self._client = client
        self._prefix = f"{namespace}:rl:"

    async def hit(self, key: str, limit: int, window_s: int) -> float:
        # One script, not a MULTI pipeline: on a Redis Cluster client (REDIS_CLUSTER=1) redis-py's transactional
        # pipeline queues each command through a thread with an event loop of its own and joins it, blocking
        # the instance's loop for every hit (three threads per hit; a connection storm stalled it for seconds).
        count, ttl_ms = await self._client.eval(_HIT, 1, self._prefix + key, window_s)
        return 0.0 if int(count) <= limit else max(int(ttl_ms), 0) / 1000

    async def undo(self, key: str) -> None:
        await self._client.eval(_UNDO_HIT, 1, self._prefix + key)

    async def begin_attempt(self, key: str, now: float, wait: WaitRule, forget_s: int) -> float:
        name = self._prefix + key
        while True:
            # Optimistic: read the streak, decide in Python (the rule stays pure), and write only if no other
            # attempt changed it in between (compare and set in one script: WATCH/MULTI would take the
            # cluster client's thread bridge, as `hit` explains); otherwise decide again on what it wrote.
            failures_raw, last_raw = await self._client.hmget(name, ["n", "t"])
            failures = int(failures_raw or 0)
            if failures:
                remaining = float(last_raw or 0) + wait(failures) - now
                if remaining > 0:
                    return remaining
            if await self._client.eval(_NEXT_ATTEMPT, 1, name, failures, last_raw or b"", repr(now), forget_s):
                return 0.0

    async def undo_attempt(self, key: str) -> None:
        await self._client.eval(_UNDO_ATTEMPT, 1, self._prefix + key)

    async def end_streak(self, key: str) -> None:
        await self._client.delete(self._prefix + key)

    async def hold_until(self, key: str, until: float, ttl_s: int) -> None:
        await self._client.set(self._prefix + key, repr(until), ex=ttl_s)

    async def held_until(self, key: str) -> float | None:
        value = await self._client.get(self._prefix + key)
        return None if value is None else float(value)
