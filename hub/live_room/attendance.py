"""Attendance of a live session: who joined the room and when they left.

* Joining is being in the room's presence while the session is `live`: subscribing to `session:<id>`
  while live (`joined`, awaited before the subscribe reply), or already being subscribed when the
  session goes live (`observe` sees the `session.updated` event and marks this instance's subscribers).
  The first join sets `joined_at` and `attended`, logs `session_join` and unlocks `sessions_attended`
  achievements in the same transaction; a later join clears `left_at` (`persistence.sessions.mark_joined`).
* Leaving sets `left_at` when the user's LAST connection in the room, on any instance, has gone: no
  other local subscription of the user, and no entry of the user left in the presence store (checked
  after this connection's entry was removed, so of two last tabs leaving at once on two instances at
  least one sees the other gone). The store read is one hash read of the room, O(room size), done only
  for seat holders this instance saw join.

Known gaps: entries of a crashed instance vanish from presence without a `left_at`; a subscribe whose
facts were read just before the session went live and whose fan-out entry is added just after the
`session.updated` delivery is not marked until the user reconnects.
"""

from __future__ import annotations

import asyncio
import logging
from uuid import UUID

import msgspec

from channels.access import ATTENDING, ChannelFacts
from channels.frames import EventFrame
from channels.names import ChannelName
from hub.domain.awards import unlock_due_achievements
from hub.realtime.instance import Realtime
from hub.rules.periods import utc_datetime
from persistence import progress, sessions
from persistence.identity import SERVICE

__all__ = ["SESSION_UPDATED", "Attendance"]

log = logging.getLogger("hub.live_room")

# The durable event `observe` is registered for (on `session:` channels).
SESSION_UPDATED = "session.updated"


class _Status(msgspec.Struct):
    status: str = ""


_STATUS = msgspec.json.Decoder(_Status)


class Attendance:
    def __init__(self, realtime: Realtime) -> None:
        self._realtime = realtime
        self._db = realtime.services.db
        # (channel, user id) of seat holders this instance marked joined: only they can need `left_at`.
        self._joined: set[tuple[str, str]] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def joined(self, name: ChannelName, user_id: str, facts: ChannelFacts) -> None:
        if facts.session_status == "live" and facts.attendance_status in ATTENDING:
            await self._mark_joined(name, user_id)

    async def _mark_joined(self, name: ChannelName, user_id: str) -> None:
        now = utc_datetime(self._realtime.services.clock())
        async with self._db.transaction(SERVICE) as conn:
            row = await sessions.mark_joined(conn, UUID(name.key), UUID(user_id), now)
            if row is not None and row["joined_at"] == now:  # this join set it: the first one
                await progress.log_activity(conn, UUID(user_id), "session_join", "session", UUID(name.key), {})
                await unlock_due_achievements(conn, UUID(user_id), now)
        if row is not None:
            self._joined.add((str(name), user_id))

    async def left(self, name: ChannelName, user_id: str) -> None:
        channel = str(name)
        if (channel, user_id) not in self._joined:
            return
        if any(sub.user_id == user_id for sub in self._realtime.fanout.subscribers(channel)):
            return
        if user_id in await self._realtime.presence.store.entries(channel):
            return
        self._joined.discard((channel, user_id))
        async with self._db.transaction(SERVICE) as conn:
            await sessions.mark_left(conn, UUID(name.key), UUID(user_id),
                                     utc_datetime(self._realtime.services.clock()))

    def observe(self, name: ChannelName, event: EventFrame) -> None:
        """A `session.updated` passed on live: when it is the session going live, mark who is already in."""
        if _STATUS.decode(event.data).status != "live":
            return
        users = {sub.user_id for sub in self._realtime.fanout.subscribers(event.channel) if not sub.full_view}
        if users:
            task = asyncio.create_task(self._mark_present(name, users), name=f"attendance {name}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _mark_present(self, name: ChannelName, users: set[str]) -> None:
        for user_id in users:
            try:
                await self._mark_joined(name, user_id)
            except Exception:
                log.exception("marking %s joined in %s failed", user_id, name)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
