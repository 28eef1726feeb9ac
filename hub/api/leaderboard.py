"""Leaderboards of the current period (by the injected clock, UTC), ranked at read time; a standing is
`hub.domain.leaderboard.LeaderboardRow`."""

from __future__ import annotations

from uuid import UUID

from litestar import get
from litestar.params import FromQuery

from hub.auth import AppServices, Caller
from hub.domain.leaderboard import LeaderboardRow, Standing, leaderboard_row
from hub.pagination import CursorQuery, Int4, Page, check_limit, cursor_key, page_of
from hub.rules.periods import Period, utc_datetime, window
from persistence import leaderboard

NEIGHBOURS = 2


@get("/api/leaderboard", tags=["leaderboard"])
async def standings(user: Caller, services: AppServices, period: FromQuery[Period] = "weekly",
                    cursor: CursorQuery = None, limit: FromQuery[int | None] = None) -> Page[LeaderboardRow]:
    """The current period's board, highest XP first (ties share a rank, then by user id);
    `percentile` is the share of that period's users with strictly less XP."""
    size = check_limit(limit)
    after = cursor_key(cursor, tuple[Int4, UUID])
    current = window(period, utc_datetime(services.clock()).date())
    async with services.db.transaction(user) as conn:
        rows = await leaderboard.standings(conn, period, current.start, after=after, limit=size + 1)
    return page_of([leaderboard_row(row) for row in rows], size, lambda r: [r.xp_points, r.user_id])


@get("/api/leaderboard/me", tags=["leaderboard"])
async def my_standing(user: Caller, services: AppServices,
                      period: FromQuery[Period] = "weekly") -> Standing:
    """`{me, above, below}`: the caller's row (null before their first XP of the period) and up to
    two rows either side, in board order."""
    user_id = user.require_user_id()
    current = window(period, utc_datetime(services.clock()).date())
    async with services.db.transaction(user) as conn:
        rows = [leaderboard_row(row) for row in await leaderboard.around(conn, period, current.start, user_id,
                                                                          NEIGHBOURS)]
    place = next((i for i, row in enumerate(rows) if row.user_id == str(user_id)), None)
    if place is None:
        return Standing(period=period, me=None, above=[], below=[])
    return Standing(period=period, me=rows[place], above=rows[:place], below=rows[place + 1:])


ROUTES = [standings, my_standing]
