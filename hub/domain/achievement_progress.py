"""`GET /api/achievements/me`: every active achievement as its learner sees it, unlocked ones first
(newest first, as unlocked) then the locked ones by code, each with how far the learner is.

The progress of a locked achievement is computed from the learner's real stats, the same stats (and the
same service_role reads) the award engine decides unlocks with, except the streak: a streak that missed a
local day already counts 0 here, as `GET /api/streaks/me` shows it. One page may hold the end of the
unlocked part and the start of the locked part; the cursor says which part it continues.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from hub.domain.progress import AchievementBase, local_today, streak_of
from hub.errors import ValidationFailed
from hub.pagination import Aware, CursorText, Int4, Page, page_of
from hub.rules import achievements as achievement_rules
from hub.rules import streak as streak_rules
from persistence import progress
from persistence.db import set_identity
from persistence.identity import SERVICE

# [part, key, id]: part 0 = unlocked, keyed (unlocked_at ISO text, id); part 1 = locked, keyed (code, id).
CursorKey = tuple[Int4, CursorText, UUID]
_UNLOCKED, _LOCKED = 0, 1


class RequirementProgress(msgspec.Struct):
    """One threshold of the achievement's `requirements`: the learner's `value` of `stat` towards `target`."""

    stat: str
    value: int
    target: int


class MyAchievement(AchievementBase):
    """`progress_value` of `target` on the threshold furthest from holding ("3 of 5 lessons"; a met one
    reads `target of target`); `requirements` lists every threshold. `target` is null and `requirements`
    empty for an achievement whose requirements can never hold. `unlocked_at` is null while locked; an
    unlocked achievement keeps the `progress_value` stored when it unlocked."""

    unlocked: bool
    unlocked_at: datetime | None
    progress_value: int
    target: int | None
    requirements: list[RequirementProgress]


async def _stats(conn: asyncpg.Connection, user_id: UUID, now: datetime) -> achievement_rules.LearnerStats:
    await set_identity(conn, SERVICE)
    stats = achievement_rules.LearnerStats(**dict(await progress.learner_stats(conn, user_id)))
    streak_row = await progress.streak(conn, user_id)
    return replace(stats, streak_days=streak_rules.current_as_of(streak_of(streak_row), local_today(streak_row, now)))


def _view(row: asyncpg.Record, stats: achievement_rules.LearnerStats) -> MyAchievement:
    steps = achievement_rules.progress(row["requirements"], stats)
    reached = achievement_rules.headline(steps)
    unlocked_at: datetime | None = row.get("unlocked_at")
    value = row["progress_value"] if unlocked_at is not None else (reached[0] if reached else 0)
    fields: dict[str, Any] = {k: row[k] for k in AchievementBase.__struct_fields__}
    return MyAchievement(**fields, unlocked=unlocked_at is not None, unlocked_at=unlocked_at, progress_value=value,
                         target=reached[1] if reached else None,
                         requirements=[RequirementProgress(s.key, s.value, s.target) for s in steps])


def _cursor_of(view: MyAchievement) -> list[Any]:
    if view.unlocked_at is not None:
        return [_UNLOCKED, view.unlocked_at.isoformat(), str(view.id)]
    return [_LOCKED, view.code, str(view.id)]


def _unlocked_key(after: CursorKey) -> tuple[datetime, UUID]:
    try:
        return msgspec.convert(after[1], Aware), after[2]
    except msgspec.ValidationError:
        raise ValidationFailed({"cursor": "is not a cursor this route issued"}) from None


async def my_achievements(conn: asyncpg.Connection, user_id: UUID, after: CursorKey | None, size: int, *,
                          now: datetime) -> Page[MyAchievement]:
    """One page, read as the caller (own unlocks, the active catalogue) in the caller's transaction; the
    stats are read last, as service_role."""
    if after is not None and after[0] not in (_UNLOCKED, _LOCKED):
        raise ValidationFailed({"cursor": "is not a cursor this route issued"})
    unlocked: list[asyncpg.Record] = []
    if after is None or after[0] == _UNLOCKED:
        unlocked = await progress.my_achievements(conn, user_id, _unlocked_key(after) if after else None, size + 1)
    locked: list[asyncpg.Record] = []
    if len(unlocked) <= size:
        code_after = after[1] if after is not None and after[0] == _LOCKED else None
        locked = await progress.locked_achievement_page(conn, user_id, code_after, size + 1 - len(unlocked))
    stats = await _stats(conn, user_id, now)
    return page_of([_view(row, stats) for row in [*unlocked, *locked]], size, _cursor_of)
