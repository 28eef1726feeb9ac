"""Lessons: read as the caller (RLS shows active lessons to everyone, all lessons to admins) and
written as the admin caller (RLS and column grants allow admins only)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg


async def lesson_page(conn: asyncpg.Connection, *, level_id: int | None, include_inactive: bool,
                      after: tuple[int, int, int, UUID] | None, limit: int) -> list[asyncpg.Record]:
    """Lessons without their content, in (level_id, gate_id, order_index, id) order, after the key `after`.
    `include_inactive` only widens what RLS lets the caller see (admins)."""
    level, gate, order, lesson_id = after if after is not None else (None, None, None, None)
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT id, level_id, gate_id, title, subtitle, description, content_type, xp_reward, estimated_time,
               difficulty, prerequisites, is_active, order_index, created_at, updated_at
        FROM public.lessons
        WHERE (is_active OR $2)
          AND ($1::int IS NULL OR level_id = $1)
          AND ($3::int IS NULL OR (level_id, gate_id, order_index, id) > ($3, $4::int, $5::int, $6::uuid))
        ORDER BY level_id, gate_id, order_index, id
        LIMIT $7
        """,
        level_id, include_inactive, level, gate, order, lesson_id, limit,
    )
    return rows


async def lesson(conn: asyncpg.Connection, lesson_id: UUID) -> asyncpg.Record | None:
    """One lesson, if the caller may see it, through `public.lesson_with_content` (the caller cannot read
    the content columns): `content_data`, `assessment_data` (without answers for non-admins) and
    `created_by` are null unless `content_allowed`, i.e. the caller is an admin or their plan reaches
    the lesson's level."""
    return await conn.fetchrow(
        """
        SELECT id, level_id, gate_id, title, subtitle, description, content_type, content_data, assessment_data,
               xp_reward, estimated_time, difficulty, prerequisites, is_active, order_index, created_by,
               created_at, updated_at, content_allowed
        FROM public.lesson_with_content($1)
        """,
        lesson_id,
    )


async def lock_lesson(conn: asyncpg.Connection, lesson_id: UUID) -> bool:
    """Takes the lesson's row lock; as a user this passes only for admins (the UPDATE policy), which is
    what lets `patch_lesson` then run as `service_role`."""
    found: UUID | None = await conn.fetchval("SELECT id FROM public.lessons WHERE id = $1 FOR UPDATE", lesson_id)
    return found is not None


async def unknown_lessons(conn: asyncpg.Connection, lesson_ids: list[UUID]) -> list[UUID]:
    """The ids in `lesson_ids` that name no lesson (as the caller sees them), in the given order."""
    rows = await conn.fetch(
        """
        SELECT t.id FROM unnest($1::uuid[]) WITH ORDINALITY AS t(id, n)
        WHERE NOT EXISTS (SELECT 1 FROM public.lessons l WHERE l.id = t.id)
        ORDER BY t.n
        """,
        lesson_ids,
    )
    return [row["id"] for row in rows]


async def create_lesson(conn: asyncpg.Connection, *, level_id: int, gate_id: int, title: str,
                        subtitle: str | None, description: str | None, content_type: str, content_data: Any,
                        assessment_data: Any, xp_reward: int, estimated_time: timedelta | None,
                        difficulty: str, prerequisites: list[UUID] | None, is_active: bool, order_index: int,
                        created_by: UUID) -> UUID | None:
    """The new lesson's id, or None when (level_id, gate_id) is taken."""
    lesson_id: UUID | None = await conn.fetchval(
        """
        INSERT INTO public.lessons (level_id, gate_id, title, subtitle, description, content_type, content_data,
                                    assessment_data, xp_reward, estimated_time, difficulty, prerequisites,
                                    is_active, order_index, created_by)
        VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9, $10, $11, $12, $13, $14, $15)
        ON CONFLICT (level_id, gate_id) DO NOTHING
        RETURNING id
        """,
        level_id, gate_id, title, subtitle, description, content_type, content_data, assessment_data, xp_reward,
        estimated_time, difficulty, prerequisites, is_active, order_index, created_by,
    )
    return lesson_id


async def patch_lesson(conn: asyncpg.Connection, lesson_id: UUID, patch: dict[str, Any]) -> asyncpg.Record | None:
    """Applies only the keys present in `patch` (JSON values: durations as ISO 8601 text); absent keys
    keep their value, explicit nulls clear. Raises UniqueViolationError when (level_id, gate_id) is taken.
    Runs as `service_role` (it reads the whole row) once `lock_lesson` passed as the admin."""
    return await conn.fetchrow(
        """
        UPDATE public.lessons l
        SET (level_id, gate_id, title, subtitle, description, content_type, content_data, assessment_data,
             xp_reward, estimated_time, difficulty, prerequisites, is_active, order_index)
          = (SELECT r.level_id, r.gate_id, r.title, r.subtitle, r.description, r.content_type, r.content_data,
                    r.assessment_data, r.xp_reward, r.estimated_time, r.difficulty, r.prerequisites, r.is_active,
                    r.order_index
             FROM jsonb_populate_record(l, $2::jsonb) r)
        WHERE l.id = $1
        RETURNING id, level_id, gate_id, title, subtitle, description, content_type, content_data, assessment_data,
                  xp_reward, estimated_time, difficulty, prerequisites, is_active, order_index, created_by,
                  created_at, updated_at
        """,
        lesson_id, patch,
    )


async def delete_lesson(conn: asyncpg.Connection, lesson_id: UUID) -> bool:
    """Deletes the lesson and drops it from other lessons' prerequisites. Raises
    ForeignKeyViolationError when learners have progress on it."""
    deleted = await conn.fetchval("DELETE FROM public.lessons WHERE id = $1 RETURNING id", lesson_id)
    if deleted is None:
        return False
    await conn.execute(
        """
        UPDATE public.lessons SET prerequisites = array_remove(prerequisites, $1)
        WHERE prerequisites @> ARRAY[$1::uuid]
        """,
        lesson_id,
    )
    return True


async def popular_page(conn: asyncpg.Connection, *, after: tuple[int, UUID] | None,
                       limit: int) -> list[asyncpg.Record]:
    """The `lesson_popularity` view, most completed first, keyed on (completions desc, id)."""
    completions, lesson_id = after if after is not None else (None, None)
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT id, title, completions, avg_score::float8 AS avg_score, popularity_rank
        FROM public.lesson_popularity
        WHERE $1::bigint IS NULL OR completions < $1 OR (completions = $1 AND id > $2::uuid)
        ORDER BY completions DESC, id
        LIMIT $3
        """,
        completions, lesson_id, limit,
    )
    return rows
