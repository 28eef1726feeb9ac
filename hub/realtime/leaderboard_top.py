"""The leaderboard a `leaderboard:<period>` channel starts from: the period's current top 20."""

from __future__ import annotations

from hub.domain.leaderboard import LeaderboardRow, leaderboard_row
from hub.realtime.state_channels import LeaderboardLoader
from hub.rules.periods import Period, utc_datetime, window
from hub.services import Services
from persistence import leaderboard
from persistence.identity import SERVICE

__all__ = ["leaderboard_loader"]


def leaderboard_loader(services: Services) -> LeaderboardLoader:
    """The top 20 of a period's current window (by the app's clock), as `GET /api/leaderboard` shows them."""

    async def top20(period: str) -> list[LeaderboardRow]:
        current = window(_period(period), utc_datetime(services.clock()).date())
        async with services.db.transaction(SERVICE) as conn:
            rows = await leaderboard.top(conn, period, current.start, 20)
        return [leaderboard_row(r) for r in rows]

    return top20


def _period(text: str) -> Period:
    if text == "daily":
        return "daily"
    if text == "weekly":
        return "weekly"
    if text == "monthly":
        return "monthly"
    return "all_time"

