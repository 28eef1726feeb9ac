"""Learning progress as the API shows it: progress rows, streaks, achievements, stats, activity, and the
answer to an attempt. The achievement and streak views are also the data of `achievement.unlocked` and
`streak.updated` on `user:<id>`."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

import asyncpg
import msgspec

from hub.rules import streak as streak_rules


class ProgressView(msgspec.Struct):
    """A learner's row for one (level, gate)."""

    id: UUID
    user_id: UUID
    lesson_id: UUID | None
    level_id: int
    gate_id: int
    completed: bool
    score: int | None
    xp_earned: int
    time_spent: timedelta | None
    attempts_count: int
    last_attempt_at: datetime
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class AchievementBase(msgspec.Struct):
    """What every view of an achievement shows."""

    id: UUID
    code: str
    title: str
    description: str
    icon_url: str | None
    category: str
    xp_reward: int
    rarity: str


class AchievementView(AchievementBase):
    """An unlocked achievement, with when and how far."""

    unlocked_at: datetime
    progress_value: int


class CatalogueAchievement(AchievementBase):
    """An active achievement with the `requirements` that unlock it."""

    requirements: dict[str, Any] | None


class StreakView(msgspec.Struct):
    """`current_streak` is 0 once a day was missed."""

    current_streak: int
    longest_streak: int
    last_activity_date: date | None
    last_streak_reset: datetime | None


class CalendarDay(msgspec.Struct):
    date: date
    count: int


class StreakCalendar(msgspec.Struct):
    """`GET /api/streaks/me/calendar`: first completions per local day of `time_zone` (the zone the days
    are counted in: the profile's, UTC when unset), the days with activity from `start` to `end` (today
    there, 365 days), oldest first."""

    time_zone: str
    start: date
    end: date
    days: list[CalendarDay]
    current_streak: int
    longest_streak: int


class LearningStats(msgspec.Struct):
    """A row of `user_learning_stats`."""

    user_id: UUID
    completed_lessons: int
    total_xp: int
    last_activity: datetime | None


class ActivityEntry(msgspec.Struct):
    id: UUID
    activity_type: str
    entity_type: str | None
    entity_id: UUID | None
    metadata: dict[str, Any] | None
    created_at: datetime


class XpAwarded(msgspec.Struct, omit_defaults=True):
    """`xp.awarded` on `user:<id>`: the XP added, for which lesson or achievement (only that id is
    present), and where the user now stands."""

    amount: int
    source: Literal["lesson", "achievement"]
    total_xp: int
    level: int
    next_level_xp: int
    lesson_id: UUID | msgspec.UnsetType = msgspec.UNSET
    achievement_id: UUID | msgspec.UnsetType = msgspec.UNSET


class QuestionResult(msgspec.Struct, omit_defaults=True):
    """One question of a graded attempt: its index in `questions`, whether the reply was right, and its
    explanation once the attempt passed (before, it could give the answer away)."""

    question: int
    correct: bool
    explanation: str | msgspec.UnsetType = msgspec.UNSET


class AttemptResult(msgspec.Struct):
    """The answer to one attempt; only a first completion awards XP. `score`, `passed` and `results` are
    the server's grading for a lesson with an assessment; for one without, the score sent, `completed`,
    and no results."""

    score: int
    passed: bool
    results: list[QuestionResult]
    progress: ProgressView
    xp_awarded: int
    total_xp: int
    level: int
    next_level_xp: int
    level_up: bool
    streak: StreakView
    achievements_unlocked: list[AchievementView]


def progress_view(row: asyncpg.Record) -> ProgressView:
    return ProgressView(**dict(row))


def achievement_view(row: asyncpg.Record) -> AchievementView:
    return AchievementView(**dict(row))


def catalogue_achievement(row: asyncpg.Record) -> CatalogueAchievement:
    return CatalogueAchievement(**dict(row))


def activity_entry(row: asyncpg.Record) -> ActivityEntry:
    return ActivityEntry(**dict(row))


def learning_stats(user_id: UUID, row: asyncpg.Record | None) -> LearningStats:
    """The stats row, or zeros before the first completion."""
    if row is None:
        return LearningStats(user_id=user_id, completed_lessons=0, total_xp=0, last_activity=None)
    return LearningStats(**dict(row))


def streak_of(row: asyncpg.Record | None) -> streak_rules.Streak:
    if row is None or row["current_streak"] is None:
        return streak_rules.Streak()
    return streak_rules.Streak(row["current_streak"], row["longest_streak"], row["last_activity_date"],
                               row["last_streak_reset"])


def streak_view(streak: streak_rules.Streak, today: date) -> StreakView:
    """The streak as `GET /api/streaks/me` shows it."""
    return StreakView(current_streak=streak_rules.current_as_of(streak, today), longest_streak=streak.longest,
                      last_activity_date=streak.last_activity_date, last_streak_reset=streak.last_streak_reset)


def calendar_days(row: asyncpg.Record | None) -> object:
    """The stored per-day counts (`streak_data`, as written: `hub.rules.streak` keeps its well-formed
    entries), empty before the first completion."""
    days: object = row["streak_data"] if row is not None else None
    return days or {}


def local_today(row: asyncpg.Record | None, now: datetime) -> date:
    """Today in the time zone of the user whose streak row (`persistence.progress.streak`) this is."""
    return streak_rules.local_day(now, row["timezone"] if row is not None else None)


def streak_calendar(row: asyncpg.Record | None, now: datetime) -> StreakCalendar:
    zone = streak_rules.zone_name(row["timezone"] if row is not None else None)
    today = streak_rules.local_day(now, zone)
    streak = streak_of(row)
    return StreakCalendar(
        time_zone=zone, start=streak_rules.window_start(today), end=today,
        days=[CalendarDay(date=day, count=count) for day, count in streak_rules.calendar(calendar_days(row), today)],
        current_streak=streak_rules.current_as_of(streak, today), longest_streak=streak.longest)
