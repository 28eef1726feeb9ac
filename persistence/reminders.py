"""What a session reminder reads: the session's start as it is now, and who holds a seat, with addresses."""

from __future__ import annotations

from uuid import UUID

import asyncpg


async def session_start(conn: asyncpg.Connection, session_id: UUID) -> asyncpg.Record | None:
    """(title, scheduled_at, status) of a session; None when it is gone."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT title, scheduled_at, status FROM public.live_sessions WHERE id = $1", session_id)
    return row


async def registered_addresses(conn: asyncpg.Connection, session_id: UUID) -> list[asyncpg.Record]:
    """(user_id, email) of the participants holding a seat and not yet joined (`registered`; waitlisted
    ones are not), in a stable order."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT p.user_id, u.email FROM public.session_participants p JOIN auth.users u ON u.id = p.user_id
        WHERE p.session_id = $1 AND p.attendance_status = 'registered' AND u.deleted_at IS NULL
        ORDER BY p.user_id
        """,
        session_id,
    )
    return rows
