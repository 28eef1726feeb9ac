"""A participant who cancels loses the room at once, not at their next reconnect.

Access to `session:<id>` is decided at subscribe time; a `participant.cancelled` event for a user (every
instance sees it through its listener, in order) makes each of that user's local connections drop the
subscription and hear a `forbidden` error naming the channel. Admins keep their subscription: they may
watch any room.
"""

from __future__ import annotations

import asyncio
import logging

import msgspec

from channels.errors import Forbidden
from channels.frames import EventFrame, OutFrame, encode_error
from channels.names import ChannelName
from hub.realtime.instance import Realtime

__all__ = ["PARTICIPANT_CANCELLED", "Revocation"]

log = logging.getLogger("hub.live_room")

# The durable event `observe` is registered for (on `session:` channels).
PARTICIPANT_CANCELLED = "participant.cancelled"


class _Who(msgspec.Struct):
    user_id: str


_WHO = msgspec.json.Decoder(_Who)


class Revocation:
    def __init__(self, realtime: Realtime) -> None:
        self._realtime = realtime
        self._tasks: set[asyncio.Task[None]] = set()

    def observe(self, name: ChannelName, event: EventFrame) -> None:
        """A `participant.cancelled` passed on live: revoke that user's subscriptions here."""
        user_id = _WHO.decode(event.data).user_id
        task = asyncio.create_task(self._revoke(name, user_id), name=f"revoke {name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _revoke(self, name: ChannelName, user_id: str) -> None:
        channel = str(name)
        notice = OutFrame(encode_error(Forbidden("Your registration was cancelled", details={"channel": channel})))
        for peer in list(self._realtime.peers):
            identity = peer.identity
            if (identity is None or str(identity.user_id) != user_id or identity.is_admin
                    or channel not in peer.connection.subscriptions):
                continue
            try:
                await self._realtime.subscriptions.unsubscribe(peer, name)
                peer.outbox.push(notice)
            except Exception:
                log.exception("revoking %s from %s failed", user_id, channel)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
