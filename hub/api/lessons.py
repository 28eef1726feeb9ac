"""Lessons: the public catalogue, the plan-gated lesson content and the admin's edits.

The list (and `GET /api/lessons/popular`) never carries `content_data` / `assessment_data`: it is the
same for everyone. `GET /api/lessons/{id}` is the lesson *with* its content, so it answers 402
`plan_required` when the caller's plan (anonymous callers: the free tier) does not reach the lesson's
level; admins always get it. Only admins see the assessment's answers and explanations (learners see each
question's `kind` instead). The content is read through the schema's `public.lesson_with_content`, which
applies the same rule to plain SQL. `content_data` is free-form JSON; `assessment_data` must have the
documented shape (`hub.rules.grading`), since attempts are graded against it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

import asyncpg
import msgspec
from litestar import Response, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from hub.auth import AppServices, Caller, require_admin
from hub.domain.lessons import (
    JsonContent,
    LessonSummary,
    LessonView,
    PopularLesson,
    lesson_summary,
    lesson_view,
    popular_lesson,
)
from hub.errors import LessonExists, LessonInUse, NotFound, ValidationFailed
from hub.idempotency import IdempotencyKey, create_once
from hub.pagination import CursorQuery, Int4, Page, check_limit, cursor_key, page_of
from hub.rules import grading
from persistence import lessons
from persistence.db import set_identity
from persistence.identity import SERVICE

# PostgreSQL text and jsonb cannot hold NUL: refusing it here keeps it a 422 instead of a database error.
NO_NUL = r"^[^\x00]*$"

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=NO_NUL)]
Text = Annotated[str, msgspec.Meta(max_length=5000, pattern=NO_NUL)]
LevelNumber = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
XpReward = Annotated[int, msgspec.Meta(ge=0, le=100_000)]
OrderIndex = Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]
ContentType = Annotated[str, msgspec.Meta(min_length=1, max_length=50, pattern=NO_NUL)]
Difficulty = Literal["beginner", "intermediate", "advanced"]
Prerequisites = Annotated[list[UUID], msgspec.Meta(max_length=50)]


class LessonIn(msgspec.Struct, forbid_unknown_fields=True):
    level_id: LevelNumber
    gate_id: LevelNumber
    title: Title
    content_data: JsonContent
    subtitle: Title | None = None
    description: Text | None = None
    content_type: ContentType = "interactive"
    assessment_data: JsonContent | None = None
    xp_reward: XpReward = 0
    estimated_time: timedelta | None = None
    difficulty: Difficulty = "intermediate"
    prerequisites: Prerequisites | None = None
    is_active: bool = True
    order_index: OrderIndex = 0


class LessonPatch(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Only the fields present are changed."""

    level_id: LevelNumber | msgspec.UnsetType = msgspec.UNSET
    gate_id: LevelNumber | msgspec.UnsetType = msgspec.UNSET
    title: Title | msgspec.UnsetType = msgspec.UNSET
    content_data: JsonContent | msgspec.UnsetType = msgspec.UNSET
    subtitle: Title | msgspec.UnsetType | None = msgspec.UNSET
    description: Text | msgspec.UnsetType | None = msgspec.UNSET
    content_type: ContentType | msgspec.UnsetType = msgspec.UNSET
    assessment_data: JsonContent | msgspec.UnsetType | None = msgspec.UNSET
    xp_reward: XpReward | msgspec.UnsetType = msgspec.UNSET
    estimated_time: timedelta | msgspec.UnsetType | None = msgspec.UNSET
    difficulty: Difficulty | msgspec.UnsetType = msgspec.UNSET
    prerequisites: Prerequisites | msgspec.UnsetType | None = msgspec.UNSET
    is_active: bool | msgspec.UnsetType = msgspec.UNSET
    order_index: OrderIndex | msgspec.UnsetType = msgspec.UNSET


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _check_lesson(data: LessonIn | LessonPatch, lesson_id: UUID | None = None) -> None:
    errors: dict[str, str] = {}
    estimated_time = data.estimated_time
    prerequisites = data.prerequisites if isinstance(data.prerequisites, list) else None
    for name in ("content_data", "assessment_data"):
        if _has_nul(getattr(data, name)):
            errors[name] = "must not contain NUL characters"
    assessment = data.assessment_data
    if "assessment_data" not in errors and not isinstance(assessment, msgspec.UnsetType) \
            and (problem := grading.assessment_errors(assessment)):
        errors["assessment_data"] = problem
    if isinstance(estimated_time, timedelta) and estimated_time < timedelta(0):
        errors["estimated_time"] = "must not be negative"
    if prerequisites and lesson_id in prerequisites:
        errors["prerequisites"] = "a lesson cannot require itself"
    if errors:
        raise ValidationFailed(errors)


async def _check_prerequisites_exist(conn: asyncpg.Connection, prerequisites: list[UUID] | None) -> None:
    if not prerequisites:
        return
    unknown = await lessons.unknown_lessons(conn, prerequisites)
    if unknown:
        raise ValidationFailed({"prerequisites": "unknown lesson ids: " + ", ".join(map(str, unknown))})


