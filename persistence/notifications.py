"""The notification inbox (`public.notifications`) and the email preferences (`private.notification_settings`).

`insert` and the settings run as `service_role` (the hub writes every row, for the user a cause concerns);
the inbox reads and `mark_read` run as the caller, whose RLS shows and lets them mark their own rows only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg


async def insert(conn: asyncpg.Connection, user_id: UUID, kind: str, data: dict[str, Any], *,
                 emailed: bool) -> asyncpg.Record:
    """`emailed`: stored as mailed already (its cause mails it itself)."""
    row: asyncpg.Record = await conn.fetchrow(
        """
        INSERT INTO public.notifications (user_id, kind, data, emailed_at)
        VALUES ($1, $2, $3, CASE WHEN $4 THEN clock_timestamp() END)
        RETURNING id, kind, data, read_at, created_at
        """,
        user_id, kind, data, emailed)
    return row


async def page(conn: asyncpg.Connection, user_id: UUID, *, unread_only: bool, after: tuple[datetime, UUID] | None,
               limit: int) -> list[asyncpg.Record]:
    """The user's inbox newest first, keyset-paged on (created_at, id)."""
    after_at, after_id = after if after is not None else (None, None)
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT id, kind, data, read_at, created_at FROM public.notifications
        WHERE user_id = $1 AND (NOT $2 OR read_at IS NULL)
          AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4::uuid))
        ORDER BY created_at DESC, id DESC
        LIMIT $5
        """,
        user_id, unread_only, after_at, after_id, limit)
    return rows


async def unread_count(conn: asyncpg.Connection, user_id: UUID) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM public.notifications WHERE user_id = $1 AND read_at IS NULL", user_id)
    return count


async def mark_read(conn: asyncpg.Connection, user_id: UUID, ids: list[UUID] | None) -> int:
    """Marks the user's unread notifications among `ids` (all of them for None) read; how many it marked.
    Ids of other users' rows match nothing (RLS and the `user_id` filter both)."""
    status: str = await conn.execute(
        """
        UPDATE public.notifications SET read_at = clock_timestamp()
        WHERE user_id = $1 AND read_at IS NULL AND ($2::uuid[] IS NULL OR id = ANY($2))
        """,
        user_id, ids)
    return int(status.split()[-1])


async def email_settings(conn: asyncpg.Connection, user_id: UUID) -> dict[str, bool]:
    """The kinds the user set email on or off for; other kinds keep the hub's default."""
    rows = await conn.fetch("SELECT kind, email FROM private.notification_settings WHERE user_id = $1", user_id)
    return {row["kind"]: row["email"] for row in rows}


async def set_email_settings(conn: asyncpg.Connection, user_id: UUID, email: dict[str, bool]) -> None:
    await conn.execute(
        """
        INSERT INTO private.notification_settings (user_id, kind, email)
        SELECT $1, s.kind, s.email FROM unnest($2::text[], $3::boolean[]) AS s (kind, email)
        ON CONFLICT (user_id, kind) DO UPDATE SET email = excluded.email
        """,
        user_id, list(email), list(email.values()))


async def session_audience(conn: asyncpg.Connection, session_id: UUID) -> list[UUID]:
    """Who a session's reschedule, cancellation or reminder concerns: its registered and waitlisted users."""
    rows = await conn.fetch(
        """
        SELECT user_id FROM public.session_participants
        WHERE session_id = $1 AND attendance_status IN ('registered', 'waitlisted')
        ORDER BY created_at, user_id
        """,
        session_id)
    return [row["user_id"] for row in rows]


async def oldest_awaiting_mail(conn: asyncpg.Connection, user_id: UUID, kinds: Sequence[str]) -> UUID:
    """The user's oldest unread notification of `kinds` not yet in a digest mail (the one just inserted
    when no other waits)."""
    found: UUID = await conn.fetchval(
        """
        SELECT id FROM public.notifications
        WHERE user_id = $1 AND read_at IS NULL AND emailed_at IS NULL AND kind = ANY($2::text[])
        ORDER BY created_at, id LIMIT 1
        """,
        user_id, kinds)
    return found


async def created_at(conn: asyncpg.Connection, notification_id: UUID) -> datetime | None:
    at: datetime | None = await conn.fetchval("SELECT created_at FROM public.notifications WHERE id = $1",
                                              notification_id)
    return at


async def take_for_digest(conn: asyncpg.Connection, user_id: UUID, kinds: Sequence[str]) -> list[asyncpg.Record]:
    """Marks the user's unread notifications of `kinds` that no mail carried yet as mailed now, and returns
    them oldest first; one whose reply or post is hidden waits (for its dismissal, or its pruning). The user's
    digests queue on a transaction lock, so two never take the same rows."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('digest:' || $1::uuid::text, 0))", user_id)
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        UPDATE public.notifications SET emailed_at = clock_timestamp()
        WHERE user_id = $1 AND read_at IS NULL AND emailed_at IS NULL AND kind = ANY($2::text[])
          AND NOT data @> '{"hidden": true}'::jsonb
        RETURNING id, kind, data, created_at
        """,
        user_id, kinds)
    return sorted(rows, key=lambda r: (r["created_at"], r["id"]))
