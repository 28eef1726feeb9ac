"""Live sessions, their participants, feedback and message history.

Who runs what: sessions are created, read and edited as the caller (RLS: hosts manage their own, admins
all). Participant rows and `status` are server-owned: they are written as `service_role` after the
route checked the caller. Every writer of a session's participants first takes the session's row lock
(`lock_session`), so seat counting, waitlist order and promotions are serialised per session.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg


async def insert_session(conn: asyncpg.Connection, host_id: UUID, *, title: str, description: str | None,
                         session_type: str, scheduled_at: datetime, duration: timedelta,
                         max_participants: int | None, meeting_url: str | None, recording_url: str | None,
                         is_recorded: bool, prerequisites: dict[str, Any] | None,
                         tags: list[str] | None) -> UUID:
    session_id: UUID = await conn.fetchval(
        """
        INSERT INTO public.live_sessions (title, description, host_id, session_type, scheduled_at, duration,
                                          max_participants, meeting_url, recording_url, is_recorded,
                                          prerequisites, tags)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12)
        RETURNING id
        """,
        title, description, host_id, session_type, scheduled_at, duration, max_participants, meeting_url,
        recording_url, is_recorded, prerequisites, tags,
    )
    return session_id


async def patch_session(conn: asyncpg.Connection, session_id: UUID, patch: dict[str, Any]) -> None:
    """Applies only the keys present in `patch` (JSON values: ISO 8601 text for times and durations);
    absent keys keep their value, explicit nulls clear. Reads the whole row, `meeting_url` included, so
    it runs as `service_role` once the host's own `lock_session` passed."""
    await conn.execute(
        """
        UPDATE public.live_sessions s
        SET (title, description, session_type, scheduled_at, duration, max_participants, meeting_url,
             recording_url, is_recorded, prerequisites, tags)
          = (SELECT r.title, r.description, r.session_type, r.scheduled_at, r.duration, r.max_participants,
                    r.meeting_url, r.recording_url, r.is_recorded, r.prerequisites, r.tags
             FROM jsonb_populate_record(s, $2::jsonb) r)
        WHERE s.id = $1
        """,
        session_id, patch,
    )


async def session_rows(conn: asyncpg.Connection, session_ids: list[UUID],
                       viewer_id: UUID | None) -> list[asyncpg.Record]:
    """The sessions with their host's profile and the viewer's own attendance status (`my_status`),
    in list order (scheduled_at, id). `meeting_url` is null unless the current role may have it (the
    host, admins, seat holders, service_role: the schema's `session_meeting_urls`)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT s.id, s.title, s.description, s.host_id, hp.full_name AS host_full_name,
               hp.avatar_url AS host_avatar_url, s.session_type, s.scheduled_at, s.duration,
               s.max_participants, s.current_participants, mu.meeting_url, s.recording_url, s.is_recorded,
               s.status, s.prerequisites, s.tags, s.created_at, s.updated_at,
               me.attendance_status AS my_status
        FROM public.live_sessions s
        LEFT JOIN public.user_profiles hp ON hp.id = s.host_id
        LEFT JOIN public.session_participants me ON me.session_id = s.id AND me.user_id = $2
        LEFT JOIN public.session_meeting_urls($1::uuid[]) mu ON mu.session_id = s.id
        WHERE s.id = ANY($1::uuid[])
        ORDER BY s.scheduled_at, s.id
        """,
        session_ids, viewer_id,
    )
    return rows


