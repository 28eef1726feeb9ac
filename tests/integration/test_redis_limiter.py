"""The Redis limiter's counting under concurrency, on a real Redis: budgets and login-failure streaks are
read and written by every instance at once, so each hit and each failure must count exactly once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from functools import partial

import pytest
import redis.asyncio as aioredis

from hub.ratelimit import RedisLimiter
from hub.rules.login_backoff import login_wait


@pytest.fixture
async def limiter(redis_url: str) -> AsyncIterator[RedisLimiter]:
    client = aioredis.Redis.from_url(redis_url)
    namespace = f"limitertest-{uuid.uuid4().hex[:8]}"
    try:
        yield RedisLimiter(client, namespace)
    finally:
        async for key in client.scan_iter(f"{namespace}:*"):
            await client.delete(key)
        await client.aclose()


async def test_concurrent_hits_admit_exactly_the_limit(limiter: RedisLimiter) -> None:
    waits = await asyncio.gather(*[limiter.hit("burst", 30, 60) for _ in range(50)])
    assert sum(wait == 0.0 for wait in waits) == 30
    assert all(55 < wait <= 60 for wait in waits if wait)


async def test_concurrent_login_failures_each_count_once_in_the_streak(limiter: RedisLimiter) -> None:
    """Forty failures at once race on one streak: a write that lost the race decides again on the winner's
    count, so none is lost and the next attempt waits by the rule for all forty."""
    rule = partial(login_wait, free=40, base_s=10.0, max_s=100.0)
    waits = await asyncio.gather(*[limiter.begin_attempt("account", 100.0, rule, 3600) for _ in range(40)])
    assert waits == [0.0] * 40
    assert await limiter.begin_attempt("account", 100.0, rule, 3600) == 10.0  # 40 failures: the first wait
