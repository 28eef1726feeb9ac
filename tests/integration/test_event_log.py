"""The durable event log's write side: atomic with the caller's transaction, gapless in commit order."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import msgspec
import pytest

from persistence import events
from persistence.db import Database, init_connection, set_identity
from persistence.identity import SERVICE, user_identity
from tests.helpers.services import DatabaseUnderTest


class Boom(Exception):
    pass


async def listen(dsn: str) -> tuple[asyncpg.Connection, asyncio.Queue[dict[str, object]]]:
    conn = await asyncpg.connect(dsn)
    queue: asyncio.Queue[dict[str, object]] = asyncio.Queue()
    await conn.add_listener(events.NOTIFY_CHANNEL, lambda *args: queue.put_nowait(msgspec.json.decode(args[3])))
    return conn, queue


def a_user() -> dict[str, str]:
    return {"sub": str(uuid.uuid4()), "role": "authenticated", "aud": "authenticated"}


async def test_rolled_back_append_leaves_no_event_and_sends_no_notification(
        app_db: Database, test_db: DatabaseUnderTest) -> None:
    channel = f"thread:{uuid.uuid4()}"
    listener, received = await listen(test_db.app_dsn)
    try:
        with pytest.raises(Boom):
            async with app_db.transaction(user_identity(a_user())) as conn:
                assert await events.append_event(conn, channel, "comment.created", {"n": 1}) == 1
                raise Boom
        async with app_db.transaction(SERVICE) as conn:
            assert await events.channel_position(conn, channel) == (0, 0)
            assert await events.events_after(conn, channel, 0) == []
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(received.get(), 0.5)

        async with app_db.transaction(user_identity(a_user())) as conn:
            assert await events.append_event(conn, channel, "comment.created", {"n": 2}) == 1
        note = await asyncio.wait_for(received.get(), 5)
        assert (note["c"], note["s"], note["e"], note["d"]) == (channel, 1, "comment.created", {"n": 2})
    finally:
        await listener.close()


async def test_concurrent_appends_get_gapless_sequences_in_commit_order(test_db: DatabaseUnderTest) -> None:
    channel = f"feed-test:{uuid.uuid4()}"
    writers = 40
    listener, received = await listen(test_db.app_dsn)
    conns = [await asyncpg.connect(test_db.app_dsn) for _ in range(writers)]
    try:
        for conn in conns:
            await init_connection(conn)

        async def write(conn: asyncpg.Connection, n: int) -> int:
            async with conn.transaction():
                await set_identity(conn, SERVICE)
                seq = await events.append_event(conn, channel, "post.created", {"writer": n})
                await asyncio.sleep(0.001 * (n % 5))  # hold the head lock a little, to force queueing
                return seq

        seqs = await asyncio.gather(*(write(conn, n) for n, conn in enumerate(conns)))
        assert sorted(seqs) == list(range(1, writers + 1))
        arrived = [(await asyncio.wait_for(received.get(), 5))["s"] for _ in range(writers)]
        assert arrived == list(range(1, writers + 1)), "notifications must arrive in sequence (commit) order"
    finally:
        for conn in conns:
            await conn.close()
        await listener.close()


async def test_large_payload_notifies_the_key_only_and_keeps_the_data(app_db: Database,
                                                                      test_db: DatabaseUnderTest) -> None:
    channel = f"thread:{uuid.uuid4()}"
    listener, received = await listen(test_db.app_dsn)
    big = {"content": "x" * 20_000}
    try:
        async with app_db.transaction(SERVICE) as conn:
            await events.append_event(conn, channel, "comment.created", big)
        note = await asyncio.wait_for(received.get(), 5)
        assert note == {"c": channel, "s": 1}
        async with app_db.transaction(SERVICE) as conn:
            [row] = await events.events_after(conn, channel, 0)
        assert row["data"] == big
    finally:
        await listener.close()


async def test_pruning_advances_the_trimmed_position(app_db: Database) -> None:
    channel = f"thread:{uuid.uuid4()}"
    async with app_db.transaction(SERVICE) as conn:
        for n in range(5):
            await events.append_event(conn, channel, "comment.created", {"n": n})
    async with app_db.transaction(SERVICE) as conn:
        await conn.fetchval("SELECT realtime.prune_events(interval '100 years', 2)")
        assert await events.channel_position(conn, channel) == (5, 3)
        assert [r["seq"] for r in await events.events_after(conn, channel, 0)] == [4, 5]


async def test_users_cannot_touch_the_log_tables_directly(app_db: Database) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with app_db.transaction(user_identity(a_user())) as conn:
            await conn.execute("INSERT INTO realtime.events (channel, seq, event, data) VALUES ('feed', 99, 'x', '{}')")
