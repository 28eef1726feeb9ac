"""Attempts and everything a first completion sets off (`hub.domain.awards`), plus the learner's own
progress reads.

`POST /api/lessons/{id}/attempts` is one transaction: the lesson and its gates (plan, prerequisites)
are read as the caller; the server-owned writes (progress, XP, level, streak, leaderboards, activity,
achievements, events) run as `service_role` in the same transaction. A first completion is decided by
one conditional UPDATE (`… WHERE NOT completed`), so XP is awarded exactly once per lesson and user
however many requests race. Every award first locks the user's streak row, so the awards of one user
never interleave.

"Now" is always the injected wall clock (`services.clock`), never the database's `now()`; a streak's
"today" is that moment's calendar day in the learner's time zone.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any
from uuid import UUID

import asyncpg
from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from hub.auth import AppServices, Caller
from hub.budgets import ATTEMPTS, spend
from hub.domain import achievement_progress
from hub.domain.achievement_progress import MyAchievement
from hub.domain.awards import AttemptIn, require_exact_answers
from hub.domain.awards import record_attempt as award_attempt
from hub.domain.progress import (
    ActivityEntry,
    AttemptResult,
    CatalogueAchievement,
    LearningStats,
    ProgressView,
    StreakCalendar,
    StreakView,
    activity_entry,
    catalogue_achievement,
    learning_stats,
    local_today,
    progress_view,
    streak_calendar,
    streak_of,
    streak_view,
)
from hub.idempotency import IdempotencyKey, create_once
from hub.pagination import Aware, CursorQuery, CursorText, Int4, Page, check_limit, cursor_key, page_of
from hub.rules import periods as period_rules
from hub.services import Services
from persistence import progress


def _now(services: Services) -> datetime:
    return period_rules.utc_datetime(services.clock())


@post("/api/lessons/{lesson_id:uuid}/attempts", tags=["progress"])
async def record_attempt(lesson_id: FromPath[UUID], data: JSONBody[AttemptIn], user: Caller, services: AppServices,
                         idempotency_key: IdempotencyKey, request: Request[Any, Any, Any]) -> Response[AttemptResult]:
    """Records one attempt → 201 `{score, passed, results, progress, xp_awarded, total_xp, level,
    next_level_xp, level_up, streak, achievements_unlocked}`. A lesson with an assessment takes
    `{answers, time_spent_seconds}`, one answer per question (an index, a list of indices, a number or
    null), and is graded here: it is completed when `score` reaches its `pass_score` (default 70);
    `results` says per question whether it was right, with its explanation once the attempt passed. A
    lesson without one takes `{score, time_spent_seconds, completed}`; the other kind's body is a 422.
    Only the first completion awards anything (`xp_awarded` counts the lesson's XP plus that of
    achievements it unlocked); repeats and failed attempts only count the attempt. 404 for a missing or
    inactive lesson, 402 `plan_required`, 409 `prerequisites_not_met` with `missing` (the prerequisite
    lesson ids not completed yet), 429 `rate_limited` past the attempts budget of this user on this
    lesson. A retry with the same `Idempotency-Key` returns the first answer and counts nothing."""
    require_exact_answers(await request.json())

    async def attempt(conn: asyncpg.Connection) -> AttemptResult:
        return await award_attempt(conn, user, lesson_id, data, now=period_rules.utc_datetime(services.clock()),
                                   free_tier_level=services.settings.free_tier_level)

    return await create_once(services.db, user, idempotency_key, f"POST /api/lessons/{lesson_id}/attempts", data,
                             attempt, charge=partial(spend, services, ATTEMPTS,
                                                     f"{user.require_user_id()}:{lesson_id}"))


# ---------------------------------------------------------------- own reads


@get("/api/progress/me", tags=["progress"])
async def my_progress(user: Caller, services: AppServices, cursor: CursorQuery = None,
                      limit: FromQuery[int | None] = None) -> Page[ProgressView]:
    """Own progress rows, by level and gate."""
    size = check_limit(limit)
    after = cursor_key(cursor, tuple[Int4, Int4])
    async with services.db.transaction(user) as conn:
        rows = await progress.progress_page(conn, user.require_user_id(), after, size + 1)
    return page_of([progress_view(row) for row in rows], size, lambda r: [r.level_id, r.gate_id])


@get("/api/stats/me", tags=["progress"])
async def my_stats(user: Caller, services: AppServices) -> LearningStats:
    """The caller's row of `user_learning_stats` (zeros before the first completion)."""
    user_id = user.require_user_id()
    async with services.db.transaction(user) as conn:
        row = await progress.learning_stats(conn, user_id)
    return learning_stats(user_id, row)


@get("/api/achievements", tags=["progress"], security=[])
async def achievement_catalogue(caller: Caller, services: AppServices, cursor: CursorQuery = None,
                                limit: FromQuery[int | None] = None) -> Page[CatalogueAchievement]:
    """Active achievements with their `requirements`, by code."""
    size = check_limit(limit)
    after = cursor_key(cursor, tuple[CursorText])
    async with services.db.transaction(caller) as conn:
        rows = await progress.achievement_catalogue(conn, after[0] if after else None, size + 1)
    return page_of([catalogue_achievement(row) for row in rows], size, lambda r: [r.code])


@get("/api/achievements/me", tags=["progress"])
async def my_achievements(user: Caller, services: AppServices, cursor: CursorQuery = None,
                          limit: FromQuery[int | None] = None) -> Page[MyAchievement]:
    """Every active achievement: the unlocked ones first (newest first, with `unlocked_at`), then the
    locked ones by code; each with `progress_value` of `target` (e.g. 3 of 5 lessons) and the progress on
    every threshold of its `requirements`."""
    size = check_limit(limit)
    after = cursor_key(cursor, tuple[Int4, CursorText, UUID])
    async with services.db.transaction(user) as conn:
        return await achievement_progress.my_achievements(conn, user.require_user_id(), after, size,
                                                          now=_now(services))


@get("/api/streaks/me", tags=["progress"])
async def my_streak(user: Caller, services: AppServices) -> StreakView:
    """The streak over the caller's local days (the profile's `timezone`, UTC when unset)."""
    async with services.db.transaction(user) as conn:
        row = await progress.streak(conn, user.require_user_id())
    return streak_view(streak_of(row), local_today(row, _now(services)))


@get("/api/streaks/me/calendar", tags=["progress"])
async def my_streak_calendar(user: Caller, services: AppServices) -> StreakCalendar:
    """`{time_zone, start, end, days: [{date, count}], current_streak, longest_streak}`: first completions
    per local day over the last 365 days ending today in `time_zone`, only the days with activity."""
    async with services.db.transaction(user) as conn:
        row = await progress.streak(conn, user.require_user_id())
    return streak_calendar(row, _now(services))


@get("/api/activity/me", tags=["progress"])
async def my_activity(user: Caller, services: AppServices, cursor: CursorQuery = None,
                      limit: FromQuery[int | None] = None) -> Page[ActivityEntry]:
    """Own activity log, newest first; the cursor is stable while new entries are written."""
    size = check_limit(limit)
    after = cursor_key(cursor, tuple[Aware, UUID])
    async with services.db.transaction(user) as conn:
        rows = await progress.activity_page(conn, user.require_user_id(), after, size + 1)
    return page_of([activity_entry(row) for row in rows], size, lambda r: [r.created_at.isoformat(), str(r.id)])


ROUTES = [record_attempt, my_progress, my_stats, achievement_catalogue, my_achievements, my_streak,
          my_streak_calendar, my_activity]
