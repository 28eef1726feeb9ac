"""Profiles, read and written as the caller. Other users' rows show only their public columns (column
grants); the caller's own row in full is `public.my_profile`, the one place a user edits it."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg


async def own_profile(conn: asyncpg.Connection, user_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """
        SELECT id, full_name, avatar_url, bio, timezone, preferred_language, trading_experience,
               trading_goals, current_level, total_xp, created_at, updated_at
        FROM public.my_profile WHERE id = $1
        """,
        user_id,
    )


async def public_profile(conn: asyncpg.Connection, user_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """
        SELECT id, full_name, avatar_url, bio, trading_experience, current_level, total_xp, created_at
        FROM public.user_profiles WHERE id = $1
        """,
        user_id,
    )


async def patch_profile(conn: asyncpg.Connection, user_id: UUID, patch: dict[str, Any]) -> asyncpg.Record | None:
    """Applies only the keys present in `patch`; absent keys keep their value, explicit nulls clear."""
    return await conn.fetchrow(
        """
        UPDATE public.my_profile p
        SET (full_name, avatar_url, bio, timezone, preferred_language, trading_experience, trading_goals)
          = (SELECT r.full_name, r.avatar_url, r.bio, r.timezone, r.preferred_language,
                    r.trading_experience, r.trading_goals
             FROM jsonb_populate_record(p, $2::jsonb) r)
        WHERE p.id = $1
        RETURNING id, full_name, avatar_url, bio, timezone, preferred_language, trading_experience,
                  trading_goals, current_level, total_xp, created_at, updated_at
        """,
        user_id, patch,
    )


async def subscription_summary(conn: asyncpg.Connection, user_id: UUID) -> asyncpg.Record | None:
    """The user's active or trialing subscription with its plan, newest first."""
    return await conn.fetchrow(
        """
        SELECT s.id, s.status, s.current_period_end, s.trial_end, s.cancel_at_period_end,
               p.id AS plan_id, p.name AS plan_name, p.level_access_limit
        FROM public.user_subscriptions s JOIN public.subscription_plans p ON p.id = s.plan_id
        WHERE s.user_id = $1 AND s.status IN ('active', 'trialing')
        ORDER BY s.updated_at DESC LIMIT 1
        """,
        user_id,
    )
