"""Pruning of the tables that only grow, one batch at a time (docs/security.md, "Retention").

Each statement deletes at most `limit` rows past the cut-off, found through an index on the age column,
and skips rows another transaction has locked, so a prune never waits on a request or holds many row locks.
A runner repeats a statement until it deletes fewer than `limit` rows. All run as `service_role`; the
returned number is the rows deleted.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg


def _count(status: str) -> int:
    return int(status.split()[-1])


async def prune_idempotency_keys(conn: asyncpg.Connection, before: datetime, limit: int) -> int:
    """Stored results of requests made before `before` (idx_idempotency_keys_created)."""
    return _count(await conn.execute(
        """
        DELETE FROM private.idempotency_keys
        WHERE (user_id, key, route) IN (SELECT user_id, key, route FROM private.idempotency_keys
                                        WHERE created_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)
        """,
        before, limit,
    ))


async def prune_refresh_tokens(conn: asyncpg.Connection, before: datetime, limit: int) -> int:
    """Tokens of families whose every token expired before `before`: a family still in use keeps all its
    tokens, since reuse of an old one must still be recognised and revoke the family
    (idx_private_refresh_tokens_expires, then _family for the live-sibling check)."""
    return _count(await conn.execute(
        """
        DELETE FROM private.refresh_tokens
        WHERE id IN (SELECT t.id FROM private.refresh_tokens t
                     WHERE t.expires_at < $1
                       AND NOT EXISTS (SELECT 1 FROM private.refresh_tokens l
                                       WHERE l.family_id = t.family_id AND l.expires_at >= $1)
                     LIMIT $2 FOR UPDATE SKIP LOCKED)
        """,
        before, limit,
    ))


async def prune_activity_log(conn: asyncpg.Connection, before: datetime, limit: int) -> int:
    """Activity entries written before `before` (idx_activity_log_created). XP, levels, streaks and
    achievements live in their own tables, so nothing is recomputed from the log."""
    return _count(await conn.execute(
        """
        DELETE FROM public.user_activity_log
        WHERE id IN (SELECT id FROM public.user_activity_log
                     WHERE created_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)
        """,
        before, limit,
    ))


async def prune_stripe_events(conn: asyncpg.Connection, before: datetime, limit: int) -> int:
    """Ids of webhook events received before `before` (idx_stripe_events_received)."""
    return _count(await conn.execute(
        """
        DELETE FROM billing.stripe_events
        WHERE id IN (SELECT id FROM billing.stripe_events
                     WHERE received_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)
        """,
        before, limit,
    ))


async def prune_deleted_content(conn: asyncpg.Connection, before: datetime, limit: int) -> int:
    """Kept text of comments and chat lines deleted before `before` (idx_deleted_content_deleted_at); the
    rows themselves stay, with `content` null."""
    return _count(await conn.execute(
        """
        DELETE FROM private.deleted_content
        WHERE (target_type, target_id) IN (SELECT target_type, target_id FROM private.deleted_content
                                           WHERE deleted_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)
        """,
        before, limit,
    ))


async def prune_read_notifications(conn: asyncpg.Connection, before: datetime, limit: int) -> int:
    """Read notifications created before `before` (idx_notifications_created)."""
    return _count(await conn.execute(
        """
        DELETE FROM public.notifications
        WHERE id IN (SELECT id FROM public.notifications WHERE created_at < $1 AND read_at IS NOT NULL
                     LIMIT $2 FOR UPDATE SKIP LOCKED)
        """,
        before, limit,
    ))


async def prune_unread_notifications(conn: asyncpg.Connection, before: datetime, limit: int) -> int:
    """Unread notifications created before `before`: an inbox nobody opens does not grow for ever."""
    return _count(await conn.execute(
        """
        DELETE FROM public.notifications
        WHERE id IN (SELECT id FROM public.notifications WHERE created_at < $1 AND read_at IS NULL
                     LIMIT $2 FOR UPDATE SKIP LOCKED)
        """,
        before, limit,
    ))


async def prune_jobs(conn: asyncpg.Connection, before: datetime, limit: int) -> int:
    """Done and failed jobs that finished before `before`, and with them their dedupe keys
    (idx_private_jobs_finished); queued and running jobs are never pruned."""
    return _count(await conn.execute(
        """
        DELETE FROM private.jobs
        WHERE id IN (SELECT id FROM private.jobs
                     WHERE status IN ('done', 'failed') AND finished_at < $1
                     LIMIT $2 FOR UPDATE SKIP LOCKED)
        """,
        before, limit,
    ))