async def list_session_ids(conn: asyncpg.Connection, *, status: str | None, session_type: str | None,
                           scheduled_from: datetime | None, scheduled_to: datetime | None,
                           host_id: UUID | None, after: tuple[datetime, UUID] | None,
                           limit: int) -> list[UUID]:
    """Ids in (scheduled_at, id) order, `scheduled_from <= scheduled_at < scheduled_to`, after the
    keyset `after`; scans `idx_sessions_scheduled` (or the status/host variants)."""
    after_at, after_id = after if after is not None else (None, None)
    rows = await conn.fetch(
        """
        SELECT s.id FROM public.live_sessions s
        WHERE ($1::text IS NULL OR s.status = $1)
          AND ($2::text IS NULL OR s.session_type = $2)
          AND ($3::timestamptz IS NULL OR s.scheduled_at >= $3)
          AND ($4::timestamptz IS NULL OR s.scheduled_at < $4)
          AND ($5::uuid IS NULL OR s.host_id = $5)
          AND ($6::timestamptz IS NULL OR (s.scheduled_at, s.id) > ($6, $7::uuid))
        ORDER BY s.scheduled_at, s.id
        LIMIT $8
        """,
        status, session_type, scheduled_from, scheduled_to, host_id, after_at, after_id, limit,
    )
    return [row["id"] for row in rows]


async def status_counts(conn: asyncpg.Connection, session_ids: list[UUID]) -> dict[UUID, dict[str, int]]:
    """Participants per attendance status for each session (zeros included). Counts are public while the
    rows are not, so callers read them as `service_role`."""
    rows = await conn.fetch(
        """
        SELECT session_id,
               count(*) FILTER (WHERE attendance_status = 'registered') AS registered,
               count(*) FILTER (WHERE attendance_status = 'waitlisted') AS waitlisted,
               count(*) FILTER (WHERE attendance_status = 'attended') AS attended,
               count(*) FILTER (WHERE attendance_status = 'missed') AS missed
        FROM public.session_participants
        WHERE session_id = ANY($1::uuid[])
        GROUP BY session_id
        """,
        session_ids,
    )
    counts = {session_id: {"registered": 0, "waitlisted": 0, "attended": 0, "missed": 0}
              for session_id in session_ids}
    for row in rows:
        counts[row["session_id"]] = {key: int(row[key]) for key in ("registered", "waitlisted", "attended", "missed")}
    return counts


async def lock_session(conn: asyncpg.Connection, session_id: UUID) -> asyncpg.Record | None:
    """Takes the session's row lock until the transaction ends: the one serialisation point for seats,
    waitlist and status. As a user this passes only for the host and admins (UPDATE policy)."""
    return await conn.fetchrow(
        """
        SELECT id, host_id, status, scheduled_at, max_participants, current_participants
        FROM public.live_sessions WHERE id = $1 FOR UPDATE
        """,
        session_id,
    )


async def channel_facts(conn: asyncpg.Connection, session_id: UUID, user_id: UUID | None) -> asyncpg.Record | None:
    """(host_id, status, attendance_status) deciding what `user_id` may do in the session; None when the
    session does not exist. `attendance_status` is None for non-participants."""
    return await conn.fetchrow(
        """
        SELECT s.host_id, s.status, p.attendance_status
        FROM public.live_sessions s
        LEFT JOIN public.session_participants p ON p.session_id = s.id AND p.user_id = $2
        WHERE s.id = $1
        """,
        session_id, user_id,
    )


async def set_status(conn: asyncpg.Connection, session_id: UUID, status: str) -> None:
    """Server-owned column: `service_role` only."""
    await conn.execute("UPDATE public.live_sessions SET status = $2 WHERE id = $1", session_id, status)


async def mark_missed(conn: asyncpg.Connection, session_id: UUID) -> int:
    """At the end: every seat holder who never joined is `missed`."""
    result: str = await conn.execute(
        """
        UPDATE public.session_participants SET attendance_status = 'missed'
        WHERE session_id = $1 AND attendance_status = 'registered' AND joined_at IS NULL
        """,
        session_id,
    )
    return int(result.split()[-1])


