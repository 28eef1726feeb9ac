"""Who may register for a session: the plan rule first, then the level and lesson prerequisites.

The plan is checked first because it is the harder block (a 402 tells the user to upgrade; levelling
up or finishing lessons would not help while the plan stops short of the session's level).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from hub.errors import PlanRequired, PrerequisitesNotMet


def min_level(prerequisites: dict[str, Any] | None) -> int | None:
    value = (prerequisites or {}).get("min_level")
    return value if isinstance(value, int) else None


def required_lessons(prerequisites: dict[str, Any] | None) -> list[str]:
    value = (prerequisites or {}).get("required_lessons")
    return [str(lesson) for lesson in value] if isinstance(value, list) else []


def require_met(prerequisites: dict[str, Any] | None, *, plan_limit: int, current_level: int,
                completed_lessons: Collection[str]) -> None:
    """`PlanRequired` when the plan's `level_access_limit` is below `min_level`; otherwise
    `PrerequisitesNotMet` whose `missing` holds the unmet part of `prerequisites` (same keys)."""
    level = min_level(prerequisites)
    if level is not None and plan_limit < level:
        raise PlanRequired(f"the session needs level {level}; your plan reaches level {plan_limit}",
                           extra={"required_level": level, "level_access_limit": plan_limit})
    missing: dict[str, Any] = {}
    if level is not None and current_level < level:
        missing["min_level"] = level
    lessons = [lesson for lesson in required_lessons(prerequisites) if lesson not in completed_lessons]
    if lessons:
        missing["required_lessons"] = lessons
    if missing:
        raise PrerequisitesNotMet(extra={"missing": missing, "current_level": current_level})
