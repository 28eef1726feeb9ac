"""The hub's settings that the schema applies to writers in plain SQL, copied into `private.hub_settings`.

On Supabase, PostgREST lets every user's JWT write to `public` without the hub: the schema's triggers
and functions read these values so that such writes meet the same rules as REST (migrations 0013, 0016).
Each instance writes them at startup; instances sharing a database are expected to share settings.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg


@dataclass(frozen=True, slots=True)
class SchemaSettings:
    free_tier_level: int  # the highest lesson level anyone may open (public.lesson_with_content)
    posts_per_hour: int  # creation budgets per user, already multiplied by RATE_LIMIT_SCALE
    comments_per_hour: int
    votes_per_minute: int
    max_reply_depth: int  # where public.community_comments_place attaches deeper replies


async def store(conn: asyncpg.Connection, values: SchemaSettings) -> None:
    """Writes `values` (as `service_role`) over the previous ones."""
    await conn.execute(
        """
        UPDATE private.hub_settings
        SET free_tier_level = $1, posts_per_hour = $2, comments_per_hour = $3, votes_per_minute = $4,
            max_reply_depth = $5
        """,
        values.free_tier_level, values.posts_per_hour, values.comments_per_hour, values.votes_per_minute,
        values.max_reply_depth,
    )
