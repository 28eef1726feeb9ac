"""Blocks between users (`public.user_blocks`). Writes run as `service_role` (users only read their own
rows); the list runs as the caller, whose RLS shows their own blocks only. The feed and thread statements
of `persistence.community` leave blocked authors out with the same table."""

from __future__ import annotations

import enum
from uuid import UUID

import asyncpg


class Added(enum.Enum):
    NEW = "new"
    ALREADY = "already"
    FULL = "full"  # the blocker holds the cap already


async def add(conn: asyncpg.Connection, blocker_id: UUID, blocked_id: UUID, *, cap: int) -> Added:
    """Blocks `blocked_id` for `blocker_id` unless already blocked or the blocker holds `cap` blocks. The
    blocker's writes queue on a transaction lock, so concurrent blocks cannot pass the cap together.
    Raises ForeignKeyViolationError for an unknown user."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('user_blocks:' || $1::uuid::text, 0))",
                       blocker_id)
    outcome: str = await conn.fetchval(
        """
        WITH present AS (
            SELECT EXISTS (SELECT FROM public.user_blocks WHERE blocker_id = $1 AND blocked_id = $2) AS found,
                   (SELECT count(*) FROM public.user_blocks WHERE blocker_id = $1) AS held
        ), added AS (
            INSERT INTO public.user_blocks (blocker_id, blocked_id)
            SELECT $1, $2 FROM present WHERE NOT found AND held < $3
            RETURNING 1
        )
        SELECT CASE WHEN (SELECT found FROM present) THEN 'already'
                    WHEN EXISTS (SELECT FROM added) THEN 'new'
                    ELSE 'full' END
        """,
        blocker_id, blocked_id, cap,
    )
    return Added(outcome)


async def remove(conn: asyncpg.Connection, blocker_id: UUID, blocked_id: UUID) -> None:
    await conn.execute("DELETE FROM public.user_blocks WHERE blocker_id = $1 AND blocked_id = $2",
                       blocker_id, blocked_id)


async def own_blocks(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """The caller's blocks, newest first, with the blocked user's public profile."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT b.blocked_id AS id, a.full_name, a.avatar_url, b.created_at AS blocked_at
        FROM public.user_blocks b LEFT JOIN public.user_profiles a ON a.id = b.blocked_id
        WHERE b.blocker_id = auth.uid()
        ORDER BY b.created_at DESC, b.blocked_id DESC
        LIMIT $1
        """,
        limit,
    )
    return rows


async def blocks(conn: asyncpg.Connection, blocker_id: UUID, blocked_id: UUID) -> bool:
    """Whether `blocker_id` blocks `blocked_id` (read as `service_role`: RLS shows users their own blocks only)."""
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT FROM public.user_blocks WHERE blocker_id = $1 AND blocked_id = $2)",
        blocker_id, blocked_id)
    return found


async def blocked_by(conn: asyncpg.Connection, blocker_id: UUID) -> set[str]:
    """The ids (as text, the way event data carries them) of the users `blocker_id` blocks; as
    `service_role` or as the blocker."""
    rows = await conn.fetch("SELECT blocked_id::text AS id FROM public.user_blocks WHERE blocker_id = $1",
                            blocker_id)
    return {row["id"] for row in rows}
