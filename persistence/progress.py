"""Progress, XP, streaks, activity and achievements.

Reads of the caller's own rows run as the caller (RLS: own rows only). Every write here is
server-owned (schema-notes defect 8) and runs as `service_role`, inside the attempt's transaction.
Counters move with `x = x + n` in SQL, never read-modify-write in Python (defect 7).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

# ---------------------------------------------------------------- the attempt


async def lesson_for_attempt(conn: asyncpg.Connection, lesson_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """
        SELECT id, level_id, gate_id, xp_reward, prerequisites, is_active
        FROM public.lessons WHERE id = $1
        """,
        lesson_id,
    )


async def answer_key(conn: asyncpg.Connection, lesson_id: UUID) -> Any:
    """The lesson's stored `assessment_data`, answers included: as `service_role` only (no user role can
    read the column)."""
    return await conn.fetchval("SELECT assessment_data FROM public.lessons WHERE id = $1", lesson_id)


async def uncompleted_lessons(conn: asyncpg.Connection, user_id: UUID, lesson_ids: list[UUID]) -> list[UUID]:
    """The ids in `lesson_ids` the user has not completed, in the given order."""
    rows = await conn.fetch(
        """
        SELECT t.id FROM unnest($2::uuid[]) WITH ORDINALITY AS t(id, n)
        WHERE NOT EXISTS (SELECT 1 FROM public.user_progress up
                          WHERE up.user_id = $1 AND up.lesson_id = t.id AND up.completed)
        ORDER BY t.n
        """,
        user_id, lesson_ids,
    )
    return [row["id"] for row in rows]


async def record_attempt(conn: asyncpg.Connection, user_id: UUID, lesson_id: UUID, level_id: int, gate_id: int,
                         score: int, time_spent: timedelta, now: datetime) -> asyncpg.Record:
    """Counts one attempt on the (user, level, gate) row: best score kept, time accumulated. The row lock
    taken here orders concurrent attempts of one user on one lesson."""
    row: asyncpg.Record = await conn.fetchrow(
        """
        INSERT INTO public.user_progress AS up (user_id, level_id, gate_id, lesson_id, score, time_spent,
                                                attempts_count, last_attempt_at)
        VALUES ($1, $2, $3, $4, $5, $6, 1, $7)
        ON CONFLICT (user_id, level_id, gate_id) DO UPDATE
        SET attempts_count = up.attempts_count + 1,
            score = GREATEST(up.score, EXCLUDED.score),
            time_spent = COALESCE(up.time_spent, interval '0') + EXCLUDED.time_spent,
            last_attempt_at = EXCLUDED.last_attempt_at,
            lesson_id = EXCLUDED.lesson_id
        RETURNING id, user_id, lesson_id, level_id, gate_id, completed, score, xp_earned, time_spent,
                  attempts_count, last_attempt_at, completed_at, created_at, updated_at
        """,
        user_id, level_id, gate_id, lesson_id, score, time_spent, now,
    )
    return row


async def complete_first_time(conn: asyncpg.Connection, progress_id: UUID, xp: int,
                              now: datetime) -> asyncpg.Record | None:
    """Marks the row completed with `xp` earned, or returns None when it already was: the one place
    that decides a first completion, so XP is awarded exactly once whatever runs concurrently."""
    return await conn.fetchrow(
        """
        UPDATE public.user_progress SET completed = true, completed_at = $3, xp_earned = $2
        WHERE id = $1 AND NOT completed
        RETURNING id, user_id, lesson_id, level_id, gate_id, completed, score, xp_earned, time_spent,
                  attempts_count, last_attempt_at, completed_at, created_at, updated_at
        """,
        progress_id, xp, now,
    )


async def add_xp(conn: asyncpg.Connection, user_id: UUID, amount: int) -> asyncpg.Record:
    """`total_xp += amount`; the profile trigger recomputes `current_level`. `previous_level` is the
    level before this award (the total before it is exactly the new total minus `amount`)."""
    row: asyncpg.Record = await conn.fetchrow(
        """
        UPDATE public.user_profiles SET total_xp = total_xp + $2
        WHERE id = $1
        RETURNING total_xp, current_level, public.calculate_user_level(total_xp - $2) AS previous_level
        """,
        user_id, amount,
    )
    return row


async def xp_and_level(conn: asyncpg.Connection, user_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT total_xp, current_level FROM public.user_profiles WHERE id = $1", user_id)


async def add_to_leaderboards(conn: asyncpg.Connection, user_id: UUID, periods: list[str], starts: list[date],
                              ends: list[date], xp: int, lessons: int, streak_days: int) -> None:
    """Adds `xp` and `lessons` to the user's row of each (period, start, end) window, creating it."""
    await conn.execute(
        """
        INSERT INTO public.leaderboard AS lb (user_id, period, period_start_date, period_end_date, xp_points,
                                              lessons_completed, streak_days)
        SELECT $1, w.period, w.start_date, w.end_date, $5, $6, $7
        FROM unnest($2::text[], $3::date[], $4::date[]) AS w(period, start_date, end_date)
        ON CONFLICT (user_id, period, period_start_date) DO UPDATE
        SET xp_points = lb.xp_points + EXCLUDED.xp_points,
            lessons_completed = lb.lessons_completed + EXCLUDED.lessons_completed,
            streak_days = EXCLUDED.streak_days
        """,
        user_id, periods, starts, ends, xp, lessons, streak_days,
    )


