"""Attempts and what they award: XP, levels, streaks, leaderboard rows, activity and achievements, with
their events on `user:<id>`, all in the caller's transaction.

First completions award, and so does anything that unlocks achievements outside lessons (a first post,
attending a live session: `unlock_due_achievements`). Every award takes the user's streak lock first,
so the awards of one user run one after the other."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

import asyncpg
import msgspec

from channels.names import ChannelName
from hub.domain.notifications import AchievementNote, notify
from hub.domain.plans import require_plan
from hub.domain.progress import (
    AchievementView,
    AttemptResult,
    QuestionResult,
    StreakView,
    XpAwarded,
    achievement_view,
    calendar_days,
    local_today,
    progress_view,
    streak_of,
    streak_view,
)
from hub.errors import NotFound, PrerequisitesNotMet, ValidationFailed
from hub.rules import achievements as achievement_rules
from hub.rules import grading
from hub.rules import level as level_rules
from hub.rules import periods as period_rules
from hub.rules import streak as streak_rules
from persistence import events, progress
from persistence.db import set_identity
from persistence.identity import SERVICE, Identity

# One reply per question: a choice's index, a list of indices (multiple answers), a number (numeric
# questions), or null (unanswered). Bounded so that no body costs more than reading it.
ChoiceIndex = Annotated[int, msgspec.Meta(ge=0, le=1000)]
Reply = (Annotated[int, msgspec.Meta(ge=-int(grading.MAX_NUMBER), le=int(grading.MAX_NUMBER))]
         | Annotated[float, msgspec.Meta(ge=-grading.MAX_NUMBER, le=grading.MAX_NUMBER)]
         | Annotated[list[ChoiceIndex], msgspec.Meta(max_length=grading.MAX_CHOICES)]
         | None)
_Replies = Annotated[list[Reply], msgspec.Meta(max_length=grading.MAX_QUESTIONS)]


class AttemptIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """`{answers, time_spent_seconds}` for a lesson with an assessment (the server grades it);
    `{score, time_spent_seconds, completed}` for one without."""

    time_spent_seconds: Annotated[int, msgspec.Meta(ge=0, le=86_400)]
    answers: _Replies | msgspec.UnsetType = msgspec.UNSET
    score: Annotated[int, msgspec.Meta(ge=0, le=100)] | msgspec.UnsetType = msgspec.UNSET
    completed: bool | msgspec.UnsetType = msgspec.UNSET


def require_exact_answers(body: Any) -> None:
    """REST converts bodies leniently ("1" would pass as 1): a reply must be exactly a JSON number, a list
    of whole numbers or null, so the raw body's `answers` are checked strictly too (422 otherwise)."""
    if isinstance(body, dict) and "answers" in body:
        try:
            msgspec.convert(body["answers"], _Replies, strict=True)
        except msgspec.ValidationError as exc:
            raise ValidationFailed({"answers": str(exc)}) from None


@dataclass
class _Award:
    """One award's running state, as the award steps go."""

    user_id: UUID
    now: datetime
    streak_days: int
    total_xp: int = 0
    level: int = 1
    xp_awarded: int = 0

    @property
    def channel(self) -> ChannelName:
        return ChannelName.user(self.user_id)


def _graded(assessment: Any, data: AttemptIn) -> grading.Graded:
    """The server's grading of a lesson with an assessment, or the client's own score and `completed`
    for one without; 422 when the body is the other lesson kind's."""
    questions = grading.questions_of(assessment)
    if questions:
        if isinstance(data.answers, msgspec.UnsetType) or not isinstance(data.score, msgspec.UnsetType) \
                or not isinstance(data.completed, msgspec.UnsetType):
            raise ValidationFailed({"answers": "this lesson is graded on the server: send `answers` (one per "
                                               "question) and `time_spent_seconds`, without `score` or `completed`"})
        if len(data.answers) != len(questions):
            raise ValidationFailed({"answers": f"expected {len(questions)} answers, one per question"})
        return grading.grade(assessment, data.answers)
    if isinstance(data.score, msgspec.UnsetType) or isinstance(data.completed, msgspec.UnsetType) \
            or not isinstance(data.answers, msgspec.UnsetType):
        raise ValidationFailed({"score": "this lesson has no assessment: send `score`, `completed` and "
                                         "`time_spent_seconds`, without `answers`"})
    return grading.Graded(data.score, data.completed, [])


def _attempt_result(graded: grading.Graded, progress_row: asyncpg.Record, xp_awarded: int, total_xp: int,
                    level: int, level_up: bool, streak: StreakView, unlocked: list[AchievementView]) -> AttemptResult:
    results = [QuestionResult(r.question, r.correct, msgspec.UNSET if r.explanation is None else r.explanation)
               for r in graded.results]
    return AttemptResult(score=graded.score, passed=graded.passed, results=results,
                         progress=progress_view(progress_row), xp_awarded=xp_awarded, total_xp=total_xp,
                         level=level, next_level_xp=level_rules.xp_to_reach(level + 1), level_up=level_up,
                         streak=streak, achievements_unlocked=unlocked)


