"""Each user's open websocket connections, counted across instances, for the per-user cap (4029).

Every instance keeps its own exact count per user (``local``). With Redis, the counts of every instance
meet in one hash per user (``<ns>:ws-conns:<user>``, field = instance id, value = that instance's count),
and each instance refreshes a liveness key (``<ns>:ws-alive:<instance>``) with a TTL. A claim is one Lua
script: it sums the fields of live instances, drops the fields of instances whose key expired (a crashed
instance's connections stop counting within the TTL), and adds one if the sum is under the cap.

Each heartbeat writes this instance's counts again, so Redis converges on the truth after any lost update
(a release whose decrement failed, Redis restarted or unreachable for a while, a heartbeat that came
late). Between heartbeats the shared count can lag by the few connections that opened or closed meanwhile;
while Redis is unreachable the cap holds per instance only.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

import redis.asyncio as aioredis
from redis.exceptions import RedisError

__all__ = ["UserConnections"]

log = logging.getLogger("hub.ws")

# KEYS[1] the user's hash; ARGV: cap, this instance's id, the liveness key prefix.
_CLAIM = """
local fields = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 1, #fields, 2 do
  local instance = fields[i]
  if instance == ARGV[2] or redis.call('EXISTS', ARGV[3] .. instance) == 1 then
    total = total + tonumber(fields[i + 1])
  else
    redis.call('HDEL', KEYS[1], instance)
  end
end
if total >= tonumber(ARGV[1]) then
  return 0
end
redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
return 1
"""

# KEYS[1] the user's hash; ARGV[1] this instance's id. A count that reaches 0 leaves the hash (and the last
# field leaving removes the key).
_RELEASE = """
if redis.call('HINCRBY', KEYS[1], ARGV[1], -1) <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
"""

# KEYS the users' hashes; ARGV[1] this instance's id, ARGV[2] the hashes' TTL (ms), then each user's count here.
# A user hash outlives every instance that counts in it by a few TTLs, no longer; a count of 0 leaves it.
_WRITE_COUNTS = """
for i, key in ipairs(KEYS) do
  local count = tonumber(ARGV[i + 2])
  if count > 0 then
    redis.call('HSET', key, ARGV[1], count)
    redis.call('PEXPIRE', key, ARGV[2])
  else
    redis.call('HDEL', key, ARGV[1])
  end
end
return 0
"""

# Users per heartbeat script call.
_HEARTBEAT_CHUNK = 500


class UserConnections:
    def __init__(self, client: aioredis.Redis | None, namespace: str, instance_id: str, ttl_s: float) -> None:
        self.local: Counter[str] = Counter()
        self._client = client
        self._ns = namespace
        self._instance = instance_id
        self._ttl_ms = max(1, int(ttl_s * 1000))
        self.heartbeat_s = ttl_s / 3
        self._claim = client.register_script(_CLAIM) if client is not None else None
        self._release = client.register_script(_RELEASE) if client is not None else None
        self._write_counts = client.register_script(_WRITE_COUNTS) if client is not None else None
        self._gone: set[str] = set()  # users whose count here reached 0 since the last heartbeat
        self._tasks: set[asyncio.Task[None]] = set()

    def _key(self, user_id: str) -> str:
        return f"{self._ns}:ws-conns:{user_id}"

    def _alive(self, instance: str) -> str:
        return f"{self._ns}:ws-alive:{instance}"

    async def claim(self, user_id: str, cap: int) -> bool:
        """Count one more connection of ``user_id``; False (nothing counted) when it has ``cap`` already."""
        if self.local[user_id] >= cap:
            return False
        if self._claim is not None:
            try:
                allowed = await self._claim(keys=[self._key(user_id)],
                                            args=[cap, self._instance, self._alive("")])
            except (RedisError, OSError) as exc:
                log.warning("connection count in Redis unavailable, capping per instance: %s", exc)
            else:
                if not allowed:
                    return False
        self.local[user_id] += 1
        self._gone.discard(user_id)
        return True

    def release(self, user_id: str) -> None:
        """One connection of ``user_id`` ended (the shared count follows in the background)."""
        self.local[user_id] -= 1
        if self.local[user_id] <= 0:
            del self.local[user_id]
            self._gone.add(user_id)
        if self._release is not None:
            task = asyncio.get_running_loop().create_task(self._release_shared(user_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _release_shared(self, user_id: str) -> None:
        assert self._release is not None
        try:
            await self._release(keys=[self._key(user_id)], args=[self._instance])
        except (RedisError, OSError) as exc:
            log.warning("connection count release failed (the next heartbeat corrects it): %s", exc)

    async def heartbeat(self) -> None:
        """Refresh this instance's liveness and write its counts again."""
        if self._client is None:
            return
        gone = self._gone - set(self.local)
        assert self._write_counts is not None
        await self._client.set(self._alive(self._instance), b"1", px=self._ttl_ms)
        users = [*self.local, *gone]
        # One script per `_HEARTBEAT_CHUNK` users: a pipeline of two commands per user cost the loop ≈ 40 ms of
        # parsing replies at 1,000 users, without yielding, every heartbeat (docs/benchmarks.md, "Where the
        # paced p99 goes").
        for start in range(0, len(users), _HEARTBEAT_CHUNK):
            chunk = users[start:start + _HEARTBEAT_CHUNK]
            # Counts read now: the chunks before took a round trip each.
            await self._write_counts(keys=[self._key(user_id) for user_id in chunk],
                                     args=[self._instance, 3 * self._ttl_ms,
                                           *(self.local.get(user_id, 0) for user_id in chunk)])
        self._gone -= gone

    async def run(self) -> None:
        """Heartbeat until cancelled (nothing to do without Redis)."""
        while self._client is not None:
            try:
                await self.heartbeat()
            except (RedisError, OSError) as exc:
                log.warning("connection count heartbeat failed: %s", exc)
            await asyncio.sleep(self.heartbeat_s)

    async def clear(self) -> None:
        """Shutdown: this instance's connections stop counting at once."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is None:
            return
        async with self._client.pipeline(transaction=False) as pipe:
            for user_id in {*self.local, *self._gone}:
                pipe.hdel(self._key(user_id), self._instance)
            pipe.delete(self._alive(self._instance))
            await pipe.execute()
