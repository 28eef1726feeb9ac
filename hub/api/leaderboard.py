"""Leaderboards by period (UTC windows of `hub.rules.periods`), ranked at read time; a standing is
`hub.domain.leaderboard.LeaderboardRow`.

`at` picks the window containing that UTC date: a past window's rows are never written again once the
clock has left it, so its board is the period's final standings. Every date lies in the one all-time
window, so `all_time` with any `at` is the live all-time board. A date after today is a 422."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

from litestar import get
from litestar.params import FromQuery, QueryParameter

from hub.auth import AppServices, Caller
from hub.domain.leaderboard import LeaderboardRow, Standing, leaderboard_row
from hub.errors import ValidationFailed
from hub.pagination import CursorQuery, Int4, Page, check_limit, cursor_key, page_of
from hub.rules.periods import Period, PeriodWindow, utc_datetime, window
from hub.services import Services
from persistence import leaderboard

NEIGHBOURS = 2

# `?at=YYYY-MM-DD`: a day of the period to show (default today, UTC).
AtQuery = Annotated[date | None, QueryParameter(description="A UTC date (YYYY-MM-DD) in the period to show; "
                                                            "not after today. Default: today.")]


def _window(period: Period, at: date | None, services: Services) -> PeriodWindow:
    today = utc_datetime(services.clock()).date()
    if at is not None and at > today:
        raise ValidationFailed({"at": "is after today"})
    return window(period, at or today)


@get("/api/leaderboard", tags=["leaderboard"])
async def standings(user: Caller, services: AppServices, period: FromQuery[Period] = "weekly", at: AtQuery = None,
                    cursor: CursorQuery = None, limit: FromQuery[int | None] = None) -> Page[LeaderboardRow]:
    """The board of the period containing `at` (default: the current one), highest XP first (ties share
    a rank, then by user id); `percentile` is the share of that period's users with strictly less XP.
    For a past period these are its final standings. 422 for an `at` after today."""
    size = check_limit(limit)
    after = cursor_key(cursor, tuple[Int4, UUID])
    shown = _window(period, at, services)
    async with services.db.transaction(user) as conn:
        rows = await leaderboard.standings(conn, period, shown.start, after=after, limit=size + 1)
    return page_of([leaderboard_row(row) for row in rows], size, lambda r: [r.xp_points, r.user_id])


@get("/api/leaderboard/me", tags=["leaderboard"])
async def my_standing(user: Caller, services: AppServices, period: FromQuery[Period] = "weekly",
                      at: AtQuery = None) -> Standing:
    """`{me, above, below}` in the period containing `at` (default: the current one): the caller's row
    (null before their first XP of the period) and up to two rows either side, in board order."""
    user_id = user.require_user_id()
    shown = _window(period, at, services)
    async with services.db.transaction(user) as conn:
        rows = [leaderboard_row(row) for row in await leaderboard.around(conn, period, shown.start, user_id,
                                                                          NEIGHBOURS)]
    place = next((i for i, row in enumerate(rows) if row.user_id == str(user_id)), None)
    if place is None:
        return Standing(period=period, me=None, above=[], below=[])
    return Standing(period=period, me=rows[place], above=rows[:place], below=rows[place + 1:])


ROUTES = [standings, my_standing]
