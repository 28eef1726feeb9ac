"""Reports and the moderation queue (`private.reports`), and the `hidden_at` mark of reported content.

`target_facts` runs as the caller, so RLS decides whether the reporter may see the target at all; every
other function runs as `service_role` (the table is server-only). One statement per target type, picked
from constant maps: no SQL is built from strings.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

# (author_id, removed, post_id, session_id) of a target; for a user target the "author" is the user.
# Session messages: chat lines and questions (what participants write; announcements and answers are the
# host's).
_TARGET_FACTS = {
    "post": """SELECT author_id, false AS removed, id AS post_id, NULL::uuid AS session_id
               FROM public.community_posts WHERE id = $1""",
    "comment": """SELECT author_id, is_deleted AS removed, post_id, NULL::uuid AS session_id
                  FROM public.community_comments WHERE id = $1""",
    "session_message": """SELECT author_id, is_deleted AS removed, NULL::uuid AS post_id, session_id
                          FROM public.session_messages WHERE id = $1 AND kind IN ('chat', 'question')""",
    "user": """SELECT id AS author_id, false AS removed, NULL::uuid AS post_id, NULL::uuid AS session_id
               FROM public.user_profiles WHERE id = $1""",
}

# Marks the target hidden once `$3` distinct users hold open reports on it (reporters are distinct: one
# report per reporter and target). A row already hidden keeps its first moment. One statement for the
# three tables: `$1` (the target type) selects which of them the update can touch.
HIDE = """
WITH reached AS (
    SELECT count(*) >= $3 AS yes FROM private.reports r
    WHERE r.target_type = $1::text AND r.target_id = $2 AND r.status = 'open'
), posts AS (
    UPDATE public.community_posts SET hidden_at = now()
    WHERE $1::text = 'post' AND id = $2 AND hidden_at IS NULL AND (SELECT yes FROM reached) RETURNING 1
), comments AS (
    UPDATE public.community_comments SET hidden_at = now()
    WHERE $1::text = 'comment' AND id = $2 AND hidden_at IS NULL AND (SELECT yes FROM reached) RETURNING 1
), lines AS (
    UPDATE public.session_messages SET hidden_at = now()
    WHERE $1::text = 'session_message' AND id = $2 AND hidden_at IS NULL AND (SELECT yes FROM reached)
    RETURNING 1
)
SELECT (SELECT count(*) FROM posts) + (SELECT count(*) FROM comments) + (SELECT count(*) FROM lines)
"""

UNHIDE = """
WITH posts AS (
    UPDATE public.community_posts SET hidden_at = NULL
    WHERE $1::text = 'post' AND id = $2 AND hidden_at IS NOT NULL RETURNING 1
), comments AS (
    UPDATE public.community_comments SET hidden_at = NULL
    WHERE $1::text = 'comment' AND id = $2 AND hidden_at IS NOT NULL RETURNING 1
), lines AS (
    UPDATE public.session_messages SET hidden_at = NULL
    WHERE $1::text = 'session_message' AND id = $2 AND hidden_at IS NOT NULL RETURNING 1
)
SELECT (SELECT count(*) FROM posts) + (SELECT count(*) FROM comments) + (SELECT count(*) FROM lines)
"""

# The queue: open (or resolved) reports grouped by target, the newest report first, keyset-paged on
# (newest report time, target id); each group with the reported content as it is now (null when gone)
# and its newest `$5` reports.
QUEUE_PAGE = """
WITH grouped AS (
    SELECT r.target_type, r.target_id, count(*) AS report_count,
           array_agg(DISTINCT r.reason ORDER BY r.reason) AS reasons, max(r.created_at) AS newest_at
    FROM private.reports r
    WHERE r.status = $1
    GROUP BY r.target_type, r.target_id
    HAVING $2::timestamptz IS NULL OR (max(r.created_at), r.target_id) < ($2, $3::uuid)
    ORDER BY newest_at DESC, r.target_id DESC
    LIMIT $4
)
SELECT g.target_type, g.target_id, g.report_count, g.reasons, g.newest_at,
       (SELECT jsonb_agg(jsonb_build_object('id', x.id, 'reporter_id', x.reporter_id, 'reason', x.reason,
                                            'details', x.details, 'created_at', x.created_at,
                                            'outcome', x.outcome, 'note', x.note, 'resolved_at', x.resolved_at)
                         ORDER BY x.created_at DESC, x.id DESC)
        FROM (SELECT * FROM private.reports x
              WHERE x.target_type = g.target_type AND x.target_id = g.target_id AND x.status = $1
              ORDER BY x.created_at DESC, x.id DESC LIMIT $5) x) AS reports,
       coalesce(p.title, cp.title) AS title,
       coalesce(p.content, c.content, m.content) AS body,
       coalesce(c.post_id, p.id) AS post_id, m.session_id,
       coalesce(p.hidden_at, c.hidden_at, m.hidden_at) IS NOT NULL AS hidden,
       CASE g.target_type WHEN 'post' THEN p.id IS NULL
                          WHEN 'comment' THEN c.id IS NULL OR c.is_deleted
                          WHEN 'session_message' THEN m.id IS NULL OR m.is_deleted
                          ELSE u.id IS NULL END AS removed,
       u.id AS author_id, a.full_name AS author_name, u.email AS author_email
