"""Writes of the live room: chat lines, questions, announcements, question votes, answers, deletions.

Every function runs as `service_role` (the rows are server-owned: users hold no INSERT/UPDATE grant on
`session_messages`), inside the transaction of a caller that has already decided who may do it.
Rows come back with the columns of `persistence.sessions.messages_page`, so one view shows them.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg


async def lock_status(conn: asyncpg.Connection, session_id: UUID) -> str | None:
    """The session's status, with its row locked (FOR NO KEY UPDATE) until the transaction ends: room
    writes of one session queue here before they insert, so `created_at` order is the order of their
    events, and a status transition (FOR UPDATE) waits for them, so nothing is stored after `end`.
    Registrations' foreign-key checks (FOR KEY SHARE) are not blocked."""
    status: str | None = await conn.fetchval(
        "SELECT status FROM public.live_sessions WHERE id = $1 FOR NO KEY UPDATE", session_id
    )
    return status


async def message(conn: asyncpg.Connection, message_id: UUID) -> asyncpg.Record:
    """One message as `persistence.sessions.messages_page` returns it (for the shared view)."""
    row: asyncpg.Record = await conn.fetchrow(
        """
        SELECT m.id, m.session_id, m.author_id, ap.full_name AS author_full_name, m.kind, m.content,
               m.parent_id, m.upvotes_count, m.is_answered, m.is_deleted, m.created_at
        FROM public.session_messages m
        LEFT JOIN public.user_profiles ap ON ap.id = m.author_id
        WHERE m.id = $1
        """,
        message_id,
    )
    return row


async def insert_message(conn: asyncpg.Connection, session_id: UUID, author_id: UUID, kind: str,
                         content: str) -> UUID:
    """A chat line, question or announcement, stored as given; its id. `created_at` is the insert's own
    clock, taken under `lock_status`, so the history's order is the channel's event order."""
    message_id: UUID = await conn.fetchval(
        """
        INSERT INTO public.session_messages (session_id, author_id, kind, content, created_at)
        VALUES ($1, $2, $3, $4, clock_timestamp())
        RETURNING id
        """,
        session_id, author_id, kind, content,
    )
    return message_id


async def lock_question(conn: asyncpg.Connection, session_id: UUID, question_id: UUID) -> bool | None:
    """`is_answered` of a question of the session that is not deleted, None when there is no such
    question. Its row stays locked: the answer and the votes of one question queue here, so their
    notifications follow commit order."""
    answered: bool | None = await conn.fetchval(
        """
        SELECT is_answered FROM public.session_messages
        WHERE id = $2 AND session_id = $1 AND kind = 'question' AND NOT is_deleted
        FOR UPDATE
        """,
        session_id, question_id,
    )
    return answered


async def add_question_vote(conn: asyncpg.Connection, question_id: UUID, user_id: UUID) -> bool:
    """One vote per user and question; False (nothing changed) for a repeat. The counter trigger keeps
    `upvotes_count` equal to the rows."""
    inserted: UUID | None = await conn.fetchval(
        """
        INSERT INTO public.session_message_votes (message_id, user_id) VALUES ($1, $2)
        ON CONFLICT (message_id, user_id) DO NOTHING
        RETURNING message_id
        """,
        question_id, user_id,
    )
    return inserted is not None


async def question_upvotes(conn: asyncpg.Connection, question_id: UUID) -> int:
    upvotes: int = await conn.fetchval(
        "SELECT upvotes_count FROM public.session_messages WHERE id = $1", question_id
    )
    return upvotes


async def mark_answered(conn: asyncpg.Connection, question_id: UUID) -> None:
    """Sets `is_answered` (the caller holds the question's lock from `lock_question`)."""
    await conn.execute("UPDATE public.session_messages SET is_answered = true WHERE id = $1", question_id)


async def delete_chat_line(conn: asyncpg.Connection, session_id: UUID, message_id: UUID,
                           kinds: tuple[str, ...] = ("chat",)) -> bool | None:
    """Soft-deletes a chat line (or another of `kinds`: a report's removal takes questions too) of the
    session; its text moves to the server-only `private.deleted_content`
    (migration 0017's trigger, `deleted_by` = `auth.uid()`) and its logged `chat.message` is redacted
    (0020's). None: no such chat line; True: deleted now; False: it was deleted already (nothing changed)."""
    deleted_now: bool | None = await conn.fetchval(
        """
        WITH target AS (
            SELECT id, is_deleted FROM public.session_messages
            WHERE id = $2 AND session_id = $1 AND kind = ANY($3::text[])
            FOR UPDATE
        ), changed AS (
            UPDATE public.session_messages m SET is_deleted = true
            FROM target WHERE m.id = target.id AND NOT target.is_deleted
            RETURNING m.id
        )
        SELECT EXISTS (SELECT 1 FROM changed) FROM target
        """,
        session_id, message_id, list(kinds),
    )
    return deleted_now