async def insert_participant(conn: asyncpg.Connection, session_id: UUID, user_id: UUID,
                             status: str) -> asyncpg.Record:
    """The new row, shaped like `participant`. Callers hold the session lock and found no row for the user
    under it (every writer of participant rows takes that lock), so the insert cannot conflict.
    `created_at` is the insert's own clock, taken under the lock, so (created_at, id) is arrival order
    (now() would be the transaction's start). The statement does not see its own insert: the position
    counts the waitlisted rows before it, plus itself."""
    [row] = await conn.fetch(
        """
        WITH ins AS (
            INSERT INTO public.session_participants (session_id, user_id, attendance_status, created_at)
            VALUES ($1, $2, $3, clock_timestamp())
            RETURNING id, session_id, user_id, attendance_status, joined_at, left_at, created_at
        )
        SELECT ins.session_id, ins.user_id, up.full_name, ins.attendance_status, ins.joined_at, ins.left_at,
               ins.created_at,
               CASE WHEN ins.attendance_status = 'waitlisted' THEN
                   1 + (SELECT count(*) FROM public.session_participants w
                        WHERE w.session_id = ins.session_id AND w.attendance_status = 'waitlisted'
                          AND (w.created_at, w.id) < (ins.created_at, ins.id))
               END AS waitlist_position
        FROM ins
        LEFT JOIN public.user_profiles up ON up.id = ins.user_id
        """,
        session_id, user_id, status,
    )
    return row


async def participant(conn: asyncpg.Connection, session_id: UUID, user_id: UUID) -> asyncpg.Record | None:
    """One participant with their name and FIFO waitlist position (read as `service_role`: the position
    counts other users' rows)."""
    return await conn.fetchrow(
        """
        SELECT p.session_id, p.user_id, up.full_name, p.attendance_status, p.joined_at, p.left_at,
               p.created_at,
               CASE WHEN p.attendance_status = 'waitlisted' THEN
                   (SELECT count(*) FROM public.session_participants w
                    WHERE w.session_id = p.session_id AND w.attendance_status = 'waitlisted'
                      AND (w.created_at, w.id) <= (p.created_at, p.id))
               END AS waitlist_position
        FROM public.session_participants p
        LEFT JOIN public.user_profiles up ON up.id = p.user_id
        WHERE p.session_id = $1 AND p.user_id = $2
        """,
        session_id, user_id,
    )


