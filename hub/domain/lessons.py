"""Lessons as the API shows them: the catalogue entry (no content), the popular list, and the lesson with
its content, which only a plan reaching its level (or an admin) may read."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from hub.errors import PlanRequired

JsonContent = dict[str, Any] | list[Any]


class LessonSummary(msgspec.Struct):
    """A lesson in the catalogue: the same for everyone, without `content_data` / `assessment_data`."""

    id: UUID
    level_id: int
    gate_id: int
    title: str
    subtitle: str | None
    description: str | None
    content_type: str
    xp_reward: int
    estimated_time: timedelta | None
    difficulty: str
    prerequisites: list[UUID] | None
    is_active: bool
    order_index: int
    created_at: datetime
    updated_at: datetime


class LessonView(LessonSummary):
    """The lesson with its content (its assessment without answers unless the reader is an admin)."""

    content_data: JsonContent | None
    assessment_data: JsonContent | None
    created_by: UUID | None


class PopularLesson(msgspec.Struct):
    """A row of the `lesson_popularity` view."""

    id: UUID
    title: str
    completions: int
    avg_score: float | None
    popularity_rank: int


def lesson_summary(row: asyncpg.Record) -> LessonSummary:
    return LessonSummary(**dict(row))


def popular_lesson(row: asyncpg.Record) -> PopularLesson:
    return PopularLesson(**dict(row))


def lesson_view(row: asyncpg.Record) -> LessonView:
    """A `persistence.lessons.lesson` or `patch_lesson` row. A row read through `lesson_with_content`
    carries `content_allowed`: 402 unless its content is the caller's to see (the schema's function
    decides, by the same plan rule as `hub.domain.plans.require_plan`)."""
    lesson = dict(row)
    if not lesson.pop("content_allowed", True):
        raise PlanRequired(f"Level {lesson['level_id']} needs a plan that includes it")
    return LessonView(**lesson)
