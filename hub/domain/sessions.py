"""Live sessions: the one view of a session, reading it as a viewer sees it, and announcing changes.

The view is the JSON shape of a session for REST and for the `session.updated` event on `session:<id>`.
`meeting_url` is shown only to the host, admins and seat holders; the event carries the view as a
participant without a seat sees it (`meeting_url` null), because the channel's log is replayed to
whoever subscribes later. Seat holders read the link through `GET /api/sessions/{id}`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from channels.names import ChannelName
from hub.errors import Forbidden, NotFound
from hub.pagination import Aware, cursor_key
from hub.rules.session_state import admitted, may_host
from persistence import sessions
from persistence.db import set_identity
from persistence.events import append_event
from persistence.identity import SERVICE, Identity


class Host(msgspec.Struct):
    id: UUID
    full_name: str | None
    avatar_url: str | None


class SessionView(msgspec.Struct):
    """A session as its events carry it."""

    id: UUID
    title: str
    description: str | None
    host_id: UUID
    host: Host
    session_type: str
    scheduled_at: datetime
    duration: timedelta
    max_participants: int | None
    current_participants: int
    waitlist_count: int
    meeting_url: str | None
    recording_url: str | None
    is_recorded: bool
    status: str
    prerequisites: dict[str, Any] | None
    tags: list[str] | None
    created_at: datetime
    updated_at: datetime


class ViewedSession(SessionView):
    """The session as one viewer sees it over REST: the shared view plus the viewer's own `my_status`
    (registered, waitlisted, … or null), which events cannot carry."""

    my_status: str | None


def _fields(row: asyncpg.Record, waitlist_count: int, show_meeting_url: bool) -> dict[str, Any]:
    return {
        "id": row["id"],
        "title": row["title"],
        "description": row["description"],
        "host_id": row["host_id"],
        "host": Host(id=row["host_id"], full_name=row["host_full_name"], avatar_url=row["host_avatar_url"]),
        "session_type": row["session_type"],
        "scheduled_at": row["scheduled_at"],
        "duration": row["duration"],
        "max_participants": row["max_participants"],
        "current_participants": row["current_participants"],
        "waitlist_count": waitlist_count,
        "meeting_url": row["meeting_url"] if show_meeting_url else None,
        "recording_url": row["recording_url"],
        "is_recorded": row["is_recorded"],
        "status": row["status"],
        "prerequisites": row["prerequisites"],
        "tags": row["tags"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def session_view(row: asyncpg.Record, waitlist_count: int, *, show_meeting_url: bool) -> SessionView:
    """A `persistence.sessions.session_rows` row as the API shows it."""
    return SessionView(**_fields(row, waitlist_count, show_meeting_url))


def view_for(viewer: Identity, row: asyncpg.Record, waitlist_count: int) -> ViewedSession:
    """The session as `viewer` sees it over REST."""
    hosts = may_host(viewer.user_id, row["host_id"], viewer.is_admin)
    return ViewedSession(**_fields(row, waitlist_count, admitted(hosts, row["my_status"])),
                         my_status=row["my_status"])


async def read_sessions(conn: asyncpg.Connection, viewer: Identity,
                        session_ids: list[UUID]) -> list[tuple[asyncpg.Record, int]]:
    """(row, waitlist count) per session. The rows are read as the current role; the counts need
    `service_role` (other users' participant rows are hidden), so the transaction is left in it."""
    rows = await sessions.session_rows(conn, session_ids, viewer.user_id)
    await set_identity(conn, SERVICE)
    counts = await sessions.status_counts(conn, session_ids)
    return [(row, counts[row["id"]]["waitlisted"]) for row in rows]


async def announce_update(conn: asyncpg.Connection, viewer: Identity, session_id: UUID) -> ViewedSession:
    """Appends `session.updated` and returns the session as `viewer` sees it."""
    [(row, waitlisted)] = await read_sessions(conn, viewer, [session_id])
    await append_event(conn, ChannelName.session(session_id), "session.updated",
                       session_view(row, waitlisted, show_meeting_url=False))
    return view_for(viewer, row, waitlisted)


async def require_hosting(conn: asyncpg.Connection, user: Identity, session_id: UUID) -> None:
    """404 for a missing session, 403 unless the caller is its host or an admin."""
    facts = await sessions.channel_facts(conn, session_id, user.user_id)
    if facts is None:
        raise NotFound("Session not found")
    if not may_host(user.user_id, facts["host_id"], user.is_admin):
        raise Forbidden("Only the session's host or an admin may do this")


async def require_room_reader(conn: asyncpg.Connection, user: Identity, session_id: UUID) -> None:
    """404 for a missing session, 403 unless the session channel admits the caller (host, admins, seat
    holders): who may read the room's history and its moderation state."""
    facts = await sessions.channel_facts(conn, session_id, user.user_id)
    if facts is None:
        raise NotFound("Session not found")
    if not admitted(may_host(user.user_id, facts["host_id"], user.is_admin), facts["attendance_status"]):
        raise Forbidden("Only the host, admins and registered participants may read this session")


def time_id_cursor(cursor: str | None) -> tuple[datetime, UUID] | None:
    """The key of a cursor over (created_at or scheduled_at, id)."""
    return cursor_key(cursor, tuple[Aware, UUID])