async def log_activity(conn: asyncpg.Connection, user_id: UUID, activity_type: str, entity_type: str,
                       entity_id: UUID, metadata: dict[str, Any]) -> None:
    # clock_timestamp(), not now(): rows written by one transaction keep the order they were written in.
    await conn.execute(
        """
        INSERT INTO public.user_activity_log (user_id, activity_type, entity_type, entity_id, metadata, created_at)
        VALUES ($1, $2, $3, $4, $5::jsonb, clock_timestamp())
        """,
        user_id, activity_type, entity_type, entity_id, metadata,
    )


# ---------------------------------------------------------------- streaks


async def lock_streak(conn: asyncpg.Connection, user_id: UUID) -> asyncpg.Record:
    """The user's streak row, locked until commit. Every award takes this lock first, so the awards of
    one user (streak, XP, leaderboard, achievements) run one after the other."""
    await conn.execute(
        "INSERT INTO public.user_streaks (user_id) VALUES ($1) ON CONFLICT (user_id) DO NOTHING", user_id
    )
    row: asyncpg.Record = await conn.fetchrow(
        """
        SELECT s.current_streak, s.longest_streak, s.last_activity_date, s.last_streak_reset, s.streak_data,
               p.timezone
        FROM public.user_streaks s LEFT JOIN public.user_profiles p ON p.id = s.user_id
        WHERE s.user_id = $1 FOR UPDATE OF s
        """,
        user_id,
    )
    return row


async def save_streak(conn: asyncpg.Connection, user_id: UUID, current: int, longest: int,
                      last_activity_date: date | None, last_streak_reset: datetime | None,
                      days: dict[str, int]) -> None:
    await conn.execute(
        """
        UPDATE public.user_streaks
        SET current_streak = $2, longest_streak = $3, last_activity_date = $4, last_streak_reset = $5,
            streak_data = $6::jsonb
        WHERE user_id = $1
        """,
        user_id, current, longest, last_activity_date, last_streak_reset, days,
    )


async def streak(conn: asyncpg.Connection, user_id: UUID) -> asyncpg.Record | None:
    """The user's streak with their profile's time zone (as the user: their own row of `my_profile`); the
    streak columns are null before the first completion."""
    return await conn.fetchrow(
        """
        SELECT s.current_streak, s.longest_streak, s.last_activity_date, s.last_streak_reset, s.streak_data,
               p.timezone
        FROM public.my_profile p LEFT JOIN public.user_streaks s ON s.user_id = p.id
        WHERE p.id = $1
        """,
        user_id,
    )


# ---------------------------------------------------------------- achievements


async def learner_stats(conn: asyncpg.Connection, user_id: UUID) -> asyncpg.Record:
    """Every stat the achievement vocabulary names, for one user (as service_role)."""
    row: asyncpg.Record = await conn.fetchrow(
        """
        SELECT
            (SELECT count(*) FROM public.user_progress WHERE user_id = $1 AND completed)::int AS lessons_completed,
            p.total_xp,
            COALESCE((SELECT current_streak FROM public.user_streaks WHERE user_id = $1), 0) AS streak_days,
            p.current_level AS level,
            (SELECT count(*) FROM public.community_posts WHERE author_id = $1)::int AS posts_created,
            (SELECT count(*) FROM public.session_participants
             WHERE user_id = $1 AND attendance_status = 'attended')::int AS sessions_attended
        FROM public.user_profiles p WHERE p.id = $1
        """,
        user_id,
    )
    return row


async def locked_achievements(conn: asyncpg.Connection, user_id: UUID) -> list[asyncpg.Record]:
    """Active achievements the user has not unlocked yet, oldest first."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT a.id, a.xp_reward, a.requirements
        FROM public.achievements a
        WHERE a.is_active
          AND NOT EXISTS (SELECT 1 FROM public.user_achievements ua
                          WHERE ua.user_id = $1 AND ua.achievement_id = a.id)
        ORDER BY a.created_at, a.id
        """,
        user_id,
    )
    return rows


