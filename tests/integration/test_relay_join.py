"""Relay mode: an event relayed while a channel's first subscriber is joining reaches it without a later event.

The subscriber reads the channel's head, then the instance's shard subscription is confirmed (the listener is
told to catch the channel up, but nobody is positioned yet, so there is nothing to catch up from), then the
subscriber positions itself at the head it read. An event committed between the head read and the
confirmation was relayed to a shard this instance was not yet subscribed to: only the head check finds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from channels.frames import EventFrame, OutFrame
from channels.sequencing import Subscription
from hub.realtime.event_log import DbEventLog
from hub.realtime.fanout import Fanout, Outbox, Subscriber
from hub.realtime.listener import Listener
from persistence.db import Database
from tests.helpers.eventually import eventually
from tests.helpers.services import DatabaseUnderTest
from tests.helpers.ws import append_events


async def test_an_event_relayed_before_the_shard_join_while_the_subscriber_positions_is_found_by_the_head_check(
    test_db: DatabaseUnderTest, app_db: Database
) -> None:
    channel = f"user:{uuid.uuid4()}"
    log = DbEventLog(app_db)
    listener: Listener | None = None

    def opened(name: str) -> None:
        assert listener is not None
        listener.track(name)

    fanout = Fanout(log, on_open=opened)
    listener = Listener(test_db.app_dsn, fanout, log, lambda _note: None, listen_events=False)
    task = asyncio.create_task(listener.run())
    sent: list[OutFrame] = []
    try:
        await eventually(lambda: listener.connected, within=20, what="the listener connected")
        await append_events(app_db, channel, 2)
        outbox = Outbox(16, lambda: None)

        async def send(frame: OutFrame) -> None:
            sent.append(frame)

        outbox.attach(send, lambda: None)
        seq: Subscription[EventFrame] = Subscription(max_buffer=8)
        fanout.add(Subscriber(channel, outbox, "u", seq))  # the channel opens: its shard subscription is asked
        head, _ = await log.position(channel)  # the subscriber reads the head ...
        await append_events(app_db, channel, 1)  # ... an event is committed and relayed to an unjoined shard ...
        listener.catch_up(channel)  # ... the shard subscription is confirmed, nobody positioned yet ...
        await eventually(lambda: channel not in listener._behind, within=10, what="the listener's catch-up done")
        for frame in seq.finish_replay([], after=head).frames:  # ... and the subscriber goes live at the head
            outbox.push(frame)

        async def delivered() -> bool:
            listener.check_heads(await log.heads([channel]))  # what relay mode's head check does each interval
            return any(b'"seq":3' in frame.json for frame in sent)

        await eventually(delivered, within=10, what="the event committed before the join delivered")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
