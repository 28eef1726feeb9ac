"""The budget framework's pure parts: RATE_LIMIT_SCALE, the login backoff schedule, the in-memory limiter's
failure streaks, and the bounded password-hashing pools (tested on their structure, never on timing)."""

from __future__ import annotations

import asyncio
import threading
from functools import partial

import pytest

from hub.errors import NotReady
from hub.passwords import HashPool
from hub.ratelimit import MemoryLimiter
from hub.rules.login_backoff import login_wait
from hub.settings import Settings


def test_rate_limit_scale_multiplies_a_budget_and_never_goes_below_one() -> None:
    assert Settings().scaled(10) == 10
    assert Settings(rate_limit_scale=3).scaled(10) == 30
    assert Settings(rate_limit_scale=0.25).scaled(10) == 2
    assert Settings(rate_limit_scale=0.001).scaled(10) == 1
    assert Settings.from_env({"RATE_LIMIT_SCALE": "100"}).scaled(5) == 500


def test_rate_limit_scale_multiplies_a_rate_without_rounding() -> None:
    assert Settings().scaled_rate(5.0) == 5.0
    assert Settings(rate_limit_scale=0.1).scaled_rate(5.0) == 0.5  # a budget would floor at 1; a rate does not


def test_login_backoff_schedule_free_then_doubling_then_capped() -> None:
    wait = partial(login_wait, free=5, base_s=1.0, max_s=900.0)
    assert [wait(n) for n in range(5)] == [0.0] * 5
    assert [wait(n) for n in range(5, 16)] == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 900.0]
    assert wait(10_000) == 900.0  # no overflow on an absurd streak
    assert login_wait(2, free=2, base_s=0.5, max_s=3.0) == 0.5
    assert login_wait(4, free=2, base_s=0.5, max_s=3.0) == 2.0
    assert login_wait(5, free=2, base_s=0.5, max_s=3.0) == 3.0


async def test_memory_streak_waits_by_the_rule_then_clears_and_forgets() -> None:
    limiter = MemoryLimiter()
    rule = partial(login_wait, free=2, base_s=10.0, max_s=100.0)
    assert [await limiter.begin_attempt("a", 0.0, rule, 3600) for _ in range(2)] == [0.0, 0.0]
    assert await limiter.begin_attempt("a", 1.0, rule, 3600) == 9.0  # 2 failures: wait 10 s from the last one
    assert await limiter.begin_attempt("b", 1.0, rule, 3600) == 0.0  # streaks are per key
    assert await limiter.begin_attempt("a", 10.0, rule, 3600) == 0.0  # third failure, at t=10
    assert await limiter.begin_attempt("a", 29.0, rule, 3600) == 1.0  # 3 failures: 20 s
    await limiter.undo_attempt("a")  # the third attempt was no failure after all: 2 failures again
    assert await limiter.begin_attempt("a", 20.0, rule, 3600) == 0.0
    await limiter.end_streak("a")  # a correct password
    assert await limiter.begin_attempt("a", 20.0, rule, 3600) == 0.0
    assert await limiter.begin_attempt("a", 20.0, rule, 3600) == 0.0
    assert await limiter.begin_attempt("a", 20.0, rule, 3600) > 0
    assert await limiter.begin_attempt("a", 3620.0, rule, 3600) == 0.0  # forgotten an hour after the last


async def test_memory_window_undo_gives_a_hit_back() -> None:
    limiter = MemoryLimiter(clock=lambda: 0.0)
    assert await limiter.hit("k", 1, 60) == 0.0
    assert await limiter.hit("k", 1, 60) > 0
    await limiter.undo("k")
    await limiter.undo("k")
    assert await limiter.hit("k", 1, 60) == 0.0
    assert await limiter.hit("k", 1, 60) > 0
    await limiter.undo("never-hit")  # nothing to give back: no error, no key


async def test_memory_holds_expire_after_their_ttl() -> None:
    now = [0.0]
    limiter = MemoryLimiter(clock=lambda: now[0])
    await limiter.hold_until("known", 0.0, 10)
    assert await limiter.held_until("known") is not None and await limiter.held_until("other") is None
    now[0] = 9.9
    assert await limiter.held_until("known") is not None
    now[0] = 10.0
    assert await limiter.held_until("known") is None


async def test_hash_pool_refuses_past_threads_plus_queue_and_a_busy_pool_does_not_block_another() -> None:
    signups = HashPool("signup", threads=1, queue=1)
    logins = HashPool("login", threads=1, queue=1)
    release = threading.Event()
    try:
        running = asyncio.ensure_future(signups.run(release.wait))
        waiting = asyncio.ensure_future(signups.run(release.wait))
        await asyncio.sleep(0)
        assert (signups.admitted, signups.queued) == (2, 1)
        with pytest.raises(NotReady) as refused:
            await signups.run(lambda: True)
        assert refused.value.headers == {"Retry-After": "1"}
        # The login pool has its own thread: its job finishes while every signup thread is held.
        assert await asyncio.wait_for(logins.run(lambda: "checked"), 30) == "checked"
        assert not running.done() and not waiting.done()
    finally:
        release.set()
    assert await running and await waiting
    assert signups.admitted == 0 and logins.admitted == 0
    signups.close()
    logins.close()


async def test_a_caller_that_stops_waiting_keeps_its_place_until_the_job_ends() -> None:
    pool = HashPool("signup", threads=1, queue=0)
    release = threading.Event()
    caller = asyncio.ensure_future(pool.run(release.wait))
    await asyncio.sleep(0)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    with pytest.raises(NotReady):  # the thread still runs the abandoned job
        await pool.run(lambda: True)
    release.set()
    deadline = asyncio.get_running_loop().time() + 30
    while pool.admitted:  # the place is given back when the worker thread finishes the job
        assert asyncio.get_running_loop().time() < deadline, "the abandoned job never finished"
        await asyncio.sleep(0.01)
    assert await pool.run(lambda: True)
    pool.close()
