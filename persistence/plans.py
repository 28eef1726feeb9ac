"""The plan rule shared by lessons and sessions: which lesson level a user's plan reaches."""

from __future__ import annotations

from uuid import UUID

import asyncpg


async def level_access_limit(conn: asyncpg.Connection, user_id: UUID | None, free_tier_level: int) -> int:
    """An active or trialing subscription gives its plan's `level_access_limit` (the highest, if several);
    anyone else, anonymous callers included, is on the free tier. Works under the user's role (RLS lets
    users read their own subscriptions) and under `service_role`."""
    if user_id is None:
        return free_tier_level
    limit: int | None = await conn.fetchval(
        """
        SELECT max(p.level_access_limit)
        FROM public.user_subscriptions s JOIN public.subscription_plans p ON p.id = s.plan_id
        WHERE s.user_id = $1 AND s.status IN ('active', 'trialing')
        """,
        user_id,
    )
    return max(limit, free_tier_level) if limit is not None else free_tier_level

