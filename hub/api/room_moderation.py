"""The moderation state of a live session's room, for a client (re)joining it: slow mode, the chat lock and
the mutes still running. The host and admins change it with publishes on `session:<id>`
(`hub.live_room.moderation`), whose durable events keep a subscribed client's copy current."""

from __future__ import annotations

from uuid import UUID

from litestar import get
from litestar.params import FromPath

from hub.auth import AppServices, Caller
from hub.domain.room_moderation import RoomModeration, read_moderation
from hub.domain.sessions import require_room_reader


@get("/api/sessions/{session_id:uuid}/moderation", tags=["sessions"])
async def room_moderation(session_id: FromPath[UUID], user: Caller, services: AppServices) -> RoomModeration:
    """`{session_id, slow_mode_seconds, chat_locked, muted: [{user_id, until}]}`, for those the session
    channel admits (host, admins, seat holders); 403 for anyone else."""
    async with services.db.transaction(user) as conn:
        await require_room_reader(conn, user, session_id)
        return await read_moderation(conn, session_id)


ROUTES = [room_moderation]
