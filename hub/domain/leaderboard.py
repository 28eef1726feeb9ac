"""A standing on a leaderboard: the one view used by REST and by the realtime `leaderboard.changed`
snapshot (built from `persistence.leaderboard.top`)."""

from __future__ import annotations

import asyncpg
import msgspec


class LeaderboardRow(msgspec.Struct):
    rank: int
    user_id: str
    full_name: str | None
    avatar_url: str | None
    xp_points: int
    lessons_completed: int
    streak_days: int
    percentile: float


class Standing(msgspec.Struct):
    """`GET /api/leaderboard/me`: the caller's row (null before their first XP of the period) and up to two
    rows either side, in board order."""

    period: str
    me: LeaderboardRow | None
    above: list[LeaderboardRow]
    below: list[LeaderboardRow]


def leaderboard_row(record: asyncpg.Record) -> LeaderboardRow:
    return LeaderboardRow(
        rank=record["rank"],
        user_id=str(record["user_id"]),
        full_name=record["full_name"],
        avatar_url=record["avatar_url"],
        xp_points=record["xp_points"],
        lessons_completed=record["lessons_completed"],
        streak_days=record["streak_days"],
        percentile=record["percentile"],
    )