# ---------------------------------------------------------------- moderation (migration 0021)
# Callers hold the session's row lock (`lock_status` or `persistence.sessions.lock_session`), so these rows
# change in the room's order and a line's gate reads them after every moderation that committed before it.


async def line_gate(conn: asyncpg.Connection, session_id: UUID, user_id: UUID) -> asyncpg.Record:
    """What `channels.moderation.decide_line` decides a line of `user_id` on: (now, slow_mode_seconds,
    chat_locked, muted_until, kicked, last_chat_at), `now` by the clock that stamps `created_at`."""
    row: asyncpg.Record = await conn.fetchrow(
        """
        SELECT clock_timestamp() AS now,
               coalesce(r.slow_mode_seconds, 0) AS slow_mode_seconds,
               coalesce(r.chat_locked, false) AS chat_locked,
               s.muted_until,
               s.kicked_at IS NOT NULL AS kicked,
               (SELECT m.created_at FROM public.session_messages m
                WHERE m.session_id = $1 AND m.author_id = $2 AND m.kind = 'chat'
                ORDER BY m.created_at DESC LIMIT 1) AS last_chat_at
        FROM (SELECT) AS one
        LEFT JOIN public.session_room_settings r ON r.session_id = $1
        LEFT JOIN public.session_room_sanctions s ON s.session_id = $1 AND s.user_id = $2
        """,
        session_id, user_id,
    )
    return row


async def room_settings(conn: asyncpg.Connection, session_id: UUID) -> tuple[int, bool]:
    """(slow_mode_seconds, chat_locked); a room never moderated has (0, False). Read as the caller, RLS
    admits the host, admins and seat holders."""
    row = await conn.fetchrow(
        "SELECT slow_mode_seconds, chat_locked FROM public.session_room_settings WHERE session_id = $1",
        session_id,
    )
    return (0, False) if row is None else (row["slow_mode_seconds"], row["chat_locked"])


async def store_room_settings(conn: asyncpg.Connection, session_id: UUID, slow_mode_seconds: int,
                              chat_locked: bool) -> None:
    await conn.execute(
        """
        INSERT INTO public.session_room_settings (session_id, slow_mode_seconds, chat_locked)
        VALUES ($1, $2, $3)
        ON CONFLICT (session_id) DO UPDATE
        SET slow_mode_seconds = excluded.slow_mode_seconds, chat_locked = excluded.chat_locked, updated_at = now()
        """,
        session_id, slow_mode_seconds, chat_locked,
    )


async def mute(conn: asyncpg.Connection, session_id: UUID, user_id: UUID, minutes: int) -> datetime:
    """Mutes `user_id` from now for `minutes` (a new mute replaces one still running); the end."""
    until: datetime = await conn.fetchval(
        """
        INSERT INTO public.session_room_sanctions (session_id, user_id, muted_until)
        VALUES ($1, $2, clock_timestamp() + make_interval(mins => $3))
        ON CONFLICT (session_id, user_id) DO UPDATE SET muted_until = excluded.muted_until
        RETURNING muted_until
        """,
        session_id, user_id, minutes,
    )
    return until


async def unmute(conn: asyncpg.Connection, session_id: UUID, user_id: UUID) -> bool:
    """Ends a running mute; False (nothing changed) when there is none."""
    ended: UUID | None = await conn.fetchval(
        """
        UPDATE public.session_room_sanctions SET muted_until = NULL
        WHERE session_id = $1 AND user_id = $2 AND muted_until > clock_timestamp()
        RETURNING user_id
        """,
        session_id, user_id,
    )
    return ended is not None


async def kick(conn: asyncpg.Connection, session_id: UUID, user_id: UUID) -> None:
    """Records the kick (which bars registering again) and ends any mute, which no longer matters."""
    await conn.execute(
        """
        INSERT INTO public.session_room_sanctions (session_id, user_id, kicked_at)
        VALUES ($1, $2, clock_timestamp())
        ON CONFLICT (session_id, user_id) DO UPDATE SET kicked_at = excluded.kicked_at, muted_until = NULL
        """,
        session_id, user_id,
    )


async def is_kicked(conn: asyncpg.Connection, session_id: UUID, user_id: UUID) -> bool:
    """Whether `user_id` was kicked from the session's room. Runs as `service_role` (kicks are server-only)."""
    kicked: bool = await conn.fetchval(
        """
        SELECT EXISTS (SELECT FROM public.session_room_sanctions
                       WHERE session_id = $1 AND user_id = $2 AND kicked_at IS NOT NULL)
        """,
        session_id, user_id,
    )
    return kicked


async def current_mutes(conn: asyncpg.Connection, session_id: UUID) -> list[asyncpg.Record]:
    """(user_id, muted_until) of the mutes still running, ending soonest first. Read as the caller."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT user_id, muted_until FROM public.session_room_sanctions
        WHERE session_id = $1 AND muted_until > clock_timestamp()
        ORDER BY muted_until, user_id
        """,
        session_id,
    )
    return rows
