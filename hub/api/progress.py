"""Attempts and everything a first completion sets off, plus the learner's own progress reads.

`POST /api/lessons/{id}/attempts` is one transaction: the lesson and its gates (plan, prerequisites)
are read as the caller; the server-owned writes (progress, XP, level, streak, leaderboards, activity,
achievements, events) run as `service_role` in the same transaction. A first completion is decided by
one conditional UPDATE (`… WHERE NOT completed`), so XP is awarded exactly once per lesson and user
however many requests race. Every award first locks the user's streak row, so the awards of one user
never interleave.

"Today" is always the injected wall clock (`services.clock`) in UTC, never the database's `now()`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

import asyncpg
import msgspec
from litestar import Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from channels.names import ChannelName
from hub.api.lessons import require_plan
from hub.auth import AppServices, Caller
from hub.errors import NotFound, PrerequisitesNotMet
from hub.idempotency import IdempotencyKey, create_once
from hub.pagination import Aware, CursorQuery, CursorText, Int4, Page, check_limit, cursor_key, page_of
from hub.rules import achievements as achievement_rules
from hub.rules import level as level_rules
from hub.rules import periods as period_rules
from hub.rules import streak as streak_rules
from hub.services import Services
from persistence import events, progress
from persistence.db import set_identity
from persistence.identity import SERVICE, Identity


class AttemptIn(msgspec.Struct, forbid_unknown_fields=True):
    score: Annotated[int, msgspec.Meta(ge=0, le=100)]
    time_spent_seconds: Annotated[int, msgspec.Meta(ge=0, le=86_400)]
    completed: bool


# ---------------------------------------------------------------- views (REST and events share them)


def progress_view(row: asyncpg.Record) -> dict[str, Any]:
    return dict(row)


def achievement_view(row: asyncpg.Record) -> dict[str, Any]:
    return dict(row)


def streak_view(streak: streak_rules.Streak, today: date) -> dict[str, Any]:
    """The streak as `GET /api/streaks/me` shows it; `current_streak` is 0 once a day was missed."""
    return {
        "current_streak": streak_rules.current_as_of(streak, today),
        "longest_streak": streak.longest,
        "last_activity_date": streak.last_activity_date,
        "last_streak_reset": streak.last_streak_reset,
    }


def _streak_of(row: asyncpg.Record | None) -> streak_rules.Streak:
    if row is None:
        return streak_rules.Streak()
    return streak_rules.Streak(row["current_streak"], row["longest_streak"], row["last_activity_date"],
                               row["last_streak_reset"])


def _attempt_result(progress_row: asyncpg.Record, xp_awarded: int, total_xp: int, level: int, level_up: bool,
                    streak: dict[str, Any], unlocked: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "progress": progress_view(progress_row), "xp_awarded": xp_awarded, "total_xp": total_xp, "level": level,
        "next_level_xp": level_rules.xp_to_reach(level + 1), "level_up": level_up, "streak": streak,
        "achievements_unlocked": unlocked,
    }


def _today(services: Services) -> date:
    return period_rules.utc_datetime(services.clock()).date()


# ---------------------------------------------------------------- awarding


@dataclass
class _Award:
    """One first completion's running state, as the award steps go."""

    user_id: UUID
    now: datetime
    streak_days: int
    total_xp: int = 0
    level: int = 1
    xp_awarded: int = 0

    @property
    def channel(self) -> str:
        return str(ChannelName.user(self.user_id))


async def _grant_xp(conn: asyncpg.Connection, award: _Award, amount: int, lessons_completed: int,
                    source: Literal["lesson", "achievement"], entity: dict[str, Any]) -> int:
    """Adds XP to the profile and to the user's row of every current leaderboard period; returns the
    level before this grant."""
    row = await progress.add_xp(conn, award.user_id, amount)
    award.total_xp, award.level = row["total_xp"], row["current_level"]
    award.xp_awarded += amount
    boards = period_rules.windows(award.now.date())
    await progress.add_to_leaderboards(conn, award.user_id, [w.period for w in boards], [w.start for w in boards],
                                       [w.end for w in boards], amount, lessons_completed, award.streak_days)
    if amount:
        await events.append_event(conn, award.channel, "xp.awarded", {
            "amount": amount, "source": source, "total_xp": award.total_xp, "level": award.level,
            "next_level_xp": level_rules.xp_to_reach(award.level + 1), **entity,
        })
    previous_level: int = row["previous_level"]
    return previous_level


