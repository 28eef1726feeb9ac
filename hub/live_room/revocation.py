"""A participant who cancels, or whom the host kicks, loses the room at once, not at their next reconnect.

Access to `session:<id>` is decided at subscribe time; a `participant.cancelled` or `participant.kicked`
event for a user (every instance sees it through its listener, in order) makes each of that user's local
connections drop the subscription and hear a `forbidden` error naming the channel. The event itself was
delivered to them first, so a client learns why. Admins keep their subscription: they may watch any room.

A subscribe in flight when the event passes (its facts possibly read before the event committed) is left
to decide again before its reply (`Subscriptions.access_revoked`): it is answered `forbidden` instead.
"""

from __future__ import annotations

import asyncio
import logging

import msgspec

from channels.errors import Forbidden
from channels.frames import EventFrame, OutFrame, encode_error
from channels.names import ChannelName
from hub.realtime.instance import Realtime

__all__ = ["PARTICIPANT_CANCELLED", "PARTICIPANT_KICKED", "Revocation"]

log = logging.getLogger("hub.live_room")

# The durable events `observe` is registered for (on `session:` channels), and what each tells the user.
PARTICIPANT_CANCELLED = "participant.cancelled"
PARTICIPANT_KICKED = "participant.kicked"
_NOTICES = {
    PARTICIPANT_CANCELLED: "Your registration was cancelled",
    PARTICIPANT_KICKED: "You were removed from this room",
}


class _Who(msgspec.Struct):
    user_id: str


_WHO = msgspec.json.Decoder(_Who)


class Revocation:
    def __init__(self, realtime: Realtime) -> None:
        self._realtime = realtime
        self._tasks: set[asyncio.Task[None]] = set()

    def observe(self, name: ChannelName, event: EventFrame) -> None:
        """A `participant.cancelled` or `participant.kicked` passed on live: revoke that user's subscriptions here."""
        user_id = _WHO.decode(event.data).user_id
        self._realtime.subscriptions.access_revoked()
        task = asyncio.create_task(self._revoke(name, user_id, _NOTICES[event.event]), name=f"revoke {name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _revoke(self, name: ChannelName, user_id: str, message: str) -> None:
        channel = str(name)
        notice = OutFrame(encode_error(Forbidden(message, details={"channel": channel})))
        for peer in list(self._realtime.peers):
            identity = peer.identity
            sub = peer.connection.subscriptions.get(channel)
            if (identity is None or str(identity.user_id) != user_id or identity.is_admin
                    or sub is None or not self._realtime.subscriptions.revocable(sub)):
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