async def _grant_xp(conn: asyncpg.Connection, award: _Award, amount: int, lessons_completed: int,
                    source: Literal["lesson", "achievement"], entity_id: UUID) -> int:
    """Adds XP for the lesson or achievement `entity_id` to the profile and to the user's row of every
    current leaderboard period; returns the level before this grant."""
    row = await progress.add_xp(conn, award.user_id, amount)
    award.total_xp, award.level = row["total_xp"], row["current_level"]
    award.xp_awarded += amount
    boards = period_rules.windows(award.now.date())
    await progress.add_to_leaderboards(conn, award.user_id, [w.period for w in boards], [w.start for w in boards],
                                       [w.end for w in boards], amount, lessons_completed, award.streak_days)
    if amount:
        await events.append_event(conn, award.channel, "xp.awarded", XpAwarded(
            amount=amount, source=source, total_xp=award.total_xp, level=award.level,
            next_level_xp=level_rules.xp_to_reach(award.level + 1),
            lesson_id=entity_id if source == "lesson" else msgspec.UNSET,
            achievement_id=entity_id if source == "achievement" else msgspec.UNSET))
    previous_level: int = row["previous_level"]
    return previous_level


async def _unlock_achievements(conn: asyncpg.Connection, award: _Award) -> list[AchievementView]:
    """Unlocks every active achievement whose requirements hold, round after round: an achievement's
    own XP can make another one's requirements (total_xp, level) hold. Ends when a round unlocks nothing."""
    unlocked: list[AchievementView] = []
    while True:
        stats = achievement_rules.LearnerStats(**dict(await progress.learner_stats(conn, award.user_id)))
        candidates = await progress.locked_achievements(conn, award.user_id)
        newly = 0
        for candidate in achievement_rules.due(((c, c["requirements"]) for c in candidates), stats):
            achievement_id = candidate["id"]
            reached = achievement_rules.headline(achievement_rules.progress(candidate["requirements"], stats))
            row = await progress.unlock_achievement(conn, award.user_id, achievement_id, award.now,
                                                    {"stats": dataclasses.asdict(stats)},
                                                    reached[0] if reached else 0)
            if row is None:
                continue
            newly += 1
            view = achievement_view(row)
            unlocked.append(view)
            await events.append_event(conn, award.channel, "achievement.unlocked", view)
            await notify(conn, award.user_id, "achievement.unlocked", AchievementNote(
                achievement_id=view.id, code=view.code, title=view.title, xp_reward=view.xp_reward))
            await progress.log_activity(conn, award.user_id, "achievement_gain", "achievement", achievement_id,
                                        {"code": row["code"], "xp_reward": row["xp_reward"]})
            if row["xp_reward"]:
                await _grant_xp(conn, award, row["xp_reward"], 0, "achievement", achievement_id)
        if newly == 0:
            return unlocked


async def unlock_due_achievements(conn: asyncpg.Connection, user_id: UUID,
                                  now: datetime) -> list[AchievementView]:
    """After a change outside lessons (a post, attending a live session): unlock what is now due, with its
    XP, level, leaderboards and events, as a first completion would. Runs as `service_role` in the
    caller's transaction; takes the user's streak lock first like every award."""
    locked = await progress.lock_streak(conn, user_id)
    award = _Award(user_id, now, streak_rules.current_as_of(streak_of(locked), local_today(locked, now)))
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
                                  now: datetime, graded: grading.Graded) -> AttemptResult:
    """Streak, XP, level, leaderboards, activity, achievements and their events for a first completion.
    The streak's day is the learner's local day of `now`."""
    locked = await progress.lock_streak(conn, user_id)
    today = local_today(locked, now)
    before = streak_of(locked)
    streak = streak_rules.record_activity(before, today, now)
    await progress.save_streak(conn, user_id, streak.current, streak.longest, streak.last_activity_date,
                               streak.last_streak_reset, streak_rules.record_day(calendar_days(locked), today))
    award = _Award(user_id, now, streak.current)
    lesson_id = completed["lesson_id"]
    level_before = await _grant_xp(conn, award, completed["xp_earned"], 1, "lesson", lesson_id)
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
    return _attempt_result(graded, completed, award.xp_awarded, award.total_xp, award.level, level_up is not None,
                           streak_now, unlocked)


async def record_attempt(conn: asyncpg.Connection, user: Identity, lesson_id: UUID, data: AttemptIn, *,
                         now: datetime, free_tier_level: int) -> AttemptResult:
    """Counts one attempt and awards a first completion. 404 for a missing or inactive lesson, 402 below
    the lesson's plan, 409 `prerequisites_not_met` with the missing lesson ids."""
    user_id = user.require_user_id()
    lesson = await progress.lesson_for_attempt(conn, lesson_id)
    if lesson is None or not lesson["is_active"]:
        raise NotFound("Lesson not found")
    await require_plan(conn, user, lesson["level_id"], free_tier_level)
    missing = await progress.uncompleted_lessons(conn, user_id, list(lesson["prerequisites"] or []))
    if missing:
        raise PrerequisitesNotMet("Complete the prerequisite lessons first",
                                  extra={"missing": [str(m) for m in missing]})
    await set_identity(conn, SERVICE)
    graded = _graded(await progress.answer_key(conn, lesson_id), data)
    row = await progress.record_attempt(conn, user_id, lesson_id, lesson["level_id"], lesson["gate_id"],
                                        graded.score, timedelta(seconds=data.time_spent_seconds), now)
    if graded.passed:
        completed = await progress.complete_first_time(conn, row["id"], lesson["xp_reward"], now)
        if completed is not None:
            return await _award_first_completion(conn, user_id, completed, now, graded)
    xp_row = await progress.xp_and_level(conn, user_id)
    total_xp, level = (xp_row["total_xp"], xp_row["current_level"]) if xp_row else (0, 1)
    streak_row = await progress.streak(conn, user_id)
    streak = streak_view(streak_of(streak_row), local_today(streak_row, now))
    return _attempt_result(graded, row, 0, total_xp, level, False, streak, [])
