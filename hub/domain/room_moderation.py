"""A live room's moderation state: its one REST view and the data of its durable events on `session:<id>`.

The events (`participant.muted {user_id, until}`, `participant.unmuted {user_id}`, `participant.kicked
{user_id}`, `room.slow_mode {seconds}`, `room.chat_locked {locked}`) are appended by the live room
(`hub.live_room.moderation`) and replayed to whoever resumes; a client (re)joining reads the state they
add up to with `GET /api/sessions/{id}/moderation` (`read_moderation`). Kicks are not part of the view: the
kicked participant has left the room, and the log already told everyone in it.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from persistence import session_room


class Muted(msgspec.Struct):
    """A running mute: `participant.muted` and an item of the view's `muted`."""

    user_id: UUID
    until: datetime


class ParticipantRef(msgspec.Struct):
    """`participant.unmuted` and `participant.kicked`."""

    user_id: UUID


class SlowMode(msgspec.Struct):
    """`room.slow_mode`: one chat line per participant every `seconds`; 0 is off."""

    seconds: int


class ChatLocked(msgspec.Struct):
    """`room.chat_locked`: while `locked`, only the host and admins chat."""

    locked: bool


class RoomModeration(msgspec.Struct):
    """`GET /api/sessions/{id}/moderation`: the room's settings and the mutes still running."""

    session_id: UUID
    slow_mode_seconds: int
    chat_locked: bool
    muted: list[Muted]


async def read_moderation(conn: asyncpg.Connection, session_id: UUID) -> RoomModeration:
    """Read as the caller (RLS admits the host, admins and seat holders; the route checked admission)."""
    slow_mode_seconds, chat_locked = await session_room.room_settings(conn, session_id)
    mutes = await session_room.current_mutes(conn, session_id)
    return RoomModeration(session_id=session_id, slow_mode_seconds=slow_mode_seconds, chat_locked=chat_locked,
                          muted=[Muted(user_id=row["user_id"], until=row["muted_until"]) for row in mutes])