FROM grouped g
LEFT JOIN public.community_posts p ON g.target_type = 'post' AND p.id = g.target_id
LEFT JOIN public.community_comments c ON g.target_type = 'comment' AND c.id = g.target_id
LEFT JOIN public.community_posts cp ON cp.id = c.post_id
LEFT JOIN public.session_messages m ON g.target_type = 'session_message' AND m.id = g.target_id
LEFT JOIN auth.users u ON u.id = CASE WHEN g.target_type = 'user' THEN g.target_id
                                      ELSE coalesce(p.author_id, c.author_id, m.author_id) END
LEFT JOIN public.user_profiles a ON a.id = u.id
ORDER BY g.newest_at DESC, g.target_id DESC
"""


async def target_facts(conn: asyncpg.Connection, target_type: str, target_id: UUID) -> asyncpg.Record | None:
    """(author_id, removed, post_id, session_id) of the target as the transaction's role sees it; None when
    it does not exist or is not visible."""
    row: asyncpg.Record | None = await conn.fetchrow(_TARGET_FACTS[target_type], target_id)
    return row


async def insert(conn: asyncpg.Connection, reporter_id: UUID, target_type: str, target_id: UUID, reason: str,
                 details: str | None) -> asyncpg.Record | None:
    """The new report (id, target_type, target_id, reason, status, created_at); None when this reporter
    already reported this target. Reports of one target queue on a transaction lock until commit, so the
    count of `hide_when_reported`, a later statement with a fresh snapshot, sees every report committed
    before this one: two reports filed at once cannot both miss the threshold."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('report:' || $1::uuid::text, 0))", target_id)
    row: asyncpg.Record | None = await conn.fetchrow(
        """
        INSERT INTO private.reports (reporter_id, target_type, target_id, reason, details)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT ON CONSTRAINT reports_once_per_reporter DO NOTHING
        RETURNING id, target_type, target_id, reason, status, created_at
        """,
        reporter_id, target_type, target_id, reason, details,
    )
    return row


async def hide_when_reported(conn: asyncpg.Connection, target_type: str, target_id: UUID, threshold: int) -> bool:
    """Hides the content once `threshold` users hold open reports on it; True when this call hid it."""
    hidden: int = await conn.fetchval(HIDE, target_type, target_id, threshold)
    return hidden == 1


async def unhide(conn: asyncpg.Connection, target_type: str, target_id: UUID) -> None:
    await conn.execute(UNHIDE, target_type, target_id)


async def target_of(conn: asyncpg.Connection, report_id: UUID) -> asyncpg.Record | None:
    """(target_type, target_id) of any report, open or resolved."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT target_type, target_id FROM private.reports WHERE id = $1", report_id)
    return row


async def resolve_open(conn: asyncpg.Connection, target_type: str, target_id: UUID, *, resolved_by: UUID,
                       outcome: str, note: str | None) -> list[asyncpg.Record]:
    """Resolves every open report on the target; their (id, reporter_id). Empty when none was open (a
    concurrent resolve waits on the rows' locks, then finds them resolved)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        UPDATE private.reports
        SET status = 'resolved', resolved_at = clock_timestamp(), resolved_by = $3, outcome = $4, note = $5
        WHERE target_type = $1 AND target_id = $2 AND status = 'open'
        RETURNING id, reporter_id
        """,
        target_type, target_id, resolved_by, outcome, note,
    )
    return rows


async def queue_page(conn: asyncpg.Connection, status: str, after: tuple[datetime, UUID] | None, limit: int,
                     reports_per_target: int) -> list[asyncpg.Record]:
    after_at, after_id = after if after is not None else (None, None)
    rows: list[asyncpg.Record] = await conn.fetch(QUEUE_PAGE, status, after_at, after_id, limit,
                                                  reports_per_target)
    return rows