async def _unlock_achievements(conn: asyncpg.Connection, award: _Award) -> list[dict[str, Any]]:
    """Unlocks every active achievement whose requirements hold, round after round: an achievement's
    own XP can make another one's requirements (total_xp, level) hold. Ends when a round unlocks nothing."""
    unlocked: list[dict[str, Any]] = []
    while True:
        stats = achievement_rules.LearnerStats(**dict(await progress.learner_stats(conn, award.user_id)))
        candidates = await progress.locked_achievements(conn, award.user_id)
        newly = 0
        for achievement_id in achievement_rules.due(((c["id"], c["requirements"]) for c in candidates), stats):
            row = await progress.unlock_achievement(conn, award.user_id, achievement_id, award.now,
                                                    {"stats": dataclasses.asdict(stats)})
            if row is None:
                continue
            newly += 1
            view = achievement_view(row)
            unlocked.append(view)
            await events.append_event(conn, award.channel, "achievement.unlocked", view)
            await progress.log_activity(conn, award.user_id, "achievement_gain", "achievement", achievement_id,
                                        {"code": row["code"], "xp_reward": row["xp_reward"]})
            if row["xp_reward"]:
                await _grant_xp(conn, award, row["xp_reward"], 0, "achievement",
                                {"achievement_id": achievement_id})
        if newly == 0:
            return unlocked


async def unlock_due_achievements(conn: asyncpg.Connection, user_id: UUID, now: datetime) -> list[dict[str, Any]]:
    """After a change outside lessons (attending a live session): unlock what is now due, with its XP,
    level, leaderboards and events, as a first completion would. Runs as `service_role` in the
    caller's transaction; takes the user's streak lock first like every award."""
    streak = _streak_of(await progress.lock_streak(conn, user_id))
    award = _Award(user_id, now, streak_rules.current_as_of(streak, now.date()))
    xp_row = await progress.xp_and_level(conn, user_id)
    award.total_xp, award.level = (xp_row["total_xp"], xp_row["current_level"]) if xp_row else (0, 1)
    level_before = award.level
    unlocked = await _unlock_achievements(conn, award)
    level_up = level_rules.level_change(level_before, award.level)
    if level_up is not None:
        await events.append_event(conn, award.channel, "level.up", level_up)
    if award.xp_awarded:
        for period in period_rules.PERIODS:
            await events.notify_state(conn, {"k": "leaderboard", "period": period})
    return unlocked


async def _award_first_completion(conn: asyncpg.Connection, user_id: UUID, completed: asyncpg.Record,
                                  now: datetime) -> dict[str, Any]:
    """Streak, XP, level, leaderboards, activity, achievements and their events for a first completion."""
    today = now.date()
    before = _streak_of(await progress.lock_streak(conn, user_id))
    streak = streak_rules.record_activity(before, today, now)
    if streak != before:
        await progress.save_streak(conn, user_id, streak.current, streak.longest, streak.last_activity_date,
                                   streak.last_streak_reset)
    award = _Award(user_id, now, streak.current)
    lesson_id = completed["lesson_id"]
    level_before = await _grant_xp(conn, award, completed["xp_earned"], 1, "lesson", {"lesson_id": lesson_id})
    await progress.log_activity(conn, user_id, "lesson_complete", "lesson", lesson_id, {
        "score": completed["score"], "xp_earned": completed["xp_earned"],
        "attempts_count": completed["attempts_count"],
    })
    streak_now = streak_view(streak, today)
    if streak != before:
        await events.append_event(conn, award.channel, "streak.updated", streak_now)
    unlocked = await _unlock_achievements(conn, award)
    level_up = level_rules.level_change(level_before, award.level)
    if level_up is not None:
        await events.append_event(conn, award.channel, "level.up", level_up)
    for period in period_rules.PERIODS:
        await events.notify_state(conn, {"k": "leaderboard", "period": period})
    return _attempt_result(completed, award.xp_awarded, award.total_xp, award.level, level_up is not None,
                           streak_now, unlocked)


async def _attempt(conn: asyncpg.Connection, services: Services, user: Identity, lesson_id: UUID,
                   data: AttemptIn) -> dict[str, Any]:
    user_id = user.require_user_id()
    lesson = await progress.lesson_for_attempt(conn, lesson_id)
    if lesson is None or not lesson["is_active"]:
        raise NotFound("Lesson not found")
    await require_plan(conn, user, lesson["level_id"], services.settings.free_tier_level)
    missing = await progress.uncompleted_lessons(conn, user_id, list(lesson["prerequisites"] or []))
    if missing:
        raise PrerequisitesNotMet("Complete the prerequisite lessons first",
                                  extra={"missing": [str(m) for m in missing]})
    now = period_rules.utc_datetime(services.clock())
    await set_identity(conn, SERVICE)
    row = await progress.record_attempt(conn, user_id, lesson_id, lesson["level_id"], lesson["gate_id"], data.score,
                                        timedelta(seconds=data.time_spent_seconds), now)
    if data.completed:
        completed = await progress.complete_first_time(conn, row["id"], lesson["xp_reward"], now)
        if completed is not None:
            return await _award_first_completion(conn, user_id, completed, now)
    xp_row = await progress.xp_and_level(conn, user_id)
    total_xp, level = (xp_row["total_xp"], xp_row["current_level"]) if xp_row else (0, 1)
    streak = streak_view(_streak_of(await progress.streak(conn, user_id)), now.date())
    return _attempt_result(row, 0, total_xp, level, False, streak, [])


