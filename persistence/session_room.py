"""Writes of the live room: chat lines, questions, announcements, question votes, answers, deletions.

Every function runs as `service_role` (the rows are server-owned: users hold no INSERT/UPDATE grant on
`session_messages`), inside the transaction of a caller that has already decided who may do it.
Rows come back with the columns of `persistence.sessions.messages_page`, so one view shows them.
"""

from __future__ import annotations

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


async def delete_chat_line(conn: asyncpg.Connection, session_id: UUID, message_id: UUID) -> bool | None:
    """Soft-deletes a chat line of the session; its text moves to the server-only `private.deleted_content`
    (migration 0017's trigger, `deleted_by` = `auth.uid()`) and its logged `chat.message` is redacted
    (0020's). None: no such chat line; True: deleted now; False: it was deleted already (nothing changed)."""
    deleted_now: bool | None = await conn.fetchval(
        """
        WITH target AS (
            SELECT id, is_deleted FROM public.session_messages
            WHERE id = $2 AND session_id = $1 AND kind = 'chat'
            FOR UPDATE
        ), changed AS (
            UPDATE public.session_messages m SET is_deleted = true
            FROM target WHERE m.id = target.id AND NOT target.is_deleted
            RETURNING m.id
        )
        SELECT EXISTS (SELECT 1 FROM changed) FROM target
        """,
        session_id, message_id,
    )
    return deleted_now