async def participants_page(conn: asyncpg.Connection, session_id: UUID,
                            after: tuple[str, datetime, UUID] | None, limit: int) -> list[asyncpg.Record]:
    """Everyone in the session, grouped by status and FIFO within it (the waitlist index's order), after
    the keyset `after` = (attendance_status, created_at, id). Same columns as `participant`."""
    after_status, after_at, after_id = after if after is not None else (None, None, None)
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT p.session_id, p.user_id, up.full_name, p.attendance_status, p.joined_at, p.left_at,
               p.created_at, p.id,
               CASE WHEN p.attendance_status = 'waitlisted' THEN
                   (SELECT count(*) FROM public.session_participants w
                    WHERE w.session_id = p.session_id AND w.attendance_status = 'waitlisted'
                      AND (w.created_at, w.id) <= (p.created_at, p.id))
               END AS waitlist_position
        FROM public.session_participants p
        LEFT JOIN public.user_profiles up ON up.id = p.user_id
        WHERE p.session_id = $1
          AND ($2::text IS NULL OR (p.attendance_status, p.created_at, p.id) > ($2, $3::timestamptz, $4::uuid))
        ORDER BY p.attendance_status, p.created_at, p.id
        LIMIT $5
        """,
        session_id, after_status, after_at, after_id, limit,
    )
    return rows


async def delete_participant(conn: asyncpg.Connection, session_id: UUID, user_id: UUID) -> None:
    await conn.execute(
        "DELETE FROM public.session_participants WHERE session_id = $1 AND user_id = $2", session_id, user_id
    )


async def promote_waitlisted(conn: asyncpg.Connection, session_id: UUID, count: int) -> list[UUID]:
    """Moves the first `count` waitlisted (FIFO by created_at, id) to `registered`; their user ids in
    that order."""
    rows = await conn.fetch(
        """
        UPDATE public.session_participants SET attendance_status = 'registered'
        WHERE id IN (SELECT id FROM public.session_participants
                     WHERE session_id = $1 AND attendance_status = 'waitlisted'
                     ORDER BY created_at, id LIMIT $2)
        RETURNING user_id, created_at, id
        """,
        session_id, count,
    )
    return [row["user_id"] for row in sorted(rows, key=lambda row: (row["created_at"], row["id"]))]


async def completed_lessons(conn: asyncpg.Connection, user_id: UUID, lesson_ids: list[str]) -> set[str]:
    """Which of `lesson_ids` (uuid text, as prerequisites store them) the user completed; read as the
    user (RLS: own progress only)."""
    rows = await conn.fetch(
        """
        SELECT lesson_id::text AS lesson_id FROM public.user_progress
        WHERE user_id = $1 AND completed AND lesson_id::text = ANY($2::text[])
        """,
        user_id, lesson_ids,
    )
    return {row["lesson_id"] for row in rows}


async def record_feedback(conn: asyncpg.Connection, session_id: UUID, user_id: UUID, rating: int,
                          text: str | None) -> asyncpg.Record | None:
    """Stores the first feedback only; None when the participant already gave it (a concurrent second
    submission waits on the row and then finds `feedback_rating` set)."""
    return await conn.fetchrow(
        """
        UPDATE public.session_participants SET feedback_rating = $3, feedback_text = $4
        WHERE session_id = $1 AND user_id = $2 AND feedback_rating IS NULL
        RETURNING session_id, user_id, feedback_rating AS rating, feedback_text AS text
        """,
        session_id, user_id, rating, text,
    )


async def mark_joined(conn: asyncpg.Connection, session_id: UUID, user_id: UUID,
                      now: datetime) -> asyncpg.Record | None:
    """A seat holder joins the live room: the first join sets `joined_at` and turns `registered` into
    `attended`; later joins keep both and clear `left_at` (they are back in). Idempotent. None for
    anyone without a seat (waitlisted, missed, not registered). Runs as `service_role`; the caller has
    checked that the session is live."""
    return await conn.fetchrow(
        """
        UPDATE public.session_participants
        SET joined_at = coalesce(joined_at, $3), left_at = NULL, attendance_status = 'attended'
        WHERE session_id = $1 AND user_id = $2 AND attendance_status IN ('registered', 'attended')
        RETURNING session_id, user_id, attendance_status, joined_at, left_at
        """,
        session_id, user_id, now,
    )


async def mark_left(conn: asyncpg.Connection, session_id: UUID, user_id: UUID,
                    now: datetime) -> asyncpg.Record | None:
    """The participant's last connection left the room: sets `left_at`. None if they never joined.
    Runs as `service_role`."""
    return await conn.fetchrow(
        """
        UPDATE public.session_participants SET left_at = $3
        WHERE session_id = $1 AND user_id = $2 AND joined_at IS NOT NULL
        RETURNING session_id, user_id, attendance_status, joined_at, left_at
        """,
        session_id, user_id, now,
    )


async def messages_page(conn: asyncpg.Connection, session_id: UUID, after: tuple[datetime, UUID] | None,
                        limit: int) -> list[asyncpg.Record]:
    """Chat, questions, answers and announcements in (created_at, id) order after the keyset `after`,
    with the author's name; read as the caller (RLS admits the host, admins and seat holders)."""
    after_at, after_id = after if after is not None else (None, None)
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT m.id, m.session_id, m.author_id, ap.full_name AS author_full_name, m.kind, m.content,
               m.parent_id, m.upvotes_count, m.is_answered, m.is_deleted, m.created_at
        FROM public.session_messages m
        LEFT JOIN public.user_profiles ap ON ap.id = m.author_id
        WHERE m.session_id = $1
          AND ($2::timestamptz IS NULL OR (m.created_at, m.id) > ($2, $3::uuid))
        ORDER BY m.created_at, m.id
        LIMIT $4
        """,
        session_id, after_at, after_id, limit,
    )
    return rows
