"""Leaderboard standings, ranked at read time (schema-notes defect 4): the stored `rank` and
`percentile` columns are never read, so a rank can never disagree with the XP order.

Order within a period: xp_points desc, then user_id (the keyset of every page). `rank` is SQL
`RANK()` over xp_points (ties share a rank); `percentile` is the share of the period's users with
strictly less XP, 0 to 100 with 2 decimals.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

import asyncpg

# One statement for pages, the top N and the caller's neighbourhood: with $6 set, only the rows at most
# $7 places from that user's place are kept.
STANDINGS = """
WITH board AS (
    SELECT l.user_id, l.xp_points, l.lessons_completed, l.streak_days,
           RANK() OVER (ORDER BY l.xp_points DESC) AS rank,
           round((RANK() OVER (ORDER BY l.xp_points) - 1) * 100.0 / COUNT(*) OVER (), 2)::float8 AS percentile,
           ROW_NUMBER() OVER (ORDER BY l.xp_points DESC, l.user_id) AS place
    FROM public.leaderboard l
    WHERE l.period = $1 AND l.period_start_date = $2
)
SELECT b.rank, b.user_id, p.full_name, p.avatar_url, b.xp_points, b.lessons_completed, b.streak_days,
       b.percentile
FROM board b LEFT JOIN public.user_profiles p ON p.id = b.user_id
WHERE ($3::int IS NULL OR b.xp_points < $3 OR (b.xp_points = $3 AND b.user_id > $4::uuid))
  AND ($6::uuid IS NULL
       OR abs(b.place - (SELECT m.place FROM board m WHERE m.user_id = $6)) <= $7)
ORDER BY b.xp_points DESC, b.user_id
LIMIT $5
"""


async def standings(conn: asyncpg.Connection, period: str, period_start: date, *,
                    after: tuple[int, UUID] | None, limit: int) -> list[asyncpg.Record]:
    """Rows of one period window after the key (xp_points, user_id) of the previous page's last row."""
    xp_points, user_id = after if after is not None else (None, None)
    rows: list[asyncpg.Record] = await conn.fetch(STANDINGS, period, period_start, xp_points, user_id, limit,
                                                  None, None)
    return rows


async def top(conn: asyncpg.Connection, period: str, period_start: date, limit: int) -> list[asyncpg.Record]:
    """The first `limit` rows of one period window (the realtime `leaderboard.changed` snapshot)."""
    return await standings(conn, period, period_start, after=None, limit=limit)


async def around(conn: asyncpg.Connection, period: str, period_start: date, user_id: UUID,
                 span: int) -> list[asyncpg.Record]:
    """The user's row with up to `span` rows either side, in board order; empty if the user has no row."""
    rows: list[asyncpg.Record] = await conn.fetch(STANDINGS, period, period_start, None, None, 2 * span + 1,
                                                  user_id, span)
    return rows
