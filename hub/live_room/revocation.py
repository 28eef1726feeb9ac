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
from channels.frames import encode_error
from channels.names import parse_channel
from hub.realtime.instance import Realtime

__all__ = ["Revocation"]

log = logging.getLogger("hub.live_room")

_MARK = '"event":"participant.cancelled"'


class _Who(msgspec.Struct):
    user_id: str


class _Cancelled(msgspec.Struct):
    data: _Who


_CANCELLED = msgspec.json.Decoder(_Cancelled)


class Revocation:
    def __init__(self, realtime: Realtime) -> None:
        self._realtime = realtime
        self._tasks: set[asyncio.Task[None]] = set()

    def observe(self, channel: str, frame: str) -> None:
        """A durable event passed on live: on a cancellation, revoke that user's subscriptions here."""
        if not channel.startswith("session:") or _MARK not in frame:
            return
        user_id = _CANCELLED.decode(frame).data.user_id
        task = asyncio.create_task(self._revoke(channel, user_id), name=f"revoke {channel}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _revoke(self, channel: str, user_id: str) -> None:
        name = parse_channel(channel)
        notice = encode_error(Forbidden("Your registration was cancelled", details={"channel": channel})).decode()
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
