"""Accounts as admins list them: search by email or full name, newest first. Runs as `service_role`."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg


def contains_pattern(text: str) -> str:
    """An ILIKE pattern (escape character `\\`) matching `text` anywhere, its wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def search(conn: asyncpg.Connection, *, query: str | None = None, user_id: UUID | None = None,
                 after: tuple[datetime, UUID] | None = None, limit: int = 1) -> list[asyncpg.Record]:
    """Accounts (deleted ones too) whose email or profile full name contains `query` (case-insensitive), or
    the one `user_id`, newest first, after the keyset `(created_at, id)` when given."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT u.id, u.email, p.full_name, u.raw_app_meta_data ->> 'role' AS role, u.banned_until,
               u.created_at, u.last_sign_in_at, u.deleted_at IS NOT NULL AS deleted
        FROM auth.users u LEFT JOIN public.user_profiles p ON p.id = u.id
        WHERE ($1::text IS NULL OR u.email ILIKE $1 ESCAPE '\\' OR p.full_name ILIKE $1 ESCAPE '\\')
          AND ($2::uuid IS NULL OR u.id = $2)
          AND ($3::timestamptz IS NULL OR (u.created_at, u.id) < ($3, $4::uuid))
        ORDER BY u.created_at DESC, u.id DESC
        LIMIT $5
        """,
        None if query is None else contains_pattern(query), user_id,
        after[0] if after else None, after[1] if after else None, limit,
    )
    return rows