async def unlock_achievement(conn: asyncpg.Connection, user_id: UUID, achievement_id: UUID, now: datetime,
                             metadata: dict[str, Any], progress_value: int) -> asyncpg.Record | None:
    """The unlocked achievement as `achievement.unlocked` shows it, or None if it already was."""
    return await conn.fetchrow(
        """
        WITH unlocked AS (
            INSERT INTO public.user_achievements (user_id, achievement_id, unlocked_at, metadata, progress_value)
            VALUES ($1, $2, $3, $4::jsonb, $5)
            ON CONFLICT (user_id, achievement_id) DO NOTHING
            RETURNING achievement_id, unlocked_at, progress_value
        )
        SELECT a.id, a.code, a.title, a.description, a.icon_url, a.category, a.xp_reward, a.rarity,
               u.unlocked_at, u.progress_value
        FROM unlocked u JOIN public.achievements a ON a.id = u.achievement_id
        """,
        user_id, achievement_id, now, metadata, progress_value,
    )


# ---------------------------------------------------------------- the caller's own reads


async def progress_page(conn: asyncpg.Connection, user_id: UUID, after: tuple[int, int] | None,
                        limit: int) -> list[asyncpg.Record]:
    level, gate = after if after is not None else (None, None)
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT id, user_id, lesson_id, level_id, gate_id, completed, score, xp_earned, time_spent,
               attempts_count, last_attempt_at, completed_at, created_at, updated_at
        FROM public.user_progress
        WHERE user_id = $1 AND ($2::int IS NULL OR (level_id, gate_id) > ($2, $3::int))
        ORDER BY level_id, gate_id
        LIMIT $4
        """,
        user_id, level, gate, limit,
    )
    return rows


async def learning_stats(conn: asyncpg.Connection, user_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """
        SELECT user_id, completed_lessons, total_xp, last_activity
        FROM public.user_learning_stats WHERE user_id = $1
        """,
        user_id,
    )


async def achievement_catalogue(conn: asyncpg.Connection, after: str | None, limit: int) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT id, code, title, description, icon_url, category, xp_reward, requirements, rarity
        FROM public.achievements
        WHERE is_active AND ($1::text IS NULL OR code > $1)
        ORDER BY code
        LIMIT $2
        """,
        after, limit,
    )
    return rows


async def my_achievements(conn: asyncpg.Connection, user_id: UUID, after: tuple[datetime, UUID] | None,
                          limit: int) -> list[asyncpg.Record]:
    unlocked_at, achievement_id = after if after is not None else (None, None)
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT a.id, a.code, a.title, a.description, a.icon_url, a.category, a.xp_reward, a.rarity,
               a.requirements, ua.unlocked_at, ua.progress_value
        FROM public.user_achievements ua JOIN public.achievements a ON a.id = ua.achievement_id
        WHERE ua.user_id = $1
          AND ($2::timestamptz IS NULL OR (ua.unlocked_at, ua.achievement_id) < ($2, $3::uuid))
        ORDER BY ua.unlocked_at DESC, ua.achievement_id DESC
        LIMIT $4
        """,
        user_id, unlocked_at, achievement_id, limit,
    )
    return rows


async def locked_achievement_page(conn: asyncpg.Connection, user_id: UUID, after: str | None,
                                  limit: int) -> list[asyncpg.Record]:
    """Active achievements the user has not unlocked, by code after `after`."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT a.id, a.code, a.title, a.description, a.icon_url, a.category, a.xp_reward, a.rarity,
               a.requirements
        FROM public.achievements a
        WHERE a.is_active AND ($2::text IS NULL OR a.code > $2)
          AND NOT EXISTS (SELECT 1 FROM public.user_achievements ua
                          WHERE ua.user_id = $1 AND ua.achievement_id = a.id)
        ORDER BY a.code
        LIMIT $3
        """,
        user_id, after, limit,
    )
    return rows


async def activity_page(conn: asyncpg.Connection, user_id: UUID, after: tuple[datetime, UUID] | None,
                        limit: int) -> list[asyncpg.Record]:
    """Newest first, keyed on (created_at desc, id desc): the order of idx_activity_log_user_time."""
    created_at, activity_id = after if after is not None else (None, None)
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT id, activity_type, entity_type, entity_id, metadata, created_at
        FROM public.user_activity_log
        WHERE user_id = $1
          AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))
        ORDER BY created_at DESC, id DESC
        LIMIT $4
        """,
        user_id, created_at, activity_id, limit,
    )
    return rows
