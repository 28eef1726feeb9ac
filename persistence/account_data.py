"""Everything stored about one account, for its export, and the removal of its personal data. Runs as
`service_role`: some of it (reports filed, refresh tokens) is closed to the user's own role."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

# The export's sections: each the account's newest rows, `$2` at most plus one (which tells the caller the
# section was cut). One statement, so every section is read from one snapshot.
_EXPORT = """
SELECT jsonb_build_object(
    'account', (SELECT jsonb_build_object(
                    'id', u.id, 'email', u.email, 'created_at', u.created_at,
                    'email_confirmed_at', u.email_confirmed_at, 'last_sign_in_at', u.last_sign_in_at,
                    'app_metadata', coalesce(u.raw_app_meta_data, '{}'::jsonb),
                    'user_metadata', coalesce(u.raw_user_meta_data, '{}'::jsonb))
                FROM auth.users u WHERE u.id = $1),
    'profile', (SELECT to_jsonb(p) FROM public.user_profiles p WHERE p.id = $1),
    'streak', (SELECT to_jsonb(s) FROM public.user_streaks s WHERE s.user_id = $1),
    'progress', (SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]') FROM (
        SELECT * FROM public.user_progress WHERE user_id = $1 ORDER BY updated_at DESC, id LIMIT $2 + 1) t),
    'achievements', (SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]') FROM (
        SELECT * FROM public.user_achievements WHERE user_id = $1 ORDER BY unlocked_at DESC, id LIMIT $2 + 1) t),
    'leaderboard', (SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]') FROM (
        SELECT * FROM public.leaderboard WHERE user_id = $1 ORDER BY period_start_date DESC, id LIMIT $2 + 1) t),
    'activity', (SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]') FROM (
        SELECT * FROM public.user_activity_log WHERE user_id = $1 ORDER BY created_at DESC, id LIMIT $2 + 1) t),
    'posts', (SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]') FROM (
        SELECT * FROM public.community_posts WHERE author_id = $1 ORDER BY created_at DESC, id LIMIT $2 + 1) t),
    'comments', (SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]') FROM (
        SELECT * FROM public.community_comments WHERE author_id = $1 ORDER BY created_at DESC, id LIMIT $2 + 1) t),
    'votes', (SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]') FROM (
        SELECT * FROM public.community_votes WHERE user_id = $1 ORDER BY created_at DESC, id LIMIT $2 + 1) t),
    'registrations', (SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]') FROM (
        SELECT * FROM public.session_participants WHERE user_id = $1 ORDER BY created_at DESC, id LIMIT $2 + 1) t),
    'session_messages', (SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]') FROM (
        SELECT * FROM public.session_messages WHERE author_id = $1 ORDER BY created_at DESC, id LIMIT $2 + 1) t),
    'subscriptions', (SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]') FROM (
        SELECT * FROM public.user_subscriptions WHERE user_id = $1 ORDER BY created_at DESC, id LIMIT $2 + 1) t),
    'reports', (SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]') FROM (
        SELECT id, target_type, target_id, reason, details, status, created_at, resolved_at
        FROM private.reports WHERE reporter_id = $1 ORDER BY created_at DESC, id LIMIT $2 + 1) t),
    'blocks', (SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]') FROM (
        SELECT blocked_id, created_at FROM public.user_blocks WHERE blocker_id = $1
        ORDER BY created_at DESC, blocked_id LIMIT $2 + 1) t),
    'notifications', (SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]') FROM (
        SELECT id, kind, data, read_at, emailed_at, created_at FROM public.notifications WHERE user_id = $1
        ORDER BY created_at DESC, id LIMIT $2 + 1) t),
    'notification_settings', (SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]') FROM (
        SELECT kind, email FROM private.notification_settings WHERE user_id = $1 ORDER BY kind LIMIT $2 + 1) t)
)
"""


async def export(conn: asyncpg.Connection, user_id: UUID, rows_per_section: int) -> dict[str, Any]:
    """The account's data by section: `account`, `profile` and `streak` objects (None when missing), and
    lists of at most `rows_per_section` + 1 rows, newest first."""
    document: dict[str, Any] = await conn.fetchval(_EXPORT, user_id, rows_per_section)
    return document


async def live_stripe_subscriptions(conn: asyncpg.Connection, user_id: UUID) -> list[str]:
    """The Stripe ids of the account's subscriptions Stripe may still bill (anything not canceled)."""
    rows = await conn.fetch(
        """
        SELECT stripe_subscription_id FROM public.user_subscriptions
        WHERE user_id = $1 AND status <> 'canceled' AND stripe_subscription_id IS NOT NULL
        """,
        user_id,
    )
    return [row["stripe_subscription_id"] for row in rows]


