"""A relay publishes only while it holds the relay lock: once its lock connection is gone a standby may be
relaying, so it stops at once, even in the middle of the backlog it republishes on taking over."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import asyncpg

from channels.events import decode_durable
from hub.realtime.relay import Relay
from persistence import events
from persistence.db import Database
from persistence.identity import SERVICE
from tests.helpers.eventually import eventually
from tests.helpers.services import DatabaseUnderTest
from tests.helpers.ws import append_events


async def test_a_relay_whose_lock_connection_ends_mid_backlog_publishes_nothing_more_until_it_holds_the_lock_again(
    test_db: DatabaseUnderTest, app_db: Database, owner_conn: asyncpg.Connection
) -> None:
    channel = f"user:{uuid.uuid4()}"
    await append_events(app_db, channel, 1)
    async with app_db.transaction(SERVICE) as tx:
        await events.record_relayed(tx, [(channel, 1)])
    await append_events(app_db, channel, 2500, per_transaction=500)  # the backlog a taking-over relay reads
    published: list[tuple[bool, int]] = []  # (holding the lock when published, seq)
    relay: Relay | None = None

    async def publish(_channel: str, note: bytes) -> None:
        holder = relay
        assert holder is not None
        published.append((holder.holding, decode_durable(note).seq))  # type: ignore[union-attr]
        if len(published) == 1:
            await owner_conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'hub-relay' AND datname = current_database()")
            await eventually(lambda: not holder.holding, within=10, what="the relay told its connection ended")

    relay = Relay(test_db.app_dsn, app_db, publish, standby_poll_s=0.05)
    task = asyncio.create_task(relay.run())
    try:
        await eventually(lambda: any(seq == 2501 for _, seq in published), within=30,
                         what="the backlog published to its end")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert [seq for holding, seq in published if not holding] == []
