"""The per-user connection counts this instance writes to Redis on each heartbeat (`UserConnections`)."""

from __future__ import annotations

import uuid

import redis.asyncio as aioredis

from hub.realtime.user_connections import UserConnections

USERS = 1_200  # more than two of the heartbeat's script calls


async def test_a_heartbeat_writes_every_users_count_and_drops_the_users_gone_since(redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    namespace = f"test-{uuid.uuid4().hex}"
    counts = UserConnections(client, namespace, "instance-a", ttl_s=30.0)
    users = [f"user-{i}" for i in range(USERS)]
    try:
        for index, user in enumerate(users):
            for _ in range(1 + index % 3):
                assert await counts.claim(user, cap=10)
        await counts.heartbeat()
        for index, user in enumerate(users):
            assert await client.hget(f"{namespace}:ws-conns:{user}", "instance-a") == str(1 + index % 3).encode()
        assert 0 < await client.pttl(f"{namespace}:ws-conns:{users[-1]}") <= 90_000
        assert await client.get(f"{namespace}:ws-alive:instance-a") == b"1"

        # Every connection of all users but two ends, and Redis holds wrong counts (restarted, or the releases
        # failed or are still on their way: each lands as a decrement that removes what reaches 0): the next
        # heartbeat writes the truth again and drops the users gone since.
        for index, user in enumerate(users[2:], start=2):
            for _ in range(1 + index % 3):
                counts.release(user)
        await client.delete(f"{namespace}:ws-conns:{users[0]}")
        await client.hset(f"{namespace}:ws-conns:{users[1]}", "instance-a", 99)
        for user in users[2:]:
            await client.hset(f"{namespace}:ws-conns:{user}", "instance-a", 3)
        await counts.heartbeat()
        assert await client.hget(f"{namespace}:ws-conns:{users[0]}", "instance-a") == b"1"
        assert await client.hget(f"{namespace}:ws-conns:{users[1]}", "instance-a") == b"2"
        for user in users[2:]:
            assert not await client.exists(f"{namespace}:ws-conns:{user}")
    finally:
        await counts.clear()
        await client.aclose()