async def erase(conn: asyncpg.Connection, user_id: UUID) -> bool:
    """Removes the account's personal data and marks it deleted; False when there is no such (undeleted)
    account. Posts, comments, chat lines, votes, progress and subscriptions stay, attributed to a profile
    named "deleted user"; setting `deleted_at` revokes every token (migration 0019's trigger)."""
    deleted: UUID | None = await conn.fetchval(
        """
        UPDATE auth.users
        SET email = 'deleted-' || id || '@deleted.invalid', encrypted_password = NULL,
            raw_user_meta_data = '{}'::jsonb, raw_app_meta_data = '{}'::jsonb, phone = NULL,
            confirmation_token = NULL, recovery_token = NULL, email_change = NULL, email_change_token_new = NULL,
            last_sign_in_at = NULL, banned_until = NULL, deleted_at = now()
        WHERE id = $1 AND deleted_at IS NULL
        RETURNING id
        """,
        user_id,
    )
    if deleted is None:
        return False
    await conn.execute(
        """
        UPDATE public.user_profiles
        SET full_name = 'deleted user', avatar_url = NULL, bio = NULL, trading_goals = NULL,
            trading_experience = NULL, timezone = 'UTC', preferred_language = 'en'
        WHERE id = $1
        """,
        user_id,
    )
    await conn.execute("DELETE FROM private.refresh_tokens WHERE user_id = $1", user_id)
    await conn.execute("DELETE FROM public.user_blocks WHERE blocker_id = $1 OR blocked_id = $1", user_id)
    await conn.execute("DELETE FROM public.user_activity_log WHERE user_id = $1", user_id)
    await conn.execute("DELETE FROM private.idempotency_keys WHERE user_id = $1", user_id)
    await conn.execute("DELETE FROM public.notifications WHERE user_id = $1", user_id)
    await conn.execute("DELETE FROM private.notification_settings WHERE user_id = $1", user_id)
    await _erase_name_from_others(conn, user_id)
    return True


# The erased account's name leaves what others keep: their reply notifications (with the notifications'
# logged events) and every logged view naming it in a person object ({id, full_name[, avatar_url]}: a
# post's or comment's or chat line's `author`, a session's `host`, a participant's `user`). Each walks
# indexes of migration 0032.
RENAME_IN_NOTIFICATIONS = """
WITH changed AS (
    UPDATE public.notifications SET data = data || '{"author_name": "deleted user"}'::jsonb
    WHERE data ? 'author_id' AND (data ->> 'author_id') = $1::uuid::text
    RETURNING id, user_id, data)
UPDATE realtime.events e SET data = jsonb_set(e.data, '{data}', c.data)
FROM changed c
WHERE e.channel = 'user:' || c.user_id::text AND e.event = 'notification.created'
  AND (e.data ->> 'id') = c.id::text
"""
RENAME_IN_LOG = """
UPDATE realtime.events
SET data = data || (
    SELECT jsonb_object_agg(k, data -> k || CASE WHEN data -> k ? 'avatar_url'
        THEN '{"full_name": "deleted user", "avatar_url": null}' ELSE '{"full_name": "deleted user"}' END::jsonb)
    FROM unnest(ARRAY['author', 'host', 'user']) k WHERE (data -> k ->> 'id') = $1::uuid::text)
WHERE (data ? 'author' AND (data -> 'author' ->> 'id') = $1::uuid::text)
   OR (data ? 'host' AND (data -> 'host' ->> 'id') = $1::uuid::text)
   OR (data ? 'user' AND (data -> 'user' ->> 'id') = $1::uuid::text)
"""


async def _erase_name_from_others(conn: asyncpg.Connection, user_id: UUID) -> None:
    """Its own `user:` channel (notifications, xp) goes with the account."""
    await conn.execute(RENAME_IN_NOTIFICATIONS, user_id)
    await conn.execute(RENAME_IN_LOG, user_id)
    await conn.execute("DELETE FROM realtime.events WHERE channel = 'user:' || $1::uuid::text", user_id)