@post("/api/lessons/{lesson_id:uuid}/attempts", tags=["progress"])
async def record_attempt(lesson_id: FromPath[UUID], data: JSONBody[AttemptIn], user: Caller, services: AppServices,
                         idempotency_key: IdempotencyKey) -> Response[Any]:
    """Records one attempt → 201 `{progress, xp_awarded, total_xp, level, next_level_xp, level_up, streak,
    achievements_unlocked}`. Only the first completion awards anything (`xp_awarded` counts the lesson's
    XP plus that of achievements it unlocked); repeats and uncompleted attempts only count the attempt.
    404 for a missing or inactive lesson, 402 `plan_required`, 409 `prerequisites_not_met` with
    `missing` (the prerequisite lesson ids not completed yet). A retry with the same `Idempotency-Key`
    returns the first answer and counts nothing."""

    async def attempt(conn: asyncpg.Connection) -> dict[str, Any]:
        return await _attempt(conn, services, user, lesson_id, data)

    return await create_once(services.db, user, idempotency_key, f"POST /api/lessons/{lesson_id}/attempts", data,
                             attempt)


# ---------------------------------------------------------------- own reads


@get("/api/progress/me", tags=["progress"])
async def my_progress(user: Caller, services: AppServices, cursor: CursorQuery = None,
                      limit: FromQuery[int | None] = None) -> Page[dict[str, Any]]:
    """Own progress rows, by level and gate."""
    size = check_limit(limit)
    after = cursor_key(cursor, tuple[Int4, Int4])
    async with services.db.transaction(user) as conn:
        rows = await progress.progress_page(conn, user.require_user_id(), after, size + 1)
    return page_of([progress_view(row) for row in rows], size, lambda r: [r["level_id"], r["gate_id"]])


@get("/api/stats/me", tags=["progress"])
async def my_stats(user: Caller, services: AppServices) -> dict[str, Any]:
    """The caller's row of `user_learning_stats` (zeros before the first completion)."""
    user_id = user.require_user_id()
    async with services.db.transaction(user) as conn:
        row = await progress.learning_stats(conn, user_id)
    if row is None:
        return {"user_id": user_id, "completed_lessons": 0, "total_xp": 0, "last_activity": None}
    return dict(row)


@get("/api/achievements", tags=["progress"], security=[])
async def achievement_catalogue(caller: Caller, services: AppServices, cursor: CursorQuery = None,
                                limit: FromQuery[int | None] = None) -> Page[dict[str, Any]]:
    """Active achievements with their `requirements`, by code."""
    size = check_limit(limit)
    after = cursor_key(cursor, tuple[CursorText])
    async with services.db.transaction(caller) as conn:
        rows = await progress.achievement_catalogue(conn, after[0] if after else None, size + 1)
    return page_of([dict(row) for row in rows], size, lambda r: [r["code"]])


@get("/api/achievements/me", tags=["progress"])
async def my_achievements(user: Caller, services: AppServices, cursor: CursorQuery = None,
                          limit: FromQuery[int | None] = None) -> Page[dict[str, Any]]:
    """Own unlocked achievements with `progress_value` and `unlocked_at`, newest first."""
    size = check_limit(limit)
    after = cursor_key(cursor, tuple[Aware, UUID])
    async with services.db.transaction(user) as conn:
        rows = await progress.my_achievements(conn, user.require_user_id(), after, size + 1)
    return page_of([achievement_view(row) for row in rows], size,
                   lambda r: [r["unlocked_at"].isoformat(), str(r["id"])])


@get("/api/streaks/me", tags=["progress"])
async def my_streak(user: Caller, services: AppServices) -> dict[str, Any]:
    async with services.db.transaction(user) as conn:
        row = await progress.streak(conn, user.require_user_id())
    return streak_view(_streak_of(row), _today(services))


@get("/api/activity/me", tags=["progress"])
async def my_activity(user: Caller, services: AppServices, cursor: CursorQuery = None,
                      limit: FromQuery[int | None] = None) -> Page[dict[str, Any]]:
    """Own activity log, newest first; the cursor is stable while new entries are written."""
    size = check_limit(limit)
    after = cursor_key(cursor, tuple[Aware, UUID])
    async with services.db.transaction(user) as conn:
        rows = await progress.activity_page(conn, user.require_user_id(), after, size + 1)
    return page_of([dict(row) for row in rows], size, lambda r: [r["created_at"].isoformat(), str(r["id"])])


ROUTES = [record_attempt, my_progress, my_stats, achievement_catalogue, my_achievements, my_streak, my_activity]