@get("/api/lessons", tags=["lessons"], security=[])
async def list_lessons(caller: Caller, services: AppServices,
                       level_id: Annotated[int | None, QueryParameter(ge=1, le=1_000_000)] = None,
                       include_inactive: FromQuery[bool] = False, cursor: CursorQuery = None,
                       limit: FromQuery[int | None] = None) -> Page[LessonSummary]:
    """Active lessons (admins with `include_inactive=true`: all), without content, ordered by level,
    gate, order_index, id."""
    size = check_limit(limit)
    after = cursor_key(cursor, tuple[Int4, Int4, Int4, UUID])
    async with services.db.transaction(caller) as conn:
        rows = await lessons.lesson_page(conn, level_id=level_id, include_inactive=include_inactive and caller.is_admin,
                                         after=after, limit=size + 1)
    return page_of([lesson_summary(row) for row in rows], size,
                   lambda r: [r.level_id, r.gate_id, r.order_index, str(r.id)])


@get("/api/lessons/popular", tags=["lessons"], security=[])
async def popular_lessons(caller: Caller, services: AppServices, cursor: CursorQuery = None,
                          limit: FromQuery[int | None] = None) -> Page[PopularLesson]:
    """The `lesson_popularity` view: active lessons, most completed first."""
    size = check_limit(limit)
    after = cursor_key(cursor, tuple[Int4, UUID])
    async with services.db.transaction(caller) as conn:
        rows = await lessons.popular_page(conn, after=after, limit=size + 1)
    return page_of([popular_lesson(row) for row in rows], size, lambda r: [r.completions, str(r.id)])


@get("/api/lessons/{lesson_id:uuid}", tags=["lessons"], security=[])
async def get_lesson(lesson_id: FromPath[UUID], caller: Caller, services: AppServices) -> LessonView:
    """The lesson with `content_data` / `assessment_data` (its questions, without answers or explanations
    but with their `kind`, unless the caller is an admin): 402 `plan_required` when the caller's plan does
    not reach its level (the content-free view is in the list for everyone)."""
    async with services.db.transaction(caller) as conn:
        row = await lessons.lesson(conn, lesson_id)
    if row is None:
        raise NotFound("Lesson not found")
    return lesson_view(row)


@post("/api/lessons", tags=["lessons"])
async def create_lesson(data: JSONBody[LessonIn], user: Caller, services: AppServices,
                        idempotency_key: IdempotencyKey) -> Response[LessonView]:
    """Admins only. 409 `lesson_exists` when another lesson has this (level_id, gate_id); 422 when a
    prerequisite names no lesson."""
    require_admin(user)
    _check_lesson(data)

    async def create(conn: asyncpg.Connection) -> LessonView:
        await _check_prerequisites_exist(conn, data.prerequisites)
        lesson_id = await lessons.create_lesson(
            conn, level_id=data.level_id, gate_id=data.gate_id, title=data.title, subtitle=data.subtitle,
            description=data.description, content_type=data.content_type, content_data=data.content_data,
            assessment_data=data.assessment_data, xp_reward=data.xp_reward, estimated_time=data.estimated_time,
            difficulty=data.difficulty, prerequisites=data.prerequisites, is_active=data.is_active,
            order_index=data.order_index, created_by=user.require_user_id(),
        )
        if lesson_id is None:
            raise LessonExists(f"Level {data.level_id}, gate {data.gate_id} already has a lesson")
        row = await lessons.lesson(conn, lesson_id)
        assert row is not None  # inserted by this admin's transaction
        return lesson_view(row)

    return await create_once(services.db, user, idempotency_key, "POST /api/lessons", data, create)


@patch("/api/lessons/{lesson_id:uuid}", tags=["lessons"])
async def edit_lesson(lesson_id: FromPath[UUID], data: JSONBody[LessonPatch], user: Caller,
                      services: AppServices) -> LessonView:
    """Admins only; same validation as creation."""
    require_admin(user)
    _check_lesson(data, lesson_id)
    async with services.db.transaction(user) as conn:
        await _check_prerequisites_exist(conn, data.prerequisites if isinstance(data.prerequisites, list) else None)
        if not await lessons.lock_lesson(conn, lesson_id):
            raise NotFound("Lesson not found")
        # The admin cannot read the content columns back as themself (column grants): the edit itself
        # runs as service_role, after the lock proved the caller an admin to the schema's policy.
        await set_identity(conn, SERVICE)
        try:
            row = await lessons.patch_lesson(conn, lesson_id, msgspec.to_builtins(data))
        except asyncpg.UniqueViolationError:
            raise LessonExists("Another lesson already uses this level and gate") from None
    if row is None:
        raise NotFound("Lesson not found")
    return lesson_view(row)


@delete("/api/lessons/{lesson_id:uuid}", tags=["lessons"], status_code=204)
async def delete_lesson(lesson_id: FromPath[UUID], user: Caller, services: AppServices) -> None:
    """Admins only. 409 `lesson_in_use` once learners have progress on it (deactivate it instead)."""
    require_admin(user)
    async with services.db.transaction(user) as conn:
        try:
            deleted = await lessons.delete_lesson(conn, lesson_id)
        except asyncpg.ForeignKeyViolationError:
            raise LessonInUse() from None
    if not deleted:
        raise NotFound("Lesson not found")


ROUTES = [list_lessons, popular_lessons, get_lesson, create_lesson, edit_lesson, delete_lesson]
