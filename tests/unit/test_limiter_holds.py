from hub.ratelimit import MemoryLimiter


async def test_memory_holds_keep_the_callers_time_until_their_ttl() -> None:
    now = [0.0]
    limiter = MemoryLimiter(clock=lambda: now[0])
    await limiter.hold_until("cool", 1_000_030.5, 31)  # a wall-clock time: not the limiter's own clock
    assert await limiter.held_until("cool") == 1_000_030.5 and await limiter.held_until("other") is None
    now[0] = 31.0
    assert await limiter.held_until("cool") is None
