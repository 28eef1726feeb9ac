"""A log read failing during a durable subscribe: one reply per frame, and nothing lost once the log is back.

The fault is real: an owner transaction holds a conflicting lock on a `realtime` table, so the hub's read
of it waits, and the test terminates exactly that waiting backend (`pg_terminate_backend`), as a failover
or an administrator would. Holding the lock a little longer makes the hub's retry wait in turn, which is
how the test sees that it retries; releasing it clears the fault.
"""

from __future__ import annotations

import asyncio
import time

import asyncpg
import httpx

from persistence.db import Database
from tests.helpers.api import signup
from tests.helpers.ws import Frame, ProtocolClient, append_events, assert_continuous, insert_post

_WAITING_ON_ME = """
SELECT pid FROM pg_stat_activity
WHERE pg_backend_pid() = ANY (pg_blocking_pids(pid)) AND query LIKE $1 AND pid <> ALL ($2::int[])
"""


async def _reader_waiting_on_lock(holder: asyncpg.Connection, query_like: str, *, not_pids: list[int]) -> int:
    """The backend (other than `not_pids`) whose statement matching `query_like` waits for `holder`'s lock."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        await holder.execute("SELECT pg_stat_clear_snapshot()")  # `holder` is in a transaction: see new backends
        pid: int | None = await holder.fetchval(_WAITING_ON_ME, query_like, not_pids)
        if pid is not None:
            return pid
        await asyncio.sleep(0.02)
    raise AssertionError(f"no read like {query_like!r} waited on the lock")


async def _terminate(holder: asyncpg.Connection, pid: int) -> None:
    assert await holder.fetchval("SELECT pg_terminate_backend($1)", pid)


def _replies_to(ws: ProtocolClient, frame_id: int) -> list[Frame]:
    return [f for f in ws.frames if f.get("op") == "reply" and f.get("id") == frame_id]


async def _channel_with_events(client: httpx.AsyncClient, owner_conn: asyncpg.Connection, app_db: Database,
                               count: int) -> tuple[str, str]:
    """(access token, thread channel holding `count` events)."""
    account = await signup(client)
    channel = f"thread:{await insert_post(owner_conn, account.user_id)}"
    await append_events(app_db, channel, count, per_transaction=count)
    return account.access_token, channel


async def test_replay_read_failing_after_the_ok_reply_keeps_the_channel_and_delivers_every_event_once(
    client: httpx.AsyncClient, hub_url: str, owner_conn: asyncpg.Connection, app_db: Database
) -> None:
    token, channel = await _channel_with_events(client, owner_conn, app_db, 30)
    ws = await ProtocolClient.open(hub_url, token)
    frame_id = ws.new_id()
    async with owner_conn.transaction():
        await owner_conn.execute("LOCK TABLE realtime.events IN ACCESS EXCLUSIVE MODE")
        await ws.send({"op": "subscribe", "id": frame_id, "channel": channel, "since": 10})
        await ws.until(lambda: frame_id in ws.replies)
        ok = ws.replies[frame_id]
        assert ok["ok"] and ok["result"]["seq"] == 30
        replay = await _reader_waiting_on_lock(owner_conn, "%FROM realtime.events%", not_pids=[])
        await _terminate(owner_conn, replay)
        # The hub reads the replay again, waiting on the lock like the first read did: the failure was handled.
        await _reader_waiting_on_lock(owner_conn, "%FROM realtime.events%", not_pids=[replay])
        await ws.barrier()
        assert _replies_to(ws, frame_id) == [ok], ws.frames  # no second answer to the frame
        assert ws.errors == []
        writer = asyncio.create_task(append_events(app_db, channel, 5))  # commits once the lock is gone
        await _reader_waiting_on_lock(owner_conn, "%realtime.append_event%", not_pids=[])  # queued behind it
    assert await writer == [31, 32, 33, 34, 35]
    await append_events(app_db, channel, 2)
    await ws.wait_events(channel, 27, within=15)
    # One more event: delivery is in order, so a duplicate or a stray would have come before it.
    await append_events(app_db, channel, 1)
    await ws.wait_events(channel, 28, within=15)
    assert_continuous(ws.durable(channel), 10, 38)
    assert _replies_to(ws, frame_id) == [ok] and ws.errors == []
    again = await ws.subscribe(channel)  # the connection still holds the channel
    assert again["error"]["code"] == "already_subscribed"
    await ws.close()


async def test_log_read_failing_before_the_reply_answers_one_error_and_drops_the_subscription(
    client: httpx.AsyncClient, hub_url: str, owner_conn: asyncpg.Connection, app_db: Database
) -> None:
    token, channel = await _channel_with_events(client, owner_conn, app_db, 30)
    ws = await ProtocolClient.open(hub_url, token)
    frame_id = ws.new_id()
    async with owner_conn.transaction():
        await owner_conn.execute("LOCK TABLE realtime.channel_heads IN ACCESS EXCLUSIVE MODE")
        await ws.send({"op": "subscribe", "id": frame_id, "channel": channel, "since": 10})
        head_read = await _reader_waiting_on_lock(owner_conn, "%FROM realtime.channel_heads%", not_pids=[])
        await _terminate(owner_conn, head_read)
        await ws.until(lambda: frame_id in ws.replies)
    await ws.barrier()
    [reply] = _replies_to(ws, frame_id)
    assert not reply["ok"] and reply["error"]["code"] == "internal"
    assert ws.durable(channel) == []
    # Nothing of the failed subscription is left: subscribing again works and replays from `since`.
    assert (await ws.subscribe(channel, since=10))["ok"]
    await append_events(app_db, channel, 1)  # delivered after the replay: a duplicate would come before it
    await ws.wait_events(channel, 21)
    assert_continuous(ws.durable(channel), 10, 31)
    await ws.close()
